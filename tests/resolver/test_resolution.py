"""Tests of ``finpy.resolver.resolution``: the observable state of a resolved name."""

from __future__ import annotations

import asyncio
import logging
import re

import pytest

from finpy import Address, ConfigurationError, ServiceClosedError
from finpy.resolver import Bound, Failed, Negative, Pending, Resolution, ResolutionState

A = Address("10.0.0.1", 1)
B = Address("10.0.0.2", 2)


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_initial_state_defaults_to_pending() -> None:
    """A new resolution without an initial state is Pending at version 0."""
    res = Resolution()
    assert res.state == Pending()
    assert res.version == 0
    assert not res.closed


def test_publish_updates_state_and_version() -> None:
    """publish makes the state current and bumps the version."""
    res = Resolution(Bound([A]), target="static:///x")
    failed = Failed(OSError("dns down"))
    seen = []
    for state in (Bound([A, B]), failed):
        res.publish(state)
        seen.append((res.state, res.version))
    assert seen == [(Bound([A, B]), 1), (failed, 2)]


def test_publish_rejects_non_states() -> None:
    """Publishing something that is not a resolution state raises TypeError naming it."""
    res = Resolution()
    with pytest.raises(TypeError, match=r"10\.0\.0\.1"):
        res.publish([A])  # type: ignore[arg-type]
    assert res.version == 0


def test_subscribe_replays_current_state_then_every_change() -> None:
    """A subscriber gets the current state at once, then each published state in order."""
    res = Resolution(Bound([A]))
    seen: list[ResolutionState] = []
    res.subscribe(seen.append)
    res.publish(Negative("gone"))
    res.publish(Bound([B]))
    assert seen == [Bound([A]), Negative("gone"), Bound([B])]


def test_subscribe_without_replay_sees_only_changes() -> None:
    """replay=False skips the current state."""
    res = Resolution(Bound([A]))
    seen: list[ResolutionState] = []
    res.subscribe(seen.append, replay=False)
    assert seen == []
    res.publish(Bound([B]))
    assert seen == [Bound([B])]


def test_unsubscribe_stops_notifications_and_is_idempotent() -> None:
    """After unsubscribe the listener hears nothing; calling it twice is harmless."""
    res = Resolution()
    seen: list[ResolutionState] = []
    unsubscribe = res.subscribe(seen.append, replay=False)
    res.publish(Bound([A]))
    unsubscribe()
    unsubscribe()
    res.publish(Bound([B]))
    assert seen == [Bound([A])]


def test_raising_listener_does_not_break_publishing(caplog: pytest.LogCaptureFixture) -> None:
    """A listener that raises is logged; the state is still published and other listeners run."""
    res = Resolution(target="t")
    seen: list[ResolutionState] = []

    def broken(state: ResolutionState) -> None:
        raise RuntimeError("listener bug")

    res.subscribe(broken, replay=False)
    res.subscribe(seen.append, replay=False)
    with caplog.at_level(logging.ERROR, logger="finpy.resolver"):
        res.publish(Bound([A]))
    assert res.state == Bound([A])
    assert seen == [Bound([A])]
    assert "listener bug" in caplog.text


def test_listener_failing_on_replay_is_not_left_subscribed() -> None:
    """If a listener raises on the replayed state, subscribe raises and it is not subscribed."""
    res = Resolution(Bound([A]))
    calls: list[ResolutionState] = []

    def picky(state: ResolutionState) -> None:
        calls.append(state)
        raise ValueError("no")

    with pytest.raises(ValueError):
        res.subscribe(picky)
    res.publish(Bound([B]))
    assert calls == [Bound([A])]


def test_listener_may_unsubscribe_itself_while_being_notified() -> None:
    """Unsubscribing from inside a notification does not skip the other listeners."""
    res = Resolution()
    seen: list[str] = []

    def once(state: ResolutionState) -> None:
        seen.append("once")
        unsubscribe()

    unsubscribe = res.subscribe(once, replay=False)
    res.subscribe(lambda s: seen.append("other"), replay=False)
    res.publish(Bound([A]))
    res.publish(Bound([B]))
    assert seen == ["once", "other", "other"]


def test_listener_publishing_a_newer_state_is_not_overtaken_by_the_older_one() -> None:
    """If a listener publishes during a notification, no listener sees the older state after the newer."""
    res = Resolution()
    first: list[ResolutionState] = []
    second: list[ResolutionState] = []

    def republish(state: ResolutionState) -> None:
        first.append(state)
        if state == Bound([A]):
            res.publish(Bound([B]))

    res.subscribe(republish, replay=False)
    res.subscribe(second.append, replay=False)
    res.publish(Bound([A]))
    assert first == [Bound([A]), Bound([B])]
    assert second == [Bound([B])]  # never Bound([B]) followed by the stale Bound([A])
    assert res.state == Bound([B])


async def test_wait_for_raises_what_the_predicate_raises() -> None:
    """A predicate that fails on a new state fails the wait instead of leaving it hanging."""
    res = Resolution()

    def pred(state: ResolutionState) -> bool:
        if isinstance(state, Failed):
            raise LookupError("bad predicate")
        return False

    waiter = asyncio.create_task(res.wait_for(pred))
    await settle()
    res.publish(Failed(OSError("x")))
    with pytest.raises(LookupError, match="bad predicate"):
        await asyncio.wait_for(waiter, 5)


async def test_wait_for_returns_at_once_when_already_true() -> None:
    """wait_for returns the current state immediately if it satisfies the predicate."""
    res = Resolution(Bound([A]))
    assert await res.wait_for(lambda s: isinstance(s, Bound)) == Bound([A])


async def test_wait_for_waits_for_a_matching_state() -> None:
    """wait_for ignores states that do not match and returns the first that does."""
    res = Resolution()
    waiter = asyncio.create_task(res.wait_for(lambda s: isinstance(s, Bound)))
    await settle()
    res.publish(Failed(OSError("x")))
    await settle()
    assert not waiter.done()
    res.publish(Bound([A]))
    assert await waiter == Bound([A])
    res.publish(Bound([B]))  # the finished waiter is no longer subscribed
    assert res.state == Bound([B])


async def test_cancelled_wait_for_unsubscribes() -> None:
    """Cancelling a wait_for leaves no listener behind."""
    res = Resolution()
    calls: list[ResolutionState] = []

    def pred(s: ResolutionState) -> bool:
        calls.append(s)
        return False

    waiter = asyncio.create_task(res.wait_for(pred))
    await settle()
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    calls.clear()
    res.publish(Bound([A]))
    assert calls == []


async def test_wait_for_fails_when_the_resolution_closes() -> None:
    """A wait_for pending when the resolution closes raises ServiceClosedError instead of hanging."""
    res = Resolution(target="static:///x")
    waiter = asyncio.create_task(res.wait_for(lambda s: isinstance(s, Bound)))
    await settle()
    await res.aclose()
    with pytest.raises(ServiceClosedError, match="static:///x"):
        await asyncio.wait_for(waiter, 5)
    with pytest.raises(ServiceClosedError):
        await res.wait_for(lambda s: isinstance(s, Bound))
    assert await res.wait_for(lambda s: isinstance(s, Pending)) == Pending()


async def test_changes_yields_current_then_new_states_in_order() -> None:
    """changes() yields the current state, then every published state, in order."""
    res = Resolution(Bound([A]))
    got: list[ResolutionState] = []

    async def consume() -> None:
        async for state in res.changes():
            got.append(state)
            if len(got) == 3:
                break

    task = asyncio.create_task(consume())
    await settle()
    res.publish(Pending())
    res.publish(Bound([B]))
    await asyncio.wait_for(task, 5)
    assert got == [Bound([A]), Pending(), Bound([B])]
    res.publish(Bound([A]))  # the finished iterator left no listener behind
    assert res._listeners == []


async def test_changes_ends_when_the_resolution_closes() -> None:
    """An iterator over changes() finishes when the resolution is closed (no hang, no leaked task)."""
    res = Resolution(Bound([A]))
    got: list[ResolutionState] = []

    async def consume() -> None:
        async for state in res.changes():
            got.append(state)

    task = asyncio.create_task(consume())
    await settle()
    await res.aclose()
    await asyncio.wait_for(task, 5)
    assert got == [Bound([A])]
    assert [s async for s in res.changes()] == []


async def test_aclose_runs_on_close_once_and_stops_publishing() -> None:
    """aclose calls the resolver's on_close once; later publishes are ignored."""
    closes: list[int] = []

    async def on_close() -> None:
        closes.append(1)

    res = Resolution(Bound([A]), on_close=on_close)
    seen: list[ResolutionState] = []
    res.subscribe(seen.append, replay=False)
    await res.aclose()
    await res.aclose()
    assert closes == [1]
    assert res.closed
    res.publish(Bound([B]))
    assert res.state == Bound([A])
    assert seen == []


def test_repr_names_target_state_and_version() -> None:
    """The repr shows the target, the state and the version."""
    res = Resolution(Bound([A]), target="static:///10.0.0.1:1")
    assert repr(res) == "Resolution('static:///10.0.0.1:1', Bound([10.0.0.1:1]), version=0)"


@pytest.mark.parametrize("bad", ["10.0.0.1:1", ("10.0.0.1", 1), None])
def test_bound_rejects_what_is_not_an_address(bad: object) -> None:
    """Bound only holds Address objects: a malformed update fails when built, naming the item."""
    with pytest.raises(ConfigurationError, match=re.escape(repr(bad))):
        Bound([A, bad])  # type: ignore[list-item]


def test_states_repr_and_equality() -> None:
    """States are values; Bound accepts any iterable and prints its addresses."""
    assert Bound(iter([A, B])) == Bound((A, B))
    assert repr(Bound([A, B])) == "Bound([10.0.0.1:1, 10.0.0.2:2])"
    err = OSError("x")
    assert Failed(err) == Failed(err)
    assert repr(Failed(err)) == "Failed(OSError('x'))"
    assert Negative() == Negative("")
