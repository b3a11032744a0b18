"""Tests of ``finpy.context``: deadlines, attempts, request keys and tried endpoints."""

from __future__ import annotations

import asyncio

import pytest

from finpy import (
    ConfigurationError,
    ManualClock,
    current_attempt,
    current_deadline,
    current_request_key,
    deadline_after,
    deadline_at,
    endpoints_tried,
    request_key,
    time_remaining,
    tracking_endpoints,
)
from finpy.context import attempt_scope, validate_timeout


def test_no_deadline_by_default() -> None:
    """Outside any scope there is no deadline and no time limit."""
    assert current_deadline() is None
    assert time_remaining() is None


def test_deadline_at_sets_and_restores() -> None:
    """deadline_at sets the absolute deadline inside and restores the previous one after."""
    with deadline_at(100.0) as d:
        assert d == 100.0
        assert current_deadline() == 100.0
    assert current_deadline() is None


def test_deadlines_only_tighten() -> None:
    """An inner scope can shorten the deadline but never extend it."""
    with deadline_at(100.0):
        with deadline_at(200.0) as d:
            assert d == 100.0 and current_deadline() == 100.0
        with deadline_at(50.0) as d:
            assert d == 50.0 and current_deadline() == 50.0
        with deadline_at(None) as d:
            assert d == 100.0
        assert current_deadline() == 100.0


def test_deadline_after_is_relative_to_the_clock_and_nests() -> None:
    """deadline_after(t) is now + t on the given clock; nested scopes keep the earliest."""
    clock = ManualClock(1000.0)
    with deadline_after(5, clock) as outer:
        assert outer == 1005.0
        assert time_remaining(clock) == 5.0
        clock.advance(1)
        assert time_remaining(clock) == 4.0
        with deadline_after(10, clock) as inner:  # 1011 > 1005: the caller's bound wins
            assert inner == 1005.0
        with deadline_after(2, clock) as inner:  # 1003 < 1005: tighter
            assert inner == 1003.0
            assert time_remaining(clock) == 2.0
        with deadline_after(None, clock) as inner:  # no new bound
            assert inner == 1005.0
        clock.advance(10)
        assert time_remaining(clock) == -6.0  # may go negative
    assert current_deadline() is None


@pytest.mark.parametrize("bad", [-1, float("nan"), "1", True, None, [1]])
def test_bad_timeouts_are_rejected_naming_the_value(bad: object) -> None:
    """Timeouts must be non-negative numbers; the error names the bad value."""
    with pytest.raises(ConfigurationError, match="timeout"):
        validate_timeout(bad)  # type: ignore[arg-type]
    if bad is not None:
        with pytest.raises(ConfigurationError, match="got"), deadline_after(bad):  # type: ignore[arg-type]
            pass


def test_zero_and_integers_are_valid_timeouts() -> None:
    """Zero is a valid (already expired) timeout; integers become floats."""
    assert validate_timeout(0) == 0.0
    assert isinstance(validate_timeout(3), float)


async def test_deadline_flows_into_child_tasks_but_not_back() -> None:
    """A task started inside a scope inherits its deadline; its own scopes do not leak out."""
    seen: list[float | None] = []

    async def child() -> None:
        seen.append(current_deadline())
        with deadline_at(1.0):
            seen.append(current_deadline())

    with deadline_at(10.0):
        await asyncio.create_task(child())
        assert current_deadline() == 10.0
    assert seen == [10.0, 1.0]


async def test_concurrent_tasks_have_independent_deadlines() -> None:
    """Deadlines set in one task are invisible to another running concurrently."""
    gate = asyncio.Event()
    seen: dict[str, float | None] = {}

    async def worker(name: str, deadline: float) -> None:
        with deadline_at(deadline):
            await gate.wait()
            seen[name] = current_deadline()

    tasks = [asyncio.create_task(worker("a", 1.0)), asyncio.create_task(worker("b", 2.0))]
    await asyncio.sleep(0)
    gate.set()
    await asyncio.gather(*tasks)
    assert seen == {"a": 1.0, "b": 2.0}


def test_attempt_scope_sets_and_restores_the_attempt_number() -> None:
    """current_attempt() is 0 outside attempts and the innermost attempt number inside."""
    assert current_attempt() == 0
    with attempt_scope(1) as n:
        assert n == 1 and current_attempt() == 1
        with attempt_scope(2):
            assert current_attempt() == 2
        assert current_attempt() == 1
    assert current_attempt() == 0


def test_attempt_scope_restores_after_an_exception() -> None:
    """An exception leaving an attempt scope still restores the outer attempt."""
    with pytest.raises(RuntimeError), attempt_scope(3):
        raise RuntimeError
    assert current_attempt() == 0


@pytest.mark.parametrize("key", ["user-1", b"\x00\x01"])
def test_request_key_accepts_str_and_bytes(key: str | bytes) -> None:
    """A request key may be text or bytes and is visible only inside its scope."""
    assert current_request_key() is None
    with request_key(key) as k:
        assert k == key and current_request_key() == key
    assert current_request_key() is None


@pytest.mark.parametrize("bad", [42, None, 1.5, ["k"]])
def test_request_key_rejects_other_types(bad: object) -> None:
    """A request key that is neither str nor bytes raises naming the value."""
    with pytest.raises(ConfigurationError, match=repr(bad).replace("[", r"\[")), request_key(bad):  # type: ignore[arg-type]
        pass


def test_tracking_endpoints_collects_and_resets() -> None:
    """tracking_endpoints exposes one list per scope and restores the outer one after."""
    assert endpoints_tried() is None
    with tracking_endpoints() as tried:
        assert endpoints_tried() is tried and tried == []
        tried.append(("h", 1))
        with tracking_endpoints() as inner:
            assert endpoints_tried() is inner and inner == []
        assert endpoints_tried() == [("h", 1)]
    assert endpoints_tried() is None
