"""Helpers of the bench tests: synthetic run results with chosen figures."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pytest

from finpy.bench.histogram import LatencyRecorder
from finpy.bench.loadgen import LoadResult
from finpy.bench.result import RunResult

MakeRun = Callable[..., RunResult]


def _run(
    scenario: str,
    peer: str,
    *,
    planned: int = 1000,
    ok: int | None = None,
    p99: float = 0.005,
    failed_p99: float = 0.002,
    attempts: int | None = None,
    by_backend: tuple[int, ...] | None = None,
    errors: Mapping[str, int] | None = None,
    capacity_rps: float | None = None,
    rate: float = 100.0,
    timeout: float = 1.0,
    lag: float = 0.0,
    others: float | None = None,
) -> RunResult:
    """A run whose every request took 1 ms except the slowest 1%, which took ``p99``.

    ``lag`` is how late the generator fired and ``others`` the CPU cores other processes
    used meanwhile (busy: lag above 5 ms and others at least 0.3).
    """
    ok = planned if ok is None else ok
    failed = planned - ok
    statuses = {"OK": ok, **(errors or ({"UNAVAILABLE": failed} if failed else {}))}
    slow = planned // 100 + 1  # so that the nearest-rank p99 is one of them
    lat = [0.001] * (planned - slow) + [p99] * slow
    ok_lat = lat[:ok] if ok else []
    fail_lat = [failed_p99] * failed
    attempts = planned if attempts is None else attempts
    load = LoadResult(
        planned=planned,
        sent=planned,
        dropped=0,
        statuses=statuses,
        latency=LatencyRecorder(lat).statistics(),
        ok_latency=LatencyRecorder(ok_lat).statistics(),
        failed_latency=LatencyRecorder(fail_lat).statistics(),
        fire_lag=LatencyRecorder([lag]).statistics(),
        elapsed=planned / rate,
    )
    return RunResult(
        scenario=scenario,
        peer=peer,
        config=f"{peer} config",
        load=load,
        attempts=attempts,
        attempts_by_backend=by_backend if by_backend is not None else (attempts,),
        rate=rate,
        duration=planned / rate,
        timeout=timeout,
        capacity_rps=capacity_rps,
        others_cpu=others,
    )


@pytest.fixture
def make_run() -> MakeRun:
    """Build a synthetic RunResult: ``make_run("healthy", "finpy", p99=0.004, ...)``."""
    return _run
