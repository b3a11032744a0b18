"""Runs against a real backend process: attempt accounting, warm-up, timeline, overrides."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from finpy.bench.backends import BackendProcess
from finpy.bench.runner import BenchRunner, Overrides, plan_runs
from finpy.bench.scenarios import Event, Scenario, build


@pytest.fixture
async def backends() -> AsyncIterator[BackendProcess]:
    async with BackendProcess(5) as b:
        yield b


async def test_amplification_counts_every_attempt_the_servers_received(
    backends: BackendProcess,
) -> None:
    """In an outage tenacity makes exactly 3 attempts per request, plain exactly 1."""
    runner = BenchRunner(backends, overrides=Overrides(requests=20), warm_up_calls=5)
    outage = build("outage")
    tenacity = await runner.run(outage, "tenacity")
    assert tenacity.load.sent == 20 and tenacity.load.ok == 0
    assert tenacity.attempts == 60 and tenacity.amplification == 3.0
    assert sum(tenacity.attempts_by_backend) == tenacity.attempts
    plain = await runner.run(outage, "plain")
    assert plain.attempts == 20 and plain.amplification == 1.0
    assert plain.load.statuses == {"UNAVAILABLE": 20}


async def test_warm_up_calls_are_not_counted_and_faults_start_after_it(
    backends: BackendProcess,
) -> None:
    """The warm-up runs against healthy backends; the counters start with the measured load."""
    runner = BenchRunner(backends, overrides=Overrides(requests=25), warm_up_calls=10)
    run = await runner.run(build("failing-replica"), "plain")
    assert run.attempts == 25  # not 35
    assert run.load.statuses == {"OK": 20, "UNAVAILABLE": 5}  # round_robin: 1 in 5 fails
    assert run.attempts_by_backend[0] == 5
    assert "idempotent" not in run.config and "round_robin" in run.config


async def test_timeline_events_change_the_backends_during_the_run(
    backends: BackendProcess,
) -> None:
    """A 'set' event at t makes requests scheduled after t fail, not those before it."""
    scenario = Scenario(
        "late-fault",
        "late fault",
        "every backend starts failing half way",
        rate=100,
        duration=0.4,
        events=tuple(
            Event(0.2, "set", i, {"error_code": "UNAVAILABLE", "error_probability": 1.0})
            for i in range(5)
        ),
    )
    run = await BenchRunner(backends, warm_up_calls=5).run(scenario, "plain")
    assert run.load.planned == 40
    assert 15 <= run.load.statuses.get("UNAVAILABLE", 0) <= 25
    assert run.notes == ()  # events applied on time


async def test_discovery_outage_reaches_finpy_through_its_file_resolver(
    backends: BackendProcess,
) -> None:
    """finpy follows an address file the bench breaks three ways; peers get a note instead."""
    scenario = Scenario(
        "flaky-discovery",
        "flaky discovery",
        "discovery fails mid-run",
        rate=100,
        duration=0.8,
        events=(
            Event(0.1, "discovery_unreachable"),
            Event(0.3, "discovery_malformed"),
            Event(0.5, "discovery_empty"),
            Event(0.7, "discovery_restore"),
        ),
    )
    runner = BenchRunner(backends, warm_up_calls=5)
    finpy = await runner.run(scenario, "finpy")
    assert finpy.load.ok == finpy.load.planned == 80
    assert "file resolver" in finpy.config
    (guard,) = [n for n in finpy.notes if n.startswith("discovery guard")]
    assert "1 malformed and 1 empty updates" in guard
    plain = await runner.run(scenario, "plain")
    assert plain.notes == ("discovery events do not apply: static address list",)


async def test_a_down_replica_is_down_before_the_client_starts(
    backends: BackendProcess,
) -> None:
    """faults_from_start: the refusing address is never reached, not even by the warm-up."""
    runner = BenchRunner(backends, overrides=Overrides(requests=20), warm_up_calls=5)
    run = await runner.run(build("down-replica"), "plain")
    assert run.attempts_by_backend[0] == 0 and run.load.ok == 20


def test_overrides_shorten_runs_and_drop_events_past_the_end() -> None:
    """--requests and --duration shorten a run; events after its end are dropped."""
    s = Overrides(requests=50).apply(build("rolling-restart", "full"))
    assert s.requests == 50 and all(e.at <= s.duration for e in s.events)
    s = Overrides(duration=2.0, rate=10, timeout=0.5).apply(build("rolling-restart", "full"))
    assert (s.rate, s.duration, s.timeout, s.requests) == (10, 2.0, 0.5, 20)
    assert Overrides().apply(build("healthy")) == build("healthy")
    assert Overrides(requests=5).apply(build("overhead")) == build("overhead")


def test_plans_skip_peers_a_scenario_cannot_take() -> None:
    """Discovery outage runs finpy only and reports the others as skipped."""
    plans = plan_runs([build("healthy"), build("discovery-outage")], ["plain", "finpy"])
    assert [(p.scenario.name, p.peers, p.skipped) for p in plans] == [
        ("healthy", ("plain", "finpy"), ()),
        ("discovery-outage", ("finpy",), ("plain",)),
    ]
