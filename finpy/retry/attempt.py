"""What kind of attempt is running: the hook per-attempt spans and stats read.

The retry and hedge layers run every attempt of a logical request inside an
:func:`finpy.context.attempt_scope` (its 1-based number) and mark *why* the
attempt exists with :class:`AttemptKind`.  Layers below them (the endpoint
stack: attempt statistics, and per-attempt spans once tracing lands) read
:func:`current_attempt_kind` to label what they record, without knowing
anything about retries.
"""

from __future__ import annotations

import enum
from contextvars import ContextVar

__all__ = ["AttemptKind", "current_attempt_kind"]


class AttemptKind(enum.Enum):
    """Why an attempt is being made."""

    FIRST = "first"
    """The first attempt of a logical request."""
    RETRY = "retry"
    """Another attempt after a retryable failure (after backoff)."""
    REQUEUE = "requeue"
    """Another attempt after a failure that never reached a server."""
    HEDGE = "hedge"
    """A backup attempt racing a slow one; the first success wins."""


_KIND: ContextVar[AttemptKind] = ContextVar("finpy_attempt_kind", default=AttemptKind.FIRST)


def current_attempt_kind() -> AttemptKind:
    """The kind of the attempt running now (``FIRST`` outside any retry layer)."""
    return _KIND.get()
