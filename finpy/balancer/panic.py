"""Panic mode: how many endpoints are unhealthy, counted cheaply.

A balancer normally keeps traffic away from endpoints that are not ``OPEN``
(ejected by failure accrual, reconnecting, failing health checks).  When more
than ``threshold`` of them (default: half) are unhealthy, avoiding them would
pour all the traffic onto the few that are left and overload those too, so the
balancer *panics*: it picks among all endpoints as if every one were healthy
(Envoy's panic threshold, Finagle's panic mode).  The health checks are often
wrong exactly when most of the fleet looks down (a bad deploy of the checks,
a network blip), and sending traffic everywhere is the best bet.

Counting the unhealthy endpoints is a full scan, so it is never done per
request: :class:`HealthGauge` re-counts on every update of the endpoint set
and then once every ``max(4n, 64)`` picks (an amortised quarter of a status
read per pick), or at once when a pick finds nothing healthy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from finpy.errors import ConfigurationError
from finpy.service import Status

__all__ = ["DEFAULT_PANIC_THRESHOLD", "HealthGauge", "validate_panic_threshold"]

#: Panic when more than this fraction of the endpoints is unhealthy.
DEFAULT_PANIC_THRESHOLD = 0.5

_OPEN = Status.OPEN
_MIN_RECOUNT = 64


def validate_panic_threshold(threshold: float) -> float:
    """``threshold`` as a float in [0, 1], or a :class:`ConfigurationError` naming it."""
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, (int, float))
        or not 0.0 <= threshold <= 1.0
    ):
        raise ConfigurationError(
            f"panic threshold must be a fraction between 0 and 1, got {threshold!r}"
        )
    return float(threshold)


class HealthGauge:
    """The (cached) number of unhealthy endpoints of a set, and whether that means panic."""

    __slots__ = ("_countdown", "panic", "panics", "threshold", "total", "unhealthy")

    def __init__(self, threshold: float = DEFAULT_PANIC_THRESHOLD) -> None:
        self.threshold = validate_panic_threshold(threshold)
        #: Endpoints at the last count.
        self.total = 0
        #: Endpoints that were not ``OPEN`` at the last count.
        self.unhealthy = 0
        #: Whether more than ``threshold`` of the endpoints were unhealthy at the last count.
        self.panic = False
        #: How many times the set went into panic mode.
        self.panics = 0
        self._countdown = 0

    def refresh(self, endpoints: Sequence[Any]) -> bool:
        """Count the unhealthy endpoints now (O(n)); return whether that is panic."""
        n = len(endpoints)
        bad = 0
        for e in endpoints:
            if e.status is not _OPEN:
                bad += 1
        self.total = n
        self.unhealthy = bad
        panic = n > 1 and bad > n * self.threshold
        if panic and not self.panic:
            self.panics += 1
        self.panic = panic
        self._countdown = 4 * n if 4 * n > _MIN_RECOUNT else _MIN_RECOUNT
        return panic

    def tick(self, endpoints: Sequence[Any]) -> bool:
        """One pick happened: re-count if due; return whether the set is in panic."""
        self._countdown -= 1
        if self._countdown <= 0:
            return self.refresh(endpoints)
        return self.panic

    @property
    def healthy(self) -> int:
        """Endpoints that were ``OPEN`` at the last count."""
        return self.total - self.unhealthy

    def __repr__(self) -> str:
        mode = ", panic" if self.panic else ""
        return f"HealthGauge(unhealthy={self.unhealthy}/{self.total}{mode})"
