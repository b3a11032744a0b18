"""Request context carried in :mod:`contextvars`.

The deadline, the attempt number and the request key travel with the task
through every ``await`` and into nested calls, which is how a finpy call made
while serving a request inherits that request's deadline.

Deadlines are absolute times on :data:`finpy.clock.SYSTEM_CLOCK` (the running
loop's clock).  Scopes only ever *tighten* a deadline: an inner scope cannot
extend the time its caller gave it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

from finpy.clock import SYSTEM_CLOCK, Clock
from finpy.errors import ConfigurationError

__all__ = [
    "attempt_scope",
    "current_attempt",
    "current_deadline",
    "current_request_key",
    "deadline_after",
    "deadline_at",
    "endpoints_tried",
    "request_key",
    "time_remaining",
    "tracking_endpoints",
]

_DEADLINE: ContextVar[float | None] = ContextVar("finpy_deadline", default=None)
_ATTEMPT: ContextVar[int] = ContextVar("finpy_attempt", default=0)
_REQUEST_KEY: ContextVar[str | bytes | None] = ContextVar("finpy_request_key", default=None)
_TRIED: ContextVar[list[tuple[str, int]] | None] = ContextVar("finpy_tried", default=None)


def current_deadline() -> float | None:
    """The absolute deadline of the current request, or ``None`` if unbounded."""
    return _DEADLINE.get()


def time_remaining(clock: Clock = SYSTEM_CLOCK) -> float | None:
    """Seconds left before the current deadline (may be negative), or ``None``."""
    deadline = _DEADLINE.get()
    return None if deadline is None else deadline - clock.now()


def validate_timeout(timeout: float, what: str = "timeout") -> float:
    """Return ``timeout`` as a float, or raise naming the bad value."""
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise ConfigurationError(f"{what} must be a number of seconds, got {timeout!r}")
    t = float(timeout)
    if t != t or t < 0:
        raise ConfigurationError(f"{what} must be >= 0 seconds, got {timeout!r}")
    return t


@contextlib.contextmanager
def deadline_at(deadline: float | None) -> Iterator[float | None]:
    """Bound everything inside by the absolute ``deadline`` (earliest one wins)."""
    current = _DEADLINE.get()
    effective = (
        deadline if current is None else (current if deadline is None else min(current, deadline))
    )
    token = _DEADLINE.set(effective)
    try:
        yield effective
    finally:
        _DEADLINE.reset(token)


@contextlib.contextmanager
def deadline_after(timeout: float | None, clock: Clock = SYSTEM_CLOCK) -> Iterator[float | None]:
    """Bound everything inside by ``timeout`` seconds from now (``None``: no new bound).

    Example::

        with finpy.deadline_after(0.5):
            user = await users.GetUser(req)      # gets at most what is left of 0.5 s
            await orders.ListOrders(req2)
    """
    if timeout is None:
        with deadline_at(None) as d:
            yield d
        return
    t = validate_timeout(timeout)
    with deadline_at(clock.now() + t) as d:
        yield d


def current_attempt() -> int:
    """1-based number of the attempt being made (0 outside any attempt)."""
    return _ATTEMPT.get()


@contextlib.contextmanager
def attempt_scope(attempt: int) -> Iterator[int]:
    """Mark the code inside as attempt number ``attempt`` (used by retry filters)."""
    token = _ATTEMPT.set(attempt)
    try:
        yield attempt
    finally:
        _ATTEMPT.reset(token)


def current_request_key() -> str | bytes | None:
    """The request key (for consistent hashing / affinity) set by :func:`request_key`."""
    return _REQUEST_KEY.get()


@contextlib.contextmanager
def request_key(key: str | bytes) -> Iterator[str | bytes]:
    """Attach an affinity key to the requests made inside (e.g. a user id)."""
    if not isinstance(key, (str, bytes)):
        raise ConfigurationError(f"request key must be str or bytes, got {key!r}")
    token = _REQUEST_KEY.set(key)
    try:
        yield key
    finally:
        _REQUEST_KEY.reset(token)


def endpoints_tried() -> list[tuple[str, int]] | None:
    """Endpoint keys (host, port) the current logical request was sent to, in order.

    ``None`` unless a layer above (retries, hedging) opened a
    :func:`tracking_endpoints` scope.  Balancers append to it and prefer
    endpoints not in it, so a retry goes somewhere else when it can.
    """
    return _TRIED.get()


@contextlib.contextmanager
def tracking_endpoints() -> Iterator[list[tuple[str, int]]]:
    """Record (and let balancers avoid) the endpoints each attempt inside goes to."""
    tried: list[tuple[str, int]] = []
    token = _TRIED.set(tried)
    try:
        yield tried
    finally:
        _TRIED.reset(token)
