"""Running a resolver in the background, supervised, with a clean shutdown.

Every resolver that talks to a discovery system (DNS, ZooKeeper, etcd, Consul,
Kubernetes, a file) is a loop: ask, publish, wait for a change or a refresh,
repeat.  :func:`background_resolution` runs such a loop as one asyncio task
owned by the returned :class:`~finpy.resolver.Resolution`:

* ``aclose()`` on the resolution cancels the task and waits for it, so a
  closed client leaves no task and no connection behind;
* if the loop raises (a bug, an unexpected payload), the error is logged and
  published as ``Failed`` and the loop is restarted after a jittered backoff:
  one bad moment never ends discovery for the life of the client.

:class:`Backoff` is the full-jitter exponential backoff the resolvers use
between failed attempts (as gRPC's and Finagle's resolvers do).
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections.abc import Awaitable, Callable

from finpy.clock import SYSTEM_CLOCK, Clock
from finpy.errors import ConfigurationError
from finpy.resolver.resolution import Resolution
from finpy.resolver.state import Failed, Pending

__all__ = ["Backoff", "background_resolution"]

log = logging.getLogger("finpy.resolver")


class Backoff:
    """Full-jitter exponential backoff: attempt ``n`` waits ``U(0, min(cap, base * 2**n))``.

    ``reset()`` after a success; ``next()`` returns the next delay in seconds.
    ``floor`` keeps a retry loop from spinning when the draw is near zero.
    """

    def __init__(
        self,
        base: float = 0.5,
        cap: float = 30.0,
        *,
        floor: float = 0.05,
        rng: random.Random | None = None,
    ) -> None:
        for name, v in (("base", base), ("cap", cap), ("floor", floor)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ConfigurationError(f"backoff {name} must be a finite number, got {v!r}")
            if v < 0 or (name != "floor" and v == 0):
                raise ConfigurationError(f"backoff {name} must be > 0, got {v!r}")
        if cap < base:
            raise ConfigurationError(f"backoff cap {cap!r} is below its base {base!r}")
        self.base = float(base)
        self.cap = float(cap)
        self.floor = float(floor)
        self._rng = rng if rng is not None else random.Random()
        self.attempt = 0

    def next(self) -> float:
        """The delay before the next attempt (and count the attempt)."""
        ceiling = min(self.cap, self.base * 2.0 ** min(self.attempt, 62))
        self.attempt += 1
        return max(self.floor, self._rng.uniform(0.0, ceiling))

    def reset(self) -> None:
        """Forget past failures (call after a success)."""
        self.attempt = 0

    def __repr__(self) -> str:
        return f"Backoff(base={self.base}, cap={self.cap}, attempt={self.attempt})"


async def _stop_task(task: asyncio.Task[None] | None) -> None:
    """Cancel ``task`` (if any) and wait until it has ended, whatever its outcome."""
    if task is not None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


Worker = Callable[[Resolution], Awaitable[None]]


def background_resolution(
    target: str,
    worker: Worker,
    *,
    clock: Clock = SYSTEM_CLOCK,
    backoff: Backoff | None = None,
    cleanup: Callable[[], Awaitable[None]] | None = None,
) -> Resolution:
    """A :class:`Resolution` of ``target`` kept up to date by ``worker(resolution)``.

    ``worker`` should loop until cancelled.  ``cleanup`` runs after the task has
    stopped, on ``aclose()`` (close clients and connections there).  Must be
    called inside a running event loop.
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        raise ConfigurationError(
            f"resolving {target!r} needs a running event loop (resolve inside async code)"
        ) from None
    restart = backoff if backoff is not None else Backoff(1.0, 30.0)
    task: asyncio.Task[None] | None = None

    async def close() -> None:
        await _stop_task(task)
        if cleanup is not None:
            await cleanup()

    resolution = Resolution(Pending(), target=target, on_close=close)

    async def supervise() -> None:
        while not resolution.closed:
            try:
                await worker(resolution)
                return
            except asyncio.CancelledError:
                raise
            except Exception as e:
                delay = restart.next()
                log.exception("resolver for %r failed; restarting in %.1fs", target, delay)
                resolution.publish(Failed(e))
                await clock.sleep(delay)

    task = loop.create_task(supervise(), name=f"finpy-resolver {target}")
    return resolution
