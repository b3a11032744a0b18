"""When an endpoint should be ejected: the failure accrual *policy* (pure decisions).

Two rules, either of which trips the breaker (Finagle's defaults):

* **consecutive failures**: ``consecutive_failures`` failures in a row (5);
* **success rate**: fewer than ``success_rate`` of the requests (80%) succeeded
  over the last ``window`` seconds (30 s), counted only once at least
  ``min_requests`` requests (5) fell in the window.

The window is a ring of time buckets with running totals, so recording an
outcome is O(1) and memory is fixed.  Only failures are checked against the
rules: a success never trips anything.  :meth:`FailureAccrualPolicy.reset`
forgets everything, which is what a revived endpoint gets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from finpy.errors import ConfigurationError

__all__ = ["FailureAccrualPolicy", "PolicyStatistics"]

_BUCKETS = 10


def _positive(value: float, what: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ConfigurationError(f"{what} must be a positive number, got {value!r}")
    return float(value)


def _count(value: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"{what} must be an integer >= 1, got {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class PolicyStatistics:
    """What the policy currently knows about an endpoint."""

    consecutive_failures: int
    window_requests: int
    window_failures: int
    success_rate: float | None
    """Success rate over the window; ``None`` with fewer than ``min_requests`` requests."""


class FailureAccrualPolicy:
    """Consecutive-failure and windowed success-rate rules over recorded outcomes."""

    __slots__ = (
        "_epoch",
        "_fail",
        "_ok",
        "_width",
        "consecutive",
        "consecutive_failures",
        "failures_in_window",
        "min_requests",
        "requests_in_window",
        "success_rate",
        "window",
    )

    def __init__(
        self,
        *,
        consecutive_failures: int | None = 5,
        success_rate: float | None = 0.8,
        window: float = 30.0,
        min_requests: int = 5,
    ) -> None:
        self.consecutive_failures = (
            None
            if consecutive_failures is None
            else _count(consecutive_failures, "consecutive_failures")
        )
        if success_rate is not None and (
            isinstance(success_rate, bool)
            or not isinstance(success_rate, (int, float))
            or not 0.0 < success_rate <= 1.0
        ):
            raise ConfigurationError(
                f"success_rate must be a fraction in (0, 1] or None, got {success_rate!r}"
            )
        self.success_rate = None if success_rate is None else float(success_rate)
        self.window = _positive(window, "success rate window")
        self.min_requests = _count(min_requests, "min_requests")
        self._width = self.window / _BUCKETS
        self._ok = [0] * _BUCKETS
        self._fail = [0] * _BUCKETS
        self._epoch: int | None = None  # bucket number (time // width) of the newest bucket
        #: Failures in a row since the last success.
        self.consecutive = 0
        self.requests_in_window = 0
        self.failures_in_window = 0

    def _advance(self, now: float) -> int:
        """Expire buckets older than the window; return the current bucket index."""
        epoch = int(now // self._width)
        last = self._epoch
        if last is None or epoch - last >= _BUCKETS:
            if self.requests_in_window:
                self._ok = [0] * _BUCKETS
                self._fail = [0] * _BUCKETS
                self.requests_in_window = self.failures_in_window = 0
        elif epoch > last:
            ok, fail = self._ok, self._fail
            for e in range(last + 1, epoch + 1):
                i = e % _BUCKETS
                self.requests_in_window -= ok[i] + fail[i]
                self.failures_in_window -= fail[i]
                ok[i] = fail[i] = 0
        elif epoch < last:  # the clock never goes back; be safe if a caller's does
            epoch = last
        self._epoch = epoch
        return epoch % _BUCKETS

    def record_success(self, now: float) -> None:
        """A request succeeded (never trips)."""
        self._ok[self._advance(now)] += 1
        self.requests_in_window += 1
        self.consecutive = 0

    def record_failure(self, now: float) -> bool:
        """A request failed; return True when the endpoint should be ejected."""
        self._fail[self._advance(now)] += 1
        self.requests_in_window += 1
        self.failures_in_window += 1
        self.consecutive += 1
        limit = self.consecutive_failures
        if limit is not None and self.consecutive >= limit:
            return True
        rate = self.success_rate
        total = self.requests_in_window
        return (
            rate is not None
            and total >= self.min_requests
            and (total - self.failures_in_window) < rate * total
        )

    def reset(self) -> None:
        """Forget every outcome (an endpoint that was revived starts afresh)."""
        self.consecutive = 0
        self._ok = [0] * _BUCKETS
        self._fail = [0] * _BUCKETS
        self._epoch = None
        self.requests_in_window = self.failures_in_window = 0

    def statistics(self, now: float | None = None) -> PolicyStatistics:
        """A snapshot; with ``now``, buckets older than the window are dropped first."""
        if now is not None and self._epoch is not None:
            self._advance(now)
        total = self.requests_in_window
        rate = (total - self.failures_in_window) / total if total >= self.min_requests else None
        return PolicyStatistics(
            consecutive_failures=self.consecutive,
            window_requests=total,
            window_failures=self.failures_in_window,
            success_rate=rate,
        )

    def __repr__(self) -> str:
        return (
            f"FailureAccrualPolicy(consecutive={self.consecutive}/{self.consecutive_failures}, "
            f"window={self.requests_in_window - self.failures_in_window}/{self.requests_in_window}"
            f" ok over {self.window:g}s, min_rate={self.success_rate})"
        )
