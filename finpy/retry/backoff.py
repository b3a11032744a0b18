"""``Backoff``: how long to wait before each retry, from tenacity's wait strategies.

Waiting before a retry gives a struggling server room to recover; *randomising*
the wait ("jitter") keeps the clients that failed together from retrying
together.  finpy does not reinvent these strategies: a :class:`Backoff` wraps
any ``tenacity.wait_*`` strategy (or a sum of them) and asks it for the delay
of the n-th retry.  The default is full-jitter exponential backoff
(``tenacity.wait_random_exponential``): retry n waits a uniformly random time
in ``[0, min(maximum, initial * 2 ** (n - 1))]``, as gRPC's retry design (A6)
and the AWS "exponential backoff and jitter" analysis recommend.

The retry layer never sleeps past the request's deadline: when the delay
would reach it, it gives up at once instead (see :mod:`finpy.retry.filter`).
Requeues (requests that were never sent) do not wait at all.
"""

from __future__ import annotations

import math
from typing import Any

import tenacity
from tenacity.wait import (
    wait_base,
    wait_exponential,
    wait_fixed,
    wait_none,
    wait_random_exponential,
)

from finpy.errors import ConfigurationError

__all__ = ["DEFAULT_BACKOFF", "Backoff"]

#: A retrying object that tenacity's RetryCallState requires; never run.
_RETRYING = tenacity.Retrying(wait=wait_none())


def _seconds(value: object, what: str, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigurationError(f"backoff {what} must be a number of seconds, got {value!r}")
    v = float(value)
    if v != v or math.isinf(v) or v < 0 or (positive and v == 0):
        bound = "> 0" if positive else ">= 0"
        raise ConfigurationError(f"backoff {what} must be finite and {bound}, got {value!r}")
    return v


def _bounds(initial: float, maximum: float) -> tuple[float, float]:
    """Validated ``(initial, maximum)`` of an exponential backoff, both > 0, maximum >= initial."""
    i = _seconds(initial, "initial", positive=True)
    m = _seconds(maximum, "maximum", positive=True)
    if m < i:
        raise ConfigurationError(f"backoff maximum ({maximum!r}) must be >= initial ({initial!r})")
    return i, m


class Backoff:
    """Delays between retries, computed by a tenacity wait strategy.

    ``Backoff(tenacity.wait_fixed(0.1) + tenacity.wait_random(0, 0.05))`` takes
    any strategy; the class methods build the common ones.
    """

    __slots__ = ("_description", "wait")

    def __init__(self, wait: wait_base, *, description: str | None = None) -> None:
        if not callable(wait):
            raise ConfigurationError(f"backoff needs a tenacity wait strategy, got {wait!r}")
        self.wait = wait
        self._description = description or type(wait).__name__

    @classmethod
    def full_jitter(cls, initial: float = 0.01, maximum: float = 1.0) -> Backoff:
        """Retry n waits ``uniform(0, min(maximum, initial * 2 ** (n - 1)))`` (the default)."""
        i, m = _bounds(initial, maximum)
        return cls(
            wait_random_exponential(multiplier=i, max=m),
            description=f"full_jitter(initial={i:g}, maximum={m:g})",
        )

    @classmethod
    def exponential(cls, initial: float = 0.01, maximum: float = 1.0) -> Backoff:
        """Retry n waits exactly ``min(maximum, initial * 2 ** (n - 1))`` (no jitter)."""
        i, m = _bounds(initial, maximum)
        return cls(
            wait_exponential(multiplier=i, max=m),
            description=f"exponential(initial={i:g}, maximum={m:g})",
        )

    @classmethod
    def constant(cls, seconds: float) -> Backoff:
        """Every retry waits ``seconds``."""
        s = _seconds(seconds, "delay")
        return cls(wait_fixed(s), description=f"constant({s:g})")

    @classmethod
    def none(cls) -> Backoff:
        """Retry at once."""
        return cls(wait_none(), description="none()")

    def delay(self, retry: int, error: BaseException | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (1 for the first retry).

        ``error`` is the failure being retried, for strategies that look at it
        (``tenacity.wait_exception``).
        """
        if retry < 1:
            raise ConfigurationError(f"retry numbers start at 1, got {retry!r}")
        state = tenacity.RetryCallState(_RETRYING, None, (), {})
        state.attempt_number = retry  # tenacity's number of the attempt that just failed
        if error is not None:
            outcome: Any = tenacity.Future(retry)
            outcome.set_exception(error)
            state.outcome = outcome
        value = float(self.wait(state))
        return value if value > 0 and value == value else 0.0

    def __repr__(self) -> str:
        d = self._description
        return f"Backoff.{d}" if d.endswith(")") else f"Backoff({d})"


#: Full-jitter exponential: the first retry waits up to 10 ms, the second up to 20 ms, ...
#: at most 1 s (Finagle retries with 5-200 ms jittered backoff; gRPC A6 suggests 0.1-1 s).
DEFAULT_BACKOFF = Backoff.full_jitter()
