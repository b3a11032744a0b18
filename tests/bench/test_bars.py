"""Judging finpy against the design bars with figures from the same run."""

from __future__ import annotations

from collections.abc import Callable

from finpy.bench.bars import BarCheck, evaluate
from finpy.bench.histogram import LatencyRecorder
from finpy.bench.result import OverheadFigures, OverheadResult, RunResult
from finpy.bench.scenarios import build

MakeRun = Callable[..., RunResult]


def verdicts(checks: list[BarCheck], scenario: str) -> dict[str, bool | None]:
    return {c.bar: c.met for c in checks if c.scenario == scenario}


def test_slow_replica_bars_compare_with_healthy_and_round_robin(make_run: MakeRun) -> None:
    """p99 must be <= 3x finpy's healthy p99 and <= 1/5 of round_robin's, same run."""
    runs = [
        make_run("healthy", "finpy", p99=0.004),
        make_run("slow-replica", "plain", p99=0.065),
        make_run("slow-replica", "finpy", p99=0.011),
    ]
    v = verdicts(evaluate(runs), "slow-replica")
    assert v == {
        "success >= 99.9%": True,
        "p99 <= 3x healthy p99": True,  # 11 <= 12
        "p99 <= 1/5 of round_robin's": True,  # 11 <= 13
    }
    runs[2] = make_run("slow-replica", "finpy", p99=0.013, ok=998)
    v = verdicts(evaluate(runs), "slow-replica")
    assert v == {
        "success >= 99.9%": False,
        "p99 <= 3x healthy p99": False,
        "p99 <= 1/5 of round_robin's": True,
    }


def test_bars_without_their_reference_are_not_judged(make_run: MakeRun) -> None:
    """Without the healthy run or the round_robin peer a relative bar says why it is not judged."""
    checks = evaluate([make_run("slow-replica", "finpy", p99=0.011)])
    missing = {c.bar: c.why for c in checks if c.met is None}
    assert missing == {
        "p99 <= 3x healthy p99": "the healthy scenario was not run",
        "p99 <= 1/5 of round_robin's": "the plain round_robin peer was not run",
    }
    assert all(c.verdict == "not judged" for c in checks if c.met is None)


def test_only_finpy_is_judged(make_run: MakeRun) -> None:
    """Peers' figures are references, never judged themselves."""
    assert evaluate([make_run("failing-replica", "plain", ok=800)]) == []


def test_failing_replica_bounds_extra_attempts(make_run: MakeRun) -> None:
    """attempts/request above 1.05 fails the bar even at 100% success."""
    ok = make_run("failing-replica", "finpy", attempts=1050)
    too_many = make_run("failing-replica", "finpy", attempts=1051)
    assert verdicts(evaluate([ok]), "failing-replica")["attempts/request <= 1.05"] is True
    assert verdicts(evaluate([too_many]), "failing-replica")["attempts/request <= 1.05"] is False


def test_outage_wants_a_budget_and_fast_failures(make_run: MakeRun) -> None:
    """In an outage attempts/request <= 1.25 and failed calls end within 10% of the deadline."""
    good = make_run("outage", "finpy", ok=0, attempts=1200, failed_p99=0.05)
    bad = make_run("outage", "finpy", ok=0, attempts=3000, failed_p99=0.5)
    assert set(verdicts(evaluate([good]), "outage").values()) == {True}
    assert set(verdicts(evaluate([bad]), "outage").values()) == {False}


def test_overload_bars_use_the_declared_capacity_and_service_time(make_run: MakeRun) -> None:
    """Goodput is judged against capacity_rps; the base latency is service time + healthy p99."""
    scenarios = {"overload": build("overload")}  # 50 ms service time, 200 calls/s capacity
    healthy = make_run("healthy", "finpy", p99=0.004)
    run = make_run(
        "overload",
        "finpy",
        planned=300,
        ok=200,
        rate=300,
        attempts=320,
        failed_p99=0.003,
        capacity_rps=200,
    )
    v = verdicts(evaluate([healthy, run], scenarios=scenarios), "overload")
    assert v["goodput >= 95% of capacity"] is True  # 200 ok in 1 s of schedule
    assert v["attempts/request <= 1.1"] is True
    assert v["refused calls fail fast (failed p99 <= 5 ms)"] is True
    assert v["successful p99 <= 1.5x base"] is True  # 1 ms <= 1.5 x 54 ms
    starved = make_run("overload", "finpy", planned=300, ok=150, rate=300, capacity_rps=200)
    assert not verdicts(evaluate([starved], scenarios=scenarios), "overload")[
        "goodput >= 95% of capacity"
    ]


def test_discovery_outage_tolerates_no_failure(make_run: MakeRun) -> None:
    """One failed request during a discovery outage fails the bar."""
    assert verdicts(evaluate([make_run("discovery-outage", "finpy")]), "discovery-outage") == {
        "0 failed requests": True
    }
    one = make_run("discovery-outage", "finpy", ok=999)
    assert verdicts(evaluate([one]), "discovery-outage") == {"0 failed requests": False}


def test_rolling_restart_and_down_replica_success_bars(make_run: MakeRun) -> None:
    """Rolling restart needs 99.95% success; a down replica needs 100% and p99 <= 1.5x healthy."""
    runs = [
        make_run("healthy", "finpy", p99=0.004),
        make_run("rolling-restart", "finpy", planned=2000, ok=1999),
        make_run("down-replica", "finpy", p99=0.007),
    ]
    checks = evaluate(runs)
    assert verdicts(checks, "rolling-restart") == {"success >= 99.95%": True}
    assert verdicts(checks, "down-replica") == {
        "100% success": True,
        "p99 <= 1.5x healthy p99": False,
    }


def overhead(cpu: dict[tuple[str, int], float], p50: dict[str, float]) -> OverheadResult:
    figures = tuple(
        OverheadFigures(
            client,
            level,
            calls=1000,
            cpu_seconds=seconds,
            wall_seconds=1.0,
            latency=LatencyRecorder([p50[client]]).statistics(),
        )
        for (client, level), seconds in cpu.items()
    )
    return OverheadResult(figures)


def test_overhead_bars_take_the_worst_level_and_the_added_p50() -> None:
    """CPU per call is judged at its worst concurrency level; added p50 at concurrency 1."""
    result = overhead(
        {("plain", 1): 0.4, ("finpy", 1): 0.44, ("plain", 32): 0.3, ("finpy", 32): 0.36},
        {"plain": 0.001, "finpy": 0.001020},
    )
    v = verdicts(evaluate([], result), "overhead")
    assert v == {
        "client CPU per call <= 1.15x plain grpc.aio": False,  # 1.2x at concurrency 32
        "added p50 latency at concurrency 1 <= 30 us": True,  # 20 us
    }
    check = next(c for c in evaluate([], result) if c.metric == "cpu")
    assert check.value == "1.200" and "worst level" in check.target


def test_bar_checks_serialise_with_their_verdict(make_run: MakeRun) -> None:
    """The JSON form of a bar carries figure, target, verdict and the metric it marks."""
    (check,) = evaluate([make_run("rolling-restart", "finpy")])
    assert check.to_json() == {
        "type": "bar",
        "scenario": "rolling-restart",
        "bar": "success >= 99.95%",
        "value": "100.00%",
        "target": ">= 99.95%",
        "met": True,
        "verdict": "met",
        "why": "",
        "metric": "success",
    }


def test_bars_resting_on_a_busy_run_are_not_judged(make_run: MakeRun) -> None:
    """When the generator fell behind, the figures describe the machine: no verdict, a reason."""
    healthy = make_run("healthy", "finpy", p99=0.004)
    plain = make_run("slow-replica", "plain", p99=0.065)
    busy_finpy = make_run("slow-replica", "finpy", p99=0.2, lag=0.09, others=1.2)
    checks = [c for c in evaluate([healthy, plain, busy_finpy]) if c.scenario == "slow-replica"]
    assert {c.met for c in checks} == {None}
    assert all(
        "other processes used 1.2 CPU cores and requests fired up to 90 ms late" in c.why
        for c in checks
    )
    busy_plain = make_run("slow-replica", "plain", p99=0.065, lag=0.02, others=0.8)
    finpy = make_run("slow-replica", "finpy", p99=0.003)
    v = {c.bar: (c.met, c.why) for c in evaluate([healthy, busy_plain, finpy])}
    assert v["success >= 99.9%"] == (True, "")
    assert v["p99 <= 3x healthy p99"] == (True, "")
    met, why = v["p99 <= 1/5 of round_robin's"]
    assert met is None and "during the plain run" in why


def test_a_late_generator_on_a_quiet_machine_is_the_clients_own_result(make_run: MakeRun) -> None:
    """If nothing else used the CPU, lateness is the client's cost and the bars are judged."""
    healthy = make_run("healthy", "finpy", p99=0.004)
    saturated = make_run("slow-replica", "finpy", p99=0.2, lag=0.09, others=0.05)
    unknown = make_run("failing-replica", "finpy", lag=0.09)  # no /proc: no evidence
    assert not saturated.busy and saturated.late and not unknown.busy
    v = verdicts(evaluate([healthy, saturated, unknown]), "slow-replica")
    assert v["p99 <= 3x healthy p99"] is False
    assert verdicts(evaluate([unknown]), "failing-replica")["success >= 99.9%"] is True
