"""An open-loop load generator.

Request ``i`` is *scheduled* at ``t0 + i / rate`` and fired at that time
whether or not earlier requests have answered, and its latency is measured
from the scheduled time, not from when it was actually sent.  A closed-loop
generator (N workers each waiting for a reply before sending the next) slows
down when the system under test slows down, so a stall hides the queueing it
caused ("coordinated omission"); an open-loop one keeps offering the same load
and charges every delay to the requests that suffered it.

The run is bounded three ways: at most ``requests`` requests, scheduled over
at most ``duration`` seconds, each with a deadline of ``timeout`` seconds
(passed to the call, which must honour it).  To protect the machine, at most
``max_outstanding`` requests are in flight; a request due while that many are
outstanding is not sent and is counted as a client-side drop.  A call that
outlives its deadline by more than ``hard_stop_grace`` is cancelled and counted
as :data:`~finpy.bench.outcome.LOADGEN_TIMEOUT` (the client ignored its deadline).

Time comes from a :class:`finpy.Clock` (the loop clock by default), so tests
run the scheduler on virtual time.
"""

from __future__ import annotations

import asyncio
import math
import sys
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from finpy.bench.histogram import LatencyRecorder, LatencySummary
from finpy.bench.outcome import DROPPED, LOADGEN_TIMEOUT, OK, status_of
from finpy.clock import SYSTEM_CLOCK, Clock
from finpy.errors import ConfigurationError

__all__ = ["Call", "LoadResult", "LoadSpec", "OpenLoop", "OpenLoopStatistics"]

#: One logical request: ``await call(timeout)``; raising means the request failed.
Call = Callable[[float], Awaitable[object]]


def _positive(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigurationError(f"{name} must be a positive number, got {value!r}")
    if math.isinf(value):
        raise ConfigurationError(f"{name} must be finite, got {value!r}")


@dataclass(frozen=True, slots=True)
class LoadSpec:
    """What load to offer: rate, bounds and the deadline of every request."""

    rate: float
    """Requests per second, scheduled at fixed intervals."""
    duration: float
    """Seconds over which requests are scheduled (at most)."""
    timeout: float
    """Deadline of every request, in seconds."""
    requests: int | None = None
    """At most this many requests (``None``: ``rate * duration``)."""
    max_outstanding: int = 2000
    """Requests in flight beyond which new ones are dropped (not sent)."""
    hard_stop_grace: float = 1.0
    """How long past its deadline a call may run before the generator cancels it."""

    def __post_init__(self) -> None:
        _positive("rate", self.rate)
        _positive("duration", self.duration)
        _positive("timeout", self.timeout)
        if self.requests is not None and (
            isinstance(self.requests, bool)
            or not isinstance(self.requests, int)
            or self.requests < 1
        ):
            raise ConfigurationError(f"requests must be a positive integer, got {self.requests!r}")
        if isinstance(self.max_outstanding, bool) or not isinstance(self.max_outstanding, int):
            raise ConfigurationError(
                f"max_outstanding must be a positive integer, got {self.max_outstanding!r}"
            )
        if self.max_outstanding < 1:
            raise ConfigurationError(
                f"max_outstanding must be a positive integer, got {self.max_outstanding!r}"
            )
        if not self.hard_stop_grace >= 0:
            raise ConfigurationError(
                f"hard_stop_grace must be >= 0 seconds, got {self.hard_stop_grace!r}"
            )

    @property
    def planned(self) -> int:
        """How many requests the run schedules: the count bound and the time bound, whichever is lower."""
        by_time = max(1, math.floor(self.rate * self.duration + 1e-9))
        return by_time if self.requests is None else min(self.requests, by_time)

    def scheduled_at(self, i: int) -> float:
        """Offset of request ``i`` from the start of the run, in seconds."""
        return i / self.rate


@dataclass(frozen=True, slots=True)
class LoadResult:
    """What happened to the logical requests of one run."""

    planned: int
    sent: int
    dropped: int
    statuses: Mapping[str, int]
    """Count of requests by final status (``"OK"``, ``"UNAVAILABLE"``, ..., drops included)."""
    latency: LatencySummary
    """Latency of every completed request (successes and failures), from its scheduled time."""
    ok_latency: LatencySummary
    failed_latency: LatencySummary
    fire_lag: LatencySummary
    """How late the generator fired requests (a saturated client machine shows here)."""
    elapsed: float
    """Seconds from the first scheduled time to the last completion."""
    ok: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "ok", int(self.statuses.get(OK, 0)))

    @property
    def success_ratio(self) -> float:
        """Successful requests / planned requests (drops count as failures)."""
        return self.ok / self.planned if self.planned else math.nan

    @property
    def errors(self) -> dict[str, int]:
        """Failed requests by status (drops included)."""
        return {k: v for k, v in sorted(self.statuses.items()) if k != OK}


@dataclass(frozen=True, slots=True)
class OpenLoopStatistics:
    """A live snapshot of a running generator."""

    planned: int
    scheduled: int
    completed: int
    outstanding: int
    dropped: int
    failed: int


class OpenLoop:
    """Fires ``call`` on a fixed schedule; see the module docstring."""

    def __init__(self, spec: LoadSpec, call: Call, *, clock: Clock = SYSTEM_CLOCK) -> None:
        if not callable(call):
            raise ConfigurationError(
                f"call must be an async callable (timeout) -> Any, got {call!r}"
            )
        self.spec = spec
        self._call = call
        self._clock = clock
        self._statuses: Counter[str] = Counter()
        self._all = LatencyRecorder()
        self._ok = LatencyRecorder()
        self._failed = LatencyRecorder()
        self._lag = LatencyRecorder()
        self._tasks: set[asyncio.Task[None]] = set()
        self._scheduled = 0
        self._sent = 0
        self._completed = 0
        self._dropped = 0
        self._t0: float | None = None
        self._last_completion: float | None = None

    @property
    def started_at(self) -> float | None:
        """Clock time of request 0's schedule (``None`` before :meth:`run`)."""
        return self._t0

    async def _one(self, scheduled: float) -> None:
        spec = self.spec
        error: BaseException | None = None
        status: str | None = None
        task = asyncio.current_task()
        assert task is not None
        stopped = False

        def hard_stop() -> None:
            nonlocal stopped
            stopped = True
            task.cancel()

        handle = asyncio.get_running_loop().call_later(
            spec.timeout + spec.hard_stop_grace, hard_stop
        )
        try:
            await self._call(spec.timeout)
        except asyncio.CancelledError:
            if not stopped:
                raise
            if sys.version_info >= (3, 11):
                task.uncancel()
            status = LOADGEN_TIMEOUT
        except Exception as e:
            error = e
        finally:
            handle.cancel()
        done = self._clock.now()
        latency = max(0.0, done - scheduled)
        status = status or status_of(error)
        self._statuses[status] += 1
        self._all.record(latency)
        (self._ok if status == OK else self._failed).record(latency)
        self._completed += 1
        self._last_completion = done

    async def run(self, start_at: float | None = None) -> LoadResult:
        """Offer the load (request 0 at ``start_at``, default now) and wait for every answer."""
        if self._t0 is not None:
            raise RuntimeError("an OpenLoop runs once; make a new one")
        clock = self._clock
        spec = self.spec
        t0 = clock.now() if start_at is None else start_at
        self._t0 = t0
        loop = asyncio.get_running_loop()
        try:
            for i in range(spec.planned):
                at = t0 + spec.scheduled_at(i)
                delay = at - clock.now()
                if delay > 0:
                    await clock.sleep(delay)
                self._scheduled += 1
                if len(self._tasks) >= spec.max_outstanding:
                    self._dropped += 1
                    self._statuses[DROPPED] += 1
                    continue
                self._lag.record(max(0.0, clock.now() - at))
                task = loop.create_task(self._one(at))
                self._sent += 1
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            if self._tasks:
                await asyncio.gather(*tuple(self._tasks))
        finally:
            pending = tuple(self._tasks)
            for t in pending:
                t.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
        end = self._last_completion if self._last_completion is not None else clock.now()
        return LoadResult(
            planned=spec.planned,
            sent=self._sent,
            dropped=self._dropped,
            statuses=dict(self._statuses),
            latency=self._all.statistics(),
            ok_latency=self._ok.statistics(),
            failed_latency=self._failed.statistics(),
            fire_lag=self._lag.statistics(),
            elapsed=max(0.0, end - t0),
        )

    def statistics(self) -> OpenLoopStatistics:
        """Progress so far (safe to call while :meth:`run` is running)."""
        return OpenLoopStatistics(
            planned=self.spec.planned,
            scheduled=self._scheduled,
            completed=self._completed,
            outstanding=len(self._tasks),
            dropped=self._dropped,
            failed=self._completed - self._statuses.get(OK, 0),
        )

    def __repr__(self) -> str:
        s = self.statistics()
        return (
            f"OpenLoop(rate={self.spec.rate:g}/s, {s.completed}/{s.planned} done, "
            f"outstanding={s.outstanding}, dropped={s.dropped})"
        )
