"""Small shims over differences between supported Python versions."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from typing import Protocol

__all__ = ["TimeoutScope", "timeout_after"]


class TimeoutScope(Protocol):
    """What ``async with timeout_after(...) as scope`` gives: did *this* timeout fire?

    A ``TimeoutError`` leaving the block may come from the code inside (an inner
    timeout, a socket's connect timeout); only ``scope.expired()`` says it was ours.
    """

    def expired(self) -> bool: ...


class _Scope:
    __slots__ = ("_expired",)

    def __init__(self) -> None:
        self._expired = False

    def expired(self) -> bool:
        return self._expired


@contextlib.asynccontextmanager
async def _timeout_after_shim(delay: float | None) -> AsyncIterator[TimeoutScope]:
    """``asyncio.timeout`` for 3.10: cancel the task after ``delay`` s, raise TimeoutError."""
    scope = _Scope()
    task = asyncio.current_task()
    if delay is None or task is None:
        yield scope
        return

    def fire() -> None:
        scope._expired = True
        task.cancel()

    handle = asyncio.get_running_loop().call_later(delay, fire)
    try:
        yield scope
    except asyncio.CancelledError:
        if scope._expired:
            raise TimeoutError from None
        raise
    finally:
        handle.cancel()


if sys.version_info >= (3, 11):
    timeout_after = asyncio.timeout
else:  # pragma: no cover - Python 3.10
    timeout_after = _timeout_after_shim
