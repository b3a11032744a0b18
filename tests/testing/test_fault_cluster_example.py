"""examples/fault_cluster.py runs and shows the broken backend's failures."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fault_cluster.py"


def test_example_runs_and_reports_attempts_per_backend(capsys: pytest.CaptureFixture[str]) -> None:
    """main() makes calls, breaks backend-1 and prints that only backend-1's attempts failed."""
    runpy.run_path(str(EXAMPLE))["main"]()
    out = capsys.readouterr().out
    assert "healthy cluster: 0 of 30 calls failed" in out
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("  backend-")}
    assert sorted(lines) == ["backend-0", "backend-1", "backend-2"]
    assert lines["backend-0"].endswith(" 0 failed") and lines["backend-2"].endswith(" 0 failed")
    assert not lines["backend-1"].endswith(" 0 failed")
