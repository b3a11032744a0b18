"""Small shims over differences between supported Python versions."""

from __future__ import annotations

import asyncio
import sys

__all__ = ["timeout_after"]

if sys.version_info >= (3, 11):
    timeout_after = asyncio.timeout
else:  # pragma: no cover - Python 3.10
    import contextlib
    from collections.abc import AsyncIterator

    @contextlib.asynccontextmanager
    async def timeout_after(delay: float | None) -> AsyncIterator[None]:
        """``asyncio.timeout`` for 3.10: cancel the task after ``delay`` s, raise TimeoutError."""
        task = asyncio.current_task()
        if delay is None or task is None:
            yield
            return
        fired = False

        def fire() -> None:
            nonlocal fired
            fired = True
            task.cancel()

        handle = asyncio.get_running_loop().call_later(delay, fire)
        try:
            yield
        except asyncio.CancelledError:
            if fired:
                raise TimeoutError from None
            raise
        finally:
            handle.cancel()
