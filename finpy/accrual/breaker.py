"""The per-endpoint circuit breaker of failure accrual: a pure state machine.

States (Finagle's ``FailureAccrualFactory``)::

    ALIVE ──policy trips──▶ DEAD ──backoff elapsed──▶ PROBE_OPEN
      ▲                      ▲                            │ a request is dispatched:
      │                      │ probe failed               ▼ it is *the* probe
      └──── probe succeeded ─┴────────────────────── PROBING

* ``ALIVE``: outcomes feed the :class:`~finpy.accrual.policy.FailureAccrualPolicy`.
* ``DEAD``: the endpoint reports itself unavailable for a jittered backoff.
* ``PROBE_OPEN``: available again, for exactly one request: the probe.
* ``PROBING``: the probe is in flight; unavailable to everything else.
  Its success revives the endpoint (policy and backoff reset); its failure
  kills it again for the next, longer backoff; if it ends with no verdict
  (cancelled, or a failure that says nothing about the endpoint) the
  endpoint goes back to ``PROBE_OPEN``.

The breaker *fails open*: it only answers :meth:`Breaker.available`, which the
endpoint turns into ``BUSY`` for the balancer.  Requests that reach a dead
endpoint anyway (the balancer is in panic mode, or it is the only endpoint)
are let through, and their outcomes do not move the state machine.

Everything here is synchronous and reads time only through the clock, so the
whole life cycle is tested on a :class:`~finpy.clock.ManualClock`.
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass

from finpy.accrual.backoff import EqualJitterBackoff
from finpy.accrual.policy import FailureAccrualPolicy, PolicyStatistics
from finpy.clock import SYSTEM_CLOCK, Clock

__all__ = ["Breaker", "BreakerState", "BreakerStatistics"]


class BreakerState(enum.Enum):
    """Where a breaker is in its life cycle."""

    ALIVE = "alive"
    DEAD = "dead"
    PROBE_OPEN = "probe_open"
    PROBING = "probing"


_ALIVE = BreakerState.ALIVE
_DEAD = BreakerState.DEAD
_PROBE_OPEN = BreakerState.PROBE_OPEN
_PROBING = BreakerState.PROBING


@dataclass(frozen=True, slots=True)
class BreakerStatistics:
    """A snapshot of one endpoint's breaker."""

    state: str
    ejections: int
    """Times the endpoint was ejected (ALIVE -> DEAD)."""
    revivals: int
    """Times a probe brought it back (PROBING -> ALIVE)."""
    probes: int
    """Probe requests sent."""
    dead_for: float
    """Seconds until the current backoff ends (0 unless DEAD)."""
    policy: PolicyStatistics


class Breaker:
    """Failure accrual for one endpoint: policy + dead/probe/revive with backoff."""

    __slots__ = (
        "_backoff_index",
        "_clock",
        "_dead_until",
        "_state",
        "backoff",
        "ejections",
        "policy",
        "probes",
        "revivals",
        "rng",
    )

    def __init__(
        self,
        policy: FailureAccrualPolicy | None = None,
        *,
        backoff: EqualJitterBackoff | None = None,
        clock: Clock = SYSTEM_CLOCK,
        rng: random.Random | None = None,
    ) -> None:
        self.policy = policy if policy is not None else FailureAccrualPolicy()
        self.backoff = backoff if backoff is not None else EqualJitterBackoff()
        self._clock = clock
        self.rng = rng if rng is not None else random.Random()
        # _state is ALIVE, DEAD (PROBE_OPEN is DEAD with its backoff over) or PROBING
        self._state = _ALIVE
        self._dead_until = 0.0
        self._backoff_index = 0
        self.ejections = 0
        self.revivals = 0
        self.probes = 0

    # -- reading -------------------------------------------------------------------------

    @property
    def state(self) -> BreakerState:
        """The current state (``PROBE_OPEN`` once a ``DEAD`` backoff has elapsed)."""
        s = self._state
        if s is _DEAD and self._clock.now() >= self._dead_until:
            return _PROBE_OPEN
        return s

    def available(self) -> bool:
        """Whether the endpoint should be offered traffic now (ALIVE or PROBE_OPEN)."""
        s = self._state
        if s is _ALIVE:
            return True
        return s is _DEAD and self._clock.now() >= self._dead_until

    # -- events --------------------------------------------------------------------------

    def on_dispatch(self) -> bool:
        """A request is about to be sent; return True if it is the probe."""
        if self._state is _ALIVE:
            return False
        if self._state is _DEAD and self._clock.now() >= self._dead_until:
            self._state = _PROBING
            self.probes += 1
            return True
        return False

    def on_success(self, probe: bool) -> None:
        """The request succeeded (as far as the endpoint's health goes)."""
        s = self._state
        if s is _ALIVE:
            self.policy.record_success(self._clock.now())
        elif probe and s is _PROBING:
            self._revive()

    def on_failure(self, probe: bool) -> None:
        """The request failed in a way that counts against the endpoint."""
        s = self._state
        if s is _ALIVE:
            if self.policy.record_failure(self._clock.now()):
                self.ejections += 1
                self._kill()
        elif probe and s is _PROBING:
            self._kill()

    def on_ignored(self, probe: bool) -> None:
        """The request ended with no verdict (cancelled, or not the endpoint's fault)."""
        if probe and self._state is _PROBING:
            self._state = _DEAD  # dead_until has passed: PROBE_OPEN again

    # -- transitions ---------------------------------------------------------------------

    def _kill(self) -> None:
        delay = self.backoff.delay(self._backoff_index, self.rng)
        self._backoff_index += 1
        self._dead_until = self._clock.now() + delay
        self._state = _DEAD

    def _revive(self) -> None:
        self._state = _ALIVE
        self._backoff_index = 0
        self.revivals += 1
        self.policy.reset()

    def statistics(self) -> BreakerStatistics:
        now = self._clock.now()
        state = self.state
        return BreakerStatistics(
            state=state.value,
            ejections=self.ejections,
            revivals=self.revivals,
            probes=self.probes,
            dead_for=max(0.0, self._dead_until - now) if state is _DEAD else 0.0,
            policy=self.policy.statistics(now),
        )

    def __repr__(self) -> str:
        state = self.state
        extra = f", dead for {self._dead_until - self._clock.now():.1f}s" if state is _DEAD else ""
        return (
            f"Breaker({state.value}{extra}, ejections={self.ejections}, revivals={self.revivals})"
        )
