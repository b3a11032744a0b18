"""Scenario definitions: valid in both profiles, the faults the issue asks for, bad input named."""

from __future__ import annotations

import pytest

import finpy
from finpy.bench.peers import PEERS
from finpy.bench.runner import plan_runs
from finpy.bench.scenarios import PROFILES, SCENARIOS, Event, Scenario, build, canonical_name


@pytest.mark.parametrize("profile", list(PROFILES))
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_every_scenario_is_valid_in_every_profile(name: str, profile: str) -> None:
    """Each scenario builds, keeps its name, has load, and its events fit inside the run."""
    s = build(name, profile)
    assert s.name == name and s.requests >= 1
    assert all(0 <= e.at <= s.duration for e in s.events)
    assert all(e.backend is None or e.backend < s.backends for e in s.events)
    assert s.describe() and s.description


def test_the_issue_scenarios_are_all_there_in_run_order() -> None:
    """The ten scenarios of the issue exist, overhead first (it wants a quiet machine)."""
    assert list(SCENARIOS) == [
        "overhead",
        "healthy",
        "slow-replica",
        "failing-replica",
        "outage",
        "heavy-tail",
        "down-replica",
        "rolling-restart",
        "overload",
        "discovery-outage",
    ]


def test_faults_match_the_issue() -> None:
    """Slow +60 ms, failing/outage UNAVAILABLE, 3% +80 ms tail, one refusing address, 5 backends."""
    unavailable = {"error_code": "UNAVAILABLE", "error_probability": 1.0}
    assert build("slow-replica").initial == ({"latency": 0.06},)
    assert build("failing-replica").initial == (unavailable,)
    assert build("outage").initial == (unavailable,) * 5
    assert build("heavy-tail").initial == ({"tail_latency": 0.08, "tail_probability": 0.03},) * 5
    assert build("down-replica").initial == ({"refuse_connections": True},)
    for name in SCENARIOS:
        s = build(name)
        assert s.backends == (1 if name == "overhead" else 5)
    assert build("healthy").initial == () and build("healthy").events == ()


@pytest.mark.parametrize("profile", list(PROFILES))
def test_rolling_restart_takes_every_backend_down_in_turn(profile: str) -> None:
    """Each backend goes down once for the profile's time, one at a time, graceful and killed."""
    p = PROFILES[profile]
    s = build("rolling-restart", profile)
    downs = [e for e in s.events if e.action in ("stop", "kill")]
    ups = [e for e in s.events if e.action == "start"]
    assert [e.backend for e in downs] == [e.backend for e in ups] == [0, 1, 2, 3, 4]
    for down, up in zip(downs, ups, strict=True):
        assert up.at - down.at == pytest.approx(p.restart_down)
    for up, next_down in zip(ups, downs[1:], strict=False):
        assert next_down.at >= up.at  # never two backends down at once
    assert {e.action for e in downs} == {"stop", "kill"}


def test_overload_offers_one_and_a_half_times_capacity() -> None:
    """Capacity-limited backends; offered load is 1.5x the capacity they declare."""
    s = build("overload")
    assert s.capacity_rps is not None
    per_backend = [b["capacity"] / b["latency"] for b in s.initial]
    assert sum(per_backend) == pytest.approx(s.capacity_rps)
    assert s.rate == pytest.approx(1.5 * s.capacity_rps)


def test_discovery_outage_is_30s_in_full_and_finpy_only() -> None:
    """Discovery is unreachable, then malformed, then empty, for the design's 30 s in all."""
    s = build("discovery-outage", "full")
    assert [e.action for e in s.events] == [
        "discovery_unreachable",
        "discovery_malformed",
        "discovery_empty",
        "discovery_restore",
    ]
    assert s.events[-1].at - s.events[0].at == pytest.approx(30.0)
    assert s.peers == ("finpy",)


def test_down_replica_is_down_from_the_start() -> None:
    """The refusing address is down before any client connects; other faults start later."""
    assert build("down-replica").faults_from_start
    assert not any(build(n).faults_from_start for n in SCENARIOS if n != "down-replica")


def test_heavy_tail_asks_finpy_for_hedging() -> None:
    """Hedging is the careful opt-in of the heavy-tail scenario only."""
    assert build("heavy-tail").finpy.hedge
    assert not any(build(n).finpy.hedge for n in SCENARIOS if n != "heavy-tail")


def test_quick_profile_runs_in_about_a_minute() -> None:
    """Scheduled load of all quick runs (every scenario, every peer) stays near a minute."""
    scenarios = [build(n, "quick") for n in SCENARIOS]
    plans = plan_runs(scenarios, list(PEERS))
    load_seconds = sum(
        p.scenario.duration * len(p.peers) for p in plans if p.scenario.kind == "load"
    )
    runs = sum(len(p.peers) for p in plans)
    assert runs == 2 + 8 * 4 + 1
    # ~0.15 s of set-up per run and ~5 s of overhead scenario come on top
    assert 40 <= load_seconds + 0.15 * runs + 5 <= 75


def test_names_are_forgiving_but_unknown_ones_are_named() -> None:
    """slow_replica and Slow-Replica both mean slow-replica; unknown names raise naming them."""
    assert canonical_name("Slow_Replica") == "slow-replica"
    assert build("slow_replica").name == "slow-replica"
    with pytest.raises(finpy.ConfigurationError, match="'meltdown'"):
        build("meltdown")
    with pytest.raises(finpy.ConfigurationError, match="'medium'"):
        build("healthy", "medium")


@pytest.mark.parametrize(
    ("kwargs", "bad"),
    [
        ({"initial": ({"latncy": 1},)}, "latncy"),
        ({"initial": ({"error_code": "NOPE"},)}, "NOPE"),
        ({"initial": ({"error_code": "OK"},)}, "'OK'"),
        ({"initial": ({"tail_probability": 2},)}, "tail_probability"),
        ({"initial": ({"capacity": 0},)}, "capacity"),
        ({"initial": ({"refuse_connections": 1},)}, "refuse_connections"),
        ({"events": (Event(0.5, "stop", 9),)}, "outside"),
        ({"events": (Event(5.0, "stop", 0),)}, "after the end"),
        ({"events": (Event(0.5, "stop", 0), Event(0.1, "start", 0))}, "time order"),
        ({"rate": 0}, "rate"),
        ({"backends": 0}, "backends"),
    ],
)
def test_bad_scenarios_are_rejected_naming_the_problem(kwargs: dict[str, object], bad: str) -> None:
    """Every invalid scenario field raises ConfigurationError naming the bad value."""
    base: dict[str, object] = {
        "name": "x",
        "title": "x",
        "description": "x",
        "rate": 10,
        "duration": 1,
    }
    with pytest.raises(finpy.ConfigurationError, match=bad):
        Scenario(**{**base, **kwargs})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("args", "bad"),
    [
        ((-1, "stop", 0), "event time"),
        ((0, "explode", 0), "explode"),
        ((0, "stop"), "needs backend"),
        ((0, "discovery_empty", 1), "takes no backend"),
        ((0, "set", 0), "needs behavior"),
    ],
)
def test_bad_events_are_rejected(args: tuple[object, ...], bad: str) -> None:
    """Events check their time, action, backend and behaviour."""
    with pytest.raises(finpy.ConfigurationError, match=bad):
        Event(*args)  # type: ignore[arg-type]
