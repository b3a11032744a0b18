"""``finpy demo``: a guided run that ends by saying, from the figures, what finpy did."""

from __future__ import annotations

import io
from collections.abc import Callable

from rich.console import Console

from finpy.bench.demo import demo_scenario, run_demo, summarize
from finpy.bench.result import RunResult

MakeRun = Callable[..., RunResult]


def test_demo_cluster_has_a_slow_and_a_failing_replica() -> None:
    """backend-0 is 60 ms slow, backend-1 fails with UNAVAILABLE, three are healthy."""
    s = demo_scenario()
    assert s.backends == 5
    assert s.initial == ({"latency": 0.06}, {"error_code": "UNAVAILABLE", "error_probability": 1.0})


def test_summary_reports_retries_ejections_and_savings(make_run: MakeRun) -> None:
    """Extra attempts, ejected endpoints, p99 saved and failures avoided come from the runs."""
    plain = make_run("demo", "plain", ok=800, p99=0.064)
    finpy = make_run("demo", "finpy", ok=1000, p99=0.008, attempts=1012)
    lines = summarize(plain, finpy, ["backend-1"])
    text = "\n".join(lines)
    assert "round_robin: 200 of 1000 requests failed (80.0% success), p99 64.0 ms." in text
    assert "finpy:       0 of 1000 requests failed (100.0% success), p99 8.0 ms." in text
    assert "finpy made 12 extra attempts" in text and "1.01 attempts per request" in text
    assert "out of rotation during the run: backend-1." in text
    assert "finpy's p99 was 56.0 ms lower" in text
    assert "Failures avoided: 200 requests" in text


def test_summary_says_so_when_finpy_did_nothing_or_did_worse(make_run: MakeRun) -> None:
    """No retries, no ejection and a worse p99 are stated as plainly as the good news."""
    plain = make_run("demo", "plain", p99=0.004)
    finpy = make_run("demo", "finpy", ok=990, p99=0.006)
    text = "\n".join(summarize(plain, finpy, []))
    assert "finpy retried nothing" in text
    assert "took no endpoint out of rotation" in text
    assert "No latency saved: finpy's p99 was 2.0 ms higher" in text
    assert "finpy failed 10 more requests than round_robin" in text


async def test_a_tiny_demo_runs_both_clients_and_explains() -> None:
    """A short demo run measures round_robin then finpy and prints the explanation."""
    out = io.StringIO()
    plain, finpy, lines = await run_demo(0.2, 100, Console(file=out, width=120))
    assert (plain.peer, finpy.peer) == ("plain", "finpy")
    assert plain.load.planned == finpy.load.planned == 20
    assert plain.load.statuses.get("UNAVAILABLE", 0) >= 3  # one in five hits backend-1
    text = out.getvalue()
    assert "What finpy did" in text and lines[0] in text
