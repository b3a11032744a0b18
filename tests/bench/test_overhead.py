"""The overhead scenario and examples/overhead.py: client CPU per call, finpy vs plain."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

import finpy
from finpy.bench.overhead import measure_overhead

EXAMPLE = Path(__file__).parent.parent.parent / "examples" / "overhead.py"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("overhead_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_example_measures_both_clients_at_every_level(capsys: pytest.CaptureFixture[str]) -> None:
    """main() with small counts measures plain and finpy against a server in another process."""
    result = load_example().main(calls=40, concurrencies=(1, 4))
    assert [(f.client, f.concurrency) for f in result.figures] == [
        ("plain", 1),
        ("finpy", 1),
        ("plain", 4),
        ("finpy", 4),
    ]
    for f in result.figures:
        assert f.calls == 40 and f.errors == 0 and f.latency.count == 40
        assert f.cpu_seconds > 0 and f.cpu_us_per_call > 0 and f.calls_per_second > 0
    out = capsys.readouterr().out
    assert "finpy uses" in out and "the client CPU of plain grpc.aio" in out
    assert set(result.config) == {"plain", "finpy"}


async def test_bad_arguments_are_named() -> None:
    """Calls, levels and client names are checked before anything starts."""
    with pytest.raises(finpy.ConfigurationError, match="calls"):
        await measure_overhead("127.0.0.1:1", calls=0)
    with pytest.raises(finpy.ConfigurationError, match="concurrencies"):
        await measure_overhead("127.0.0.1:1", concurrencies=(0,))
    with pytest.raises(finpy.ConfigurationError, match="'envoy'"):
        await measure_overhead("127.0.0.1:1", clients=("envoy",))
