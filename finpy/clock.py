"""Clocks: the one source of time for every time-based policy.

Budgets, EWMA estimates, backoff, breakers and hedging delays read time through
a :class:`Clock` so that tests can run them on virtual time.  The default
:data:`SYSTEM_CLOCK` follows the running asyncio loop's clock (which is
``time.monotonic`` in production and virtual under ``looptime``);
:class:`ManualClock` is advanced by hand in synchronous tests.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from finpy.errors import ConfigurationError
from finpy.params import Param

__all__ = ["SYSTEM_CLOCK", "Clock", "ClockParam", "LoopClock", "ManualClock"]


@runtime_checkable
class Clock(Protocol):
    """Monotonic time in seconds plus a way to wait on it."""

    def now(self) -> float:
        """Current monotonic time in seconds (arbitrary origin)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock's time."""
        ...


class LoopClock:
    """The running event loop's clock, or ``time.monotonic`` outside a loop.

    ``asyncio``'s default loop time *is* ``time.monotonic()``, so both agree in
    production; under a virtual-time loop (``looptime``) everything follows the
    virtual time.
    """

    __slots__ = ()

    def now(self) -> float:
        try:
            return asyncio.get_running_loop().time()
        except RuntimeError:
            return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    def __repr__(self) -> str:
        return "LoopClock()"


SYSTEM_CLOCK: Clock = LoopClock()


class ManualClock:
    """A clock that only moves when :meth:`advance` is called.

    ``await clock.sleep(s)`` suspends until the clock has been advanced past the
    wake-up time, so async code can be driven step by step from a test.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._now

    async def sleep(self, seconds: float) -> None:
        if not seconds > 0:  # zero, negative or NaN: no wait (as LoopClock does)
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + seconds, next(self._seq), fut))
        await fut

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds`` and wake every sleeper that is due."""
        if not seconds >= 0:  # negative or NaN (a NaN would freeze every sleeper forever)
            raise ConfigurationError(
                f"cannot advance a clock by {seconds!r} seconds (must be >= 0)"
            )
        self._now += seconds
        while self._sleepers and self._sleepers[0][0] <= self._now:
            _, _, fut = heapq.heappop(self._sleepers)
            if not fut.done():
                fut.set_result(None)

    @property
    def sleepers(self) -> int:
        """How many sleeps are waiting (cancelled ones included until due)."""
        return sum(1 for _, _, f in self._sleepers if not f.done())

    def __repr__(self) -> str:
        return f"ManualClock(now={self._now!r}, sleepers={self.sleepers})"


@dataclass(frozen=True, slots=True)
class ClockParam(Param):
    """The clock of a stack's decision code: budgets, EWMA, breakers, hedging delays.

    Deadlines are not on it: they travel between clients in the context and are
    enforced with event-loop timers, so they always live on the loop clock
    (:data:`SYSTEM_CLOCK`, virtual under looptime).  A :class:`ManualClock` here
    drives the policies of one client without touching deadlines.
    """

    clock: Clock = SYSTEM_CLOCK
