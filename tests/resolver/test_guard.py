"""Last known good: the decisions (sync, ManualClock) and the wrapping resolution."""

from __future__ import annotations

import asyncio
import logging

import pytest

from finpy.address import Address
from finpy.clock import ManualClock
from finpy.errors import ConfigurationError
from finpy.resolver.guard import (
    DiscoveryPolicy,
    GuardedResolution,
    LastKnownGood,
    MalformedUpdateError,
    guard,
)
from finpy.resolver.resolution import Resolution
from finpy.resolver.state import Bound, Failed, Negative, Pending

A = Address("10.0.0.1", 1)
B = Address("10.0.0.2", 1)
C = Address("10.0.0.3", 1)


def keys(state: object) -> set[tuple[str, int]]:
    assert isinstance(state, Bound), state
    return {a.key for a in state.addresses}


def test_failed_and_pending_never_empty_a_good_set() -> None:
    """Once bound, Failed and Pending leave the published set alone."""
    lkg = LastKnownGood(clock=ManualClock())
    assert keys(lkg.offer(Bound([A, B]))) == {A.key, B.key}
    assert lkg.offer(Failed(OSError("zk down"))) is None
    assert lkg.offer(Pending()) is None
    assert keys(lkg.published) == {A.key, B.key}
    assert lkg.failures == 2 and not lkg.healthy


def test_empty_binding_after_good_set_is_suspect() -> None:
    """A bound-but-empty update is kept out, logged and counted."""
    lkg = LastKnownGood(clock=ManualClock())
    lkg.offer(Bound([A]))
    assert lkg.offer(Bound([])) is None
    assert keys(lkg.published) == {A.key}
    assert lkg.rejected_empty == 1
    assert "empty" in (lkg.statistics().last_error or "")


def test_negative_after_good_set_is_suspect() -> None:
    """Negative after a good set is treated like an empty set: kept out."""
    lkg = LastKnownGood(clock=ManualClock())
    lkg.offer(Bound([A]))
    assert lkg.offer(Negative("NXDOMAIN")) is None
    assert lkg.rejected_empty == 1


def test_allow_empty_lets_empty_and_negative_through() -> None:
    """DiscoveryPolicy(allow_empty=True) applies an empty set."""
    lkg = LastKnownGood(DiscoveryPolicy(allow_empty=True), clock=ManualClock())
    lkg.offer(Bound([A]))
    assert keys(lkg.offer(Bound([]))) == set()
    lkg.offer(Bound([A]))
    assert keys(lkg.offer(Negative())) == set()


def test_malformed_update_is_rejected_and_counted(caplog: pytest.LogCaptureFixture) -> None:
    """Failed(MalformedUpdateError) keeps the old set, is logged and counted apart."""
    lkg = LastKnownGood(clock=ManualClock())
    lkg.offer(Bound([A]))
    with caplog.at_level(logging.WARNING, logger="finpy.resolver"):
        assert lkg.offer(Failed(MalformedUpdateError("member_1: bad JSON"))) is None
    assert lkg.rejected_malformed == 1 and lkg.failures == 0
    assert "member_1: bad JSON" in caplog.text
    assert keys(lkg.published) == {A.key}


def test_states_pass_through_before_the_first_good_set() -> None:
    """Before any good set there is nothing to protect: Failed and Negative pass."""
    lkg = LastKnownGood(clock=ManualClock())
    err = OSError("refused")
    assert lkg.offer(Failed(err)) == Failed(err)
    assert lkg.offer(Negative("nope")) == Negative("nope")
    assert keys(lkg.offer(Bound([A]))) == {A.key}


def test_identical_update_is_not_republished() -> None:
    """A repeated identical binding publishes nothing but counts as a good update."""
    clock = ManualClock()
    lkg = LastKnownGood(clock=clock)
    lkg.offer(Bound([A]))
    clock.advance(5)
    assert lkg.offer(Bound([A])) is None
    assert lkg.updates == 2 and lkg.last_good_age() == 0.0


def test_weight_change_is_republished() -> None:
    """A changed weight of a known address is a change worth publishing."""
    lkg = LastKnownGood(clock=ManualClock())
    lkg.offer(Bound([A]))
    out = lkg.offer(Bound([Address("10.0.0.1", 1, weight=3)]))
    assert isinstance(out, Bound) and out.addresses[0].weight == 3


def test_staleness_counts_from_the_first_failure() -> None:
    """stale_for grows while discovery fails and resets on the next good update."""
    clock = ManualClock()
    lkg = LastKnownGood(clock=clock)
    lkg.offer(Bound([A]))
    clock.advance(10)
    lkg.offer(Failed(OSError("down")))
    clock.advance(30)
    lkg.offer(Failed(OSError("still down")))
    s = lkg.statistics()
    assert s.stale_for == 30 and s.last_good_age == 40 and not s.healthy
    lkg.offer(Bound([A]))
    assert lkg.staleness() == 0 and lkg.healthy


def test_removals_are_delayed_and_batched() -> None:
    """With removal_delay, removals wait and are applied together; additions at once."""
    clock = ManualClock()
    lkg = LastKnownGood(DiscoveryPolicy(removal_delay=2.0), clock=clock)
    lkg.offer(Bound([A, B, C]))
    assert lkg.offer(Bound([A, B])) is None  # C's removal is pending: nothing visible
    assert keys(lkg.published) == {A.key, B.key, C.key}
    assert lkg.due == 2.0
    clock.advance(1)
    lkg.offer(Bound([A]))  # B joins the same batch
    assert lkg.flush() is None  # not due yet
    clock.advance(1)
    assert keys(lkg.flush()) == {A.key}
    assert lkg.due is None


def test_address_that_returns_is_never_removed() -> None:
    """An address that flaps back before the delay stays without a removal."""
    clock = ManualClock()
    lkg = LastKnownGood(DiscoveryPolicy(removal_delay=2.0), clock=clock)
    lkg.offer(Bound([A, B]))
    lkg.offer(Bound([A]))
    assert lkg.offer(Bound([A, B])) is None  # nothing visible changed
    clock.advance(3)
    assert lkg.flush() is None
    assert keys(lkg.published) == {A.key, B.key}


@pytest.mark.parametrize(
    "kwargs",
    [{"removal_delay": -1}, {"removal_delay": float("nan")}, {"allow_empty": "yes"}],
)
def test_policy_rejects_bad_values(kwargs: dict[str, object]) -> None:
    """Bad DiscoveryPolicy values raise ConfigurationError naming the value."""
    with pytest.raises(ConfigurationError, match="DiscoveryPolicy"):
        DiscoveryPolicy(**kwargs)  # type: ignore[arg-type]


async def test_guarded_resolution_follows_source_and_closes_it() -> None:
    """The wrapper publishes guarded states and closing it closes the source."""
    source = Resolution(target="t")
    guarded = GuardedResolution(source)
    source.publish(Bound([A]))
    source.publish(Failed(OSError("x")))
    source.publish(Bound([]))
    assert keys(guarded.state) == {A.key}
    assert guarded.statistics().rejected_empty == 1
    await guarded.aclose()
    assert source.closed


@pytest.mark.looptime
async def test_guarded_resolution_flushes_removals_on_time() -> None:
    """Delayed removals are applied by a timer after removal_delay (virtual time)."""
    source = Resolution(target="t")
    guarded = GuardedResolution(source, DiscoveryPolicy(removal_delay=5.0))
    source.publish(Bound([A, B]))
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    source.publish(Bound([A]))
    assert keys(guarded.state) == {A.key, B.key}
    await asyncio.wait_for(guarded.wait_for(lambda s: keys(s) == {A.key}), 10)
    assert loop.time() - t0 == pytest.approx(5.0)
    await guarded.aclose()


async def test_guard_disabled_returns_the_source() -> None:
    """DiscoveryPolicy(enabled=False) means no wrapper at all."""
    source = Resolution()
    assert guard(source, DiscoveryPolicy(enabled=False)) is source
    assert isinstance(guard(source), GuardedResolution)
