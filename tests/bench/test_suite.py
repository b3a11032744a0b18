"""The whole bench: busy runs are repeated once, and a report comes out of a tiny real run."""

from __future__ import annotations

from collections.abc import Callable

from finpy.bench.result import RunResult
from finpy.bench.runner import Overrides
from finpy.bench.scenarios import Scenario, build
from finpy.bench.suite import BenchOptions, _run_once_more_if_busy, run_bench

MakeRun = Callable[..., RunResult]


class ScriptedRunner:
    """Hands out prepared runs in order (the repeat decision is what is under test)."""

    def __init__(self, runs: list[RunResult]) -> None:
        self.runs = runs
        self.calls = 0

    async def run(self, scenario: Scenario, peer: str) -> RunResult:
        self.calls += 1
        return self.runs.pop(0)


async def test_a_run_on_a_busy_machine_is_repeated_once_and_the_better_kept(
    make_run: MakeRun,
) -> None:
    """Busy then calm: the calm run is kept, with a note saying the first one was busy."""
    busy = make_run("healthy", "plain", lag=0.08, others=1.0)
    calm = make_run("healthy", "plain", lag=0.001, others=1.0)
    runner = ScriptedRunner([busy, calm])
    kept = await _run_once_more_if_busy(runner, build("healthy"), "plain", None)  # type: ignore[arg-type]
    assert runner.calls == 2 and not kept.busy
    assert kept.notes == ("run twice: the first time requests fired up to 80 ms late (p99 80 ms)",)


async def test_a_calm_run_is_not_repeated_and_a_twice_busy_one_says_so(
    make_run: MakeRun,
) -> None:
    """No repeat without reason; busy twice keeps the less busy run and flags it."""
    calm = make_run("healthy", "plain")
    runner = ScriptedRunner([calm])
    assert await _run_once_more_if_busy(runner, build("healthy"), "plain", None) is calm  # type: ignore[arg-type]
    runner = ScriptedRunner(
        [
            make_run("healthy", "plain", lag=0.05, others=1.0),
            make_run("healthy", "plain", lag=0.03, others=1.0),
        ]
    )
    kept = await _run_once_more_if_busy(runner, build("healthy"), "plain", None)  # type: ignore[arg-type]
    assert kept.busy and kept.load.fire_lag.p99 == 0.03
    assert kept.notes[-1].endswith("not compared")


async def test_a_tiny_bench_judges_and_checks_what_it_ran() -> None:
    """run_bench over two scenarios returns runs, bars, peer checks and the run's metadata."""
    options = BenchOptions(
        scenarios=("healthy", "failing-replica"),
        peers=("plain", "finpy"),
        profile="quick",
        overrides=Overrides(requests=30),
        prime=False,
        command="test",
    )
    report = await run_bench(options)
    assert [(r.scenario, r.peer) for r in report.runs] == [
        ("healthy", "plain"),
        ("healthy", "finpy"),
        ("failing-replica", "plain"),
        ("failing-replica", "finpy"),
    ]
    assert {b.scenario for b in report.bars} == {"failing-replica"}
    assert {c.peer for c in report.checks} == {"plain"}
    assert report.meta["command"] == "test" and report.meta["duration_s"] > 0
    assert report.meta["cpus"] and report.meta["grpcio"]
