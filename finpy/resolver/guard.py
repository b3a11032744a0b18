"""Last known good: discovery that survives its own failures.

A resolver reports what discovery says; this module decides what the client
*believes*.  :class:`LastKnownGood` is the decision (pure, synchronous, driven
by a :class:`~finpy.clock.Clock`) and :class:`GuardedResolution` wraps a
resolver's :class:`~finpy.resolver.Resolution` with it, so the
:class:`~finpy.endpoint_set.EndpointSet` underneath stays simple.

The rules, once a name has been bound to a non-empty set (a *good* set):

* ``Failed`` and ``Pending`` never change the live set: a failure of discovery
  is not a failure of the service.
* A bound-but-empty update, or ``Negative``, is *suspect*: kept out, logged
  and counted (``DiscoveryPolicy(allow_empty=True)`` lets it through).  An
  empty endpoint list from a half-broken control plane took down a bank's
  whole platform in 2017; an empty set is almost never what an operator meant.
* A malformed update (resolvers report it as ``Failed(MalformedUpdateError)``)
  is rejected whole, logged and counted; the old set keeps serving.
* Removals can be *stabilised*: with ``removal_delay > 0`` an address that
  disappears stays in the set for that long, and removals are applied in one
  batch, so a churn storm does not thrash the balancer.  An address that comes
  back in the meantime was never removed.  Additions are applied at once.
* Staleness is exposed: how long ago the last good update arrived and how long
  the client has been serving a last known good set.

Before the first good set there is nothing to protect, so every state passes
through (requests wait for a binding, or fail fast if discovery failed).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass

from finpy.address import Address
from finpy.clock import SYSTEM_CLOCK, Clock
from finpy.errors import ConfigurationError
from finpy.params import Param
from finpy.resolver.resolution import Resolution
from finpy.resolver.state import Bound, Failed, Negative, Pending, ResolutionState

__all__ = [
    "DiscoveryPolicy",
    "DiscoveryStatistics",
    "GuardedResolution",
    "LastKnownGood",
    "MalformedUpdateError",
    "guard",
]

log = logging.getLogger("finpy.resolver")


class MalformedUpdateError(ConfigurationError):
    """A discovery update could not be understood; the message names the bad value.

    Resolvers publish it as ``Failed(MalformedUpdateError(...))`` so that the
    guard rejects the update as a whole and keeps the last known good set.
    """

    def __init__(self, message: str, *, problems: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.problems: tuple[str, ...] = tuple(problems)


@dataclass(frozen=True, slots=True)
class DiscoveryPolicy(Param):
    """How a client treats what discovery tells it (see :mod:`finpy.resolver.guard`).

    Attributes:
        enabled: guard resolver-made resolutions at all (``False``: trust every state).
        allow_empty: accept an empty binding or ``Negative`` after a good set
            (default: keep the last good set and count the update as suspect).
        removal_delay: seconds a disappeared address stays before removals are
            applied in one batch (``0``: remove at once).
    """

    enabled: bool = True
    allow_empty: bool = False
    removal_delay: float = 0.0

    def __post_init__(self) -> None:
        for name in ("enabled", "allow_empty"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigurationError(
                    f"DiscoveryPolicy.{name} must be a bool, got {getattr(self, name)!r}"
                )
        d = self.removal_delay
        if isinstance(d, bool) or not isinstance(d, (int, float)) or not math.isfinite(d) or d < 0:
            raise ConfigurationError(
                f"DiscoveryPolicy.removal_delay must be a finite number >= 0, got {d!r}"
            )


@dataclass(frozen=True, slots=True)
class DiscoveryStatistics:
    """A snapshot of a guarded resolution.

    ``last_good_age`` is the time since the last good update (``None`` before
    the first); ``stale_for`` is how long the client has been serving a last
    known good set because discovery is failing or suspect (0 while healthy).
    """

    target: str
    state: str
    source_state: str
    healthy: bool
    addresses: int
    updates: int
    failures: int
    rejected_empty: int
    rejected_malformed: int
    pending_removals: int
    last_good_age: float | None
    stale_for: float
    last_error: str | None


class LastKnownGood:
    """The decision: which state to publish for each state discovery reports.

    :meth:`offer` takes a state from discovery and returns the state the
    client should see, or ``None`` to keep what it has.  With a removal delay,
    :attr:`due` says when pending removals should be applied and
    :meth:`flush` applies them.
    """

    def __init__(
        self, policy: DiscoveryPolicy | None = None, *, clock: Clock = SYSTEM_CLOCK
    ) -> None:
        self.policy = policy if policy is not None else DiscoveryPolicy()
        self._clock = clock
        self._current: dict[tuple[str, int], Address] = {}
        self._published: ResolutionState = Pending()
        self._good = False  # a non-empty set was accepted once
        self._healthy = False
        self._source: ResolutionState = Pending()
        self._removals: set[tuple[str, int]] = set()
        self._due: float | None = None
        self._last_good_at: float | None = None
        self._stale_since: float | None = None
        self._last_error: str | None = None
        self.updates = self.failures = self.rejected_empty = self.rejected_malformed = 0

    # -- decisions --------------------------------------------------------------------

    def offer(self, state: ResolutionState) -> ResolutionState | None:
        """Take ``state`` from discovery; return what to publish (``None``: nothing)."""
        self._source = state
        if isinstance(state, Bound) and (state.addresses or not self._good):
            return self._accept(state.addresses)
        if not self._good:  # nothing to protect yet: the client sees the truth
            self._healthy = False
            if isinstance(state, Failed):
                self._note_failure(state)
            if isinstance(state, Bound | Negative):
                self._current = {}
            return self._publish(state)
        if isinstance(state, Bound | Negative):  # empty or negative after a good set
            if self.policy.allow_empty:
                return self._accept(())
            self.rejected_empty += 1
            what = "an empty address set" if isinstance(state, Bound) else f"{state!r}"
            self._last_error = f"suspect update kept out: {what}"
            self._mark_unhealthy()
            log.warning(
                "discovery reported %s; keeping the last known good set of %d address(es)",
                what,
                len(self._current),
            )
            return None
        if isinstance(state, Failed):
            self._note_failure(state)
        else:
            self.failures += 1
            self._last_error = "discovery lost its answer (pending)"
        if self._healthy or self._stale_since is None:
            log.warning(
                "discovery failed (%s); keeping the last known good set of %d address(es)",
                self._last_error,
                len(self._current),
            )
        else:
            log.debug("discovery still failing: %s", self._last_error)
        self._mark_unhealthy()
        return None

    def _note_failure(self, state: Failed) -> None:
        if isinstance(state.error, MalformedUpdateError):
            self.rejected_malformed += 1
            self._last_error = f"malformed update rejected: {state.error}"
            if self._good:
                log.warning(
                    "rejected a malformed discovery update, keeping %d address(es): %s",
                    len(self._current),
                    state.error,
                )
        else:
            self.failures += 1
            self._last_error = f"{type(state.error).__name__}: {state.error}"

    def _mark_unhealthy(self) -> None:
        if self._healthy or self._stale_since is None:
            self._stale_since = self._clock.now()
        self._healthy = False

    def _accept(self, addresses: tuple[Address, ...]) -> ResolutionState | None:
        now = self._clock.now()
        self.updates += 1
        self._healthy = True
        self._stale_since = None
        self._last_good_at = now
        if addresses:
            self._good = True
        wanted = {a.key: a for a in addresses}
        for key, addr in wanted.items():
            self._current[key] = addr
            self._removals.discard(key)
        gone = [k for k in self._current if k not in wanted]
        if self.policy.removal_delay > 0 and self._good:
            self._removals.update(gone)
            if self._removals and self._due is None:
                self._due = now + self.policy.removal_delay
        else:
            for key in gone:
                del self._current[key]
        if not self._removals:
            self._due = None
        return self._publish(Bound(self._current.values()))

    def _publish(self, state: ResolutionState) -> ResolutionState | None:
        if _same(state, self._published):
            return None
        self._published = state
        return state

    @property
    def due(self) -> float | None:
        """When pending removals should be applied (clock time), if any are pending."""
        return self._due

    def flush(self, *, force: bool = False) -> ResolutionState | None:
        """Apply pending removals that are due (all of them with ``force``)."""
        if self._due is None or (not force and self._clock.now() < self._due):
            return None
        for key in self._removals:
            self._current.pop(key, None)
        self._removals.clear()
        self._due = None
        return self._publish(Bound(self._current.values()))

    # -- observation ------------------------------------------------------------------

    @property
    def published(self) -> ResolutionState:
        """The state the client currently sees."""
        return self._published

    @property
    def healthy(self) -> bool:
        """Whether discovery's latest state was accepted as a good binding."""
        return self._healthy

    def staleness(self) -> float:
        """Seconds the client has been serving a last known good set (0 while healthy)."""
        if self._healthy or self._stale_since is None or not self._good:
            return 0.0
        return max(0.0, self._clock.now() - self._stale_since)

    def last_good_age(self) -> float | None:
        """Seconds since the last good update (``None`` before the first)."""
        if self._last_good_at is None:
            return None
        return max(0.0, self._clock.now() - self._last_good_at)

    def statistics(self, target: str = "") -> DiscoveryStatistics:
        return DiscoveryStatistics(
            target=target,
            state=type(self._published).__name__,
            source_state=type(self._source).__name__,
            healthy=self._healthy,
            addresses=len(self._current),
            updates=self.updates,
            failures=self.failures,
            rejected_empty=self.rejected_empty,
            rejected_malformed=self.rejected_malformed,
            pending_removals=len(self._removals),
            last_good_age=self.last_good_age(),
            stale_for=self.staleness(),
            last_error=self._last_error,
        )

    def __repr__(self) -> str:
        return (
            f"LastKnownGood(addresses={len(self._current)}, healthy={self._healthy}, "
            f"rejected={self.rejected_empty + self.rejected_malformed}, failures={self.failures})"
        )


def _same(a: ResolutionState, b: ResolutionState) -> bool:
    if isinstance(a, Bound) and isinstance(b, Bound):
        return {x.key: x for x in a.addresses} == {x.key: x for x in b.addresses}
    return a == b


class GuardedResolution(Resolution):
    """A :class:`Resolution` that follows ``source`` through :class:`LastKnownGood`.

    Closing it closes the source (and with it the resolver behind it).
    """

    def __init__(
        self,
        source: Resolution,
        policy: DiscoveryPolicy | None = None,
        *,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        super().__init__(Pending(), target=source.target, on_close=self._close)
        self.source = source
        self._clock = clock
        self._lkg = LastKnownGood(policy, clock=clock)
        self._timer: asyncio.Task[None] | None = None
        self._unsubscribe = source.subscribe(self._on_source)

    @property
    def policy(self) -> DiscoveryPolicy:
        return self._lkg.policy

    def _on_source(self, state: ResolutionState) -> None:
        if self.closed:
            return
        out = self._lkg.offer(state)
        if out is not None:
            self.publish(out)
        self._schedule()

    def _schedule(self) -> None:
        due = self._lkg.due
        if due is None or self._timer is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # updates from sync code: no timer to wait on, apply now
            out = self._lkg.flush(force=True)
            if out is not None:
                self.publish(out)
            return
        self._timer = loop.create_task(self._flush_later(), name=f"finpy-lkg {self.target}")

    async def _flush_later(self) -> None:
        try:
            while (due := self._lkg.due) is not None and not self.closed:
                delay = due - self._clock.now()
                if delay > 0:
                    await self._clock.sleep(delay)
                    continue
                out = self._lkg.flush()
                if out is not None:
                    self.publish(out)
        finally:
            self._timer = None

    def staleness(self) -> float:
        """Seconds the client has been serving a last known good set (0 while healthy)."""
        return self._lkg.staleness()

    @property
    def healthy(self) -> bool:
        """Whether discovery's latest state was accepted as a good binding."""
        return self._lkg.healthy

    def statistics(self) -> DiscoveryStatistics:
        return self._lkg.statistics(self.target)

    async def _close(self) -> None:
        self._unsubscribe()
        timer = self._timer
        if timer is not None:
            timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await timer
        await self.source.aclose()

    def __repr__(self) -> str:
        s = self._lkg.statistics(self.target)
        return (
            f"GuardedResolution({self.target!r}, {self.state!r}, healthy={s.healthy}, "
            f"stale_for={s.stale_for:.1f}s)"
        )


def guard(
    source: Resolution, policy: DiscoveryPolicy | None = None, *, clock: Clock = SYSTEM_CLOCK
) -> Resolution:
    """Wrap ``source`` in a :class:`GuardedResolution` (``source`` itself if disabled)."""
    if policy is not None and not policy.enabled:
        return source
    if isinstance(source, GuardedResolution):
        return source
    return GuardedResolution(source, policy, clock=clock)
