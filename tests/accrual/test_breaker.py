"""Tests of ``finpy.accrual.breaker``: dead, probe, revive, backoff growth on virtual time."""

from __future__ import annotations

import random

import pytest

from finpy import ManualClock
from finpy.accrual import Breaker, BreakerState, EqualJitterBackoff, FailureAccrualPolicy


def _breaker(clock: ManualClock, seed: int = 40) -> Breaker:
    return Breaker(FailureAccrualPolicy(), clock=clock, rng=random.Random(seed))


def _state(b: Breaker) -> BreakerState:
    return b.state


def _trip(b: Breaker) -> None:
    for _ in range(5):
        b.on_dispatch()
        b.on_failure(False)


def _expected_delays(seed: int, count: int) -> list[float]:
    rng = random.Random(seed)
    backoff = EqualJitterBackoff()
    return [backoff.delay(n, rng) for n in range(count)]


def test_trips_to_dead_and_becomes_unavailable() -> None:
    """Five consecutive failures eject the endpoint for the first backoff."""
    clock = ManualClock()
    b = _breaker(clock)
    assert b.available() and _state(b) is BreakerState.ALIVE
    _trip(b)
    assert _state(b) is BreakerState.DEAD and not b.available()
    assert b.ejections == 1
    first = _expected_delays(40, 1)[0]
    assert 2.5 <= first <= 5.0
    clock.advance(first - 0.001)
    assert not b.available()
    clock.advance(0.001)
    assert b.available() and _state(b) is BreakerState.PROBE_OPEN


def test_exactly_one_probe_at_a_time() -> None:
    """After the backoff, the first request is the probe; nothing else is offered traffic."""
    clock = ManualClock()
    b = _breaker(clock)
    _trip(b)
    clock.advance(300)
    assert b.on_dispatch() is True
    assert _state(b) is BreakerState.PROBING and not b.available()
    assert b.on_dispatch() is False
    assert b.probes == 1


def test_probe_success_revives_and_resets_the_policy() -> None:
    """A successful probe brings the endpoint back with a clean policy and backoff."""
    clock = ManualClock()
    b = _breaker(clock, seed=41)
    _trip(b)
    clock.advance(300)
    probe = b.on_dispatch()
    b.on_success(probe)
    assert _state(b) is BreakerState.ALIVE and b.revivals == 1
    assert b.policy.statistics().window_requests == 0
    _trip(b)  # backoff starts again from 5 s
    assert b.statistics().dead_for <= 5.0


def test_probe_failure_kills_again_with_a_longer_backoff() -> None:
    """Each failed probe doubles the backoff cap, up to 300 s."""
    clock = ManualClock()
    b = _breaker(clock, seed=42)
    expected = _expected_delays(42, 9)
    _trip(b)
    deaths = [b.statistics().dead_for]
    for _ in range(8):
        clock.advance(deaths[-1])
        probe = b.on_dispatch()
        assert probe
        b.on_failure(probe)
        deaths.append(b.statistics().dead_for)
    assert deaths == pytest.approx(expected)
    assert deaths[-1] <= 300 and deaths[-1] >= 150
    assert b.ejections == 1  # one ejection, many failed probes


def test_cancelled_probe_reopens_for_another_probe() -> None:
    """A probe with no verdict (cancelled) lets the next request probe."""
    clock = ManualClock()
    b = _breaker(clock)
    _trip(b)
    clock.advance(300)
    b.on_ignored(b.on_dispatch())
    assert _state(b) is BreakerState.PROBE_OPEN
    assert b.on_dispatch() is True


def test_outcomes_of_non_probe_requests_do_not_move_a_dead_breaker() -> None:
    """Requests let through while dead (fail open) neither revive nor re-kill it."""
    clock = ManualClock()
    b = _breaker(clock)
    _trip(b)
    until = b.statistics().dead_for
    assert b.on_dispatch() is False
    b.on_success(False)
    b.on_failure(False)
    assert _state(b) is BreakerState.DEAD
    assert b.statistics().dead_for == pytest.approx(until)
    clock.advance(300)
    probe = b.on_dispatch()
    assert b.on_dispatch() is False
    b.on_success(False)  # the other request's success is not the probe's
    assert _state(b) is BreakerState.PROBING
    b.on_success(probe)
    assert _state(b) is BreakerState.ALIVE


def test_statistics_and_repr() -> None:
    """Statistics and repr show the state, ejections and revivals."""
    clock = ManualClock()
    b = _breaker(clock)
    _trip(b)
    s = b.statistics()
    assert (s.state, s.ejections, s.revivals) == ("dead", 1, 0)
    assert s.policy.consecutive_failures == 5
    assert "dead for" in repr(b)
