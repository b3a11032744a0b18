"""``EndpointSet``: keeps a balancer's endpoints in step with discovery.

It subscribes to a :class:`~finpy.resolver.Resolution` and turns every
``Bound`` state into endpoint changes:

* an address that appears gets a new endpoint (built by ``make_endpoint``),
  used by the next pick;
* an address that stays keeps its endpoint, so per-endpoint state (load,
  latency estimates, breaker) survives updates; new weight/metadata is taken;
* an address that disappears is *drained*: no new requests, the ones in flight
  finish, then its transport closes.

``Pending`` and ``Failed`` never touch a set that was bound once: a failure of
discovery is not a failure of the service (last known good).  Before the first
binding, requests wait for it, bounded by their deadline, and fail fast with a
:class:`~finpy.errors.ResolutionError` if discovery has failed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from finpy.address import Address
from finpy.balancer.base import Balancer
from finpy.clock import SYSTEM_CLOCK, Clock
from finpy.context import time_remaining
from finpy.endpoint import Endpoint
from finpy.errors import DeadlineExceededError, ResolutionError, ServiceClosedError
from finpy.resolver.resolution import Resolution
from finpy.resolver.state import Bound, Failed, Negative, Pending, ResolutionState
from finpy.service import Service, Status

__all__ = ["EndpointSet", "EndpointSetStatistics"]

log = logging.getLogger("finpy.endpoints")

Req = TypeVar("Req")
Rep = TypeVar("Rep")


@dataclass(frozen=True, slots=True)
class EndpointSetStatistics:
    """A snapshot of the endpoint set."""

    endpoints: int
    open: int
    busy: int
    draining: int
    pending_requests: int
    updates: int
    added: int
    removed: int
    last_state: str


def _settled(state: ResolutionState) -> bool:
    """Whether a state ends the wait for the first binding (Pending does not)."""
    return isinstance(state, (Bound, Negative, Failed))


class EndpointSet(Service[Req, Rep], Generic[Req, Rep]):
    """Endpoints for the addresses of a resolution, balanced by ``balancer``."""

    def __init__(
        self,
        resolution: Resolution,
        make_endpoint: Callable[[Address], Service[Req, Rep]],
        balancer: Balancer[Req, Rep],
        *,
        clock: Clock = SYSTEM_CLOCK,
        drain_timeout: float | None = 30.0,
    ) -> None:
        self.resolution = resolution
        self.balancer = balancer
        self._make_endpoint = make_endpoint
        self._clock = clock
        self._drain_timeout = drain_timeout
        self._endpoints: dict[tuple[str, int], Endpoint[Req, Rep]] = {}
        self._draining: set[Endpoint[Req, Rep]] = set()
        self._drain_tasks: set[asyncio.Task[None]] = set()
        self._bound = False
        self._closed = False
        self._updates = self._added = self._removed = 0
        self._last_state: ResolutionState = Pending()
        # requests waiting for the first binding; woken by _on_state, failed by aclose
        self._bound_waiters: set[asyncio.Future[ResolutionState]] = set()
        self._unsubscribe = resolution.subscribe(self._on_state)

    # -- discovery side -------------------------------------------------------------------

    def _on_state(self, state: ResolutionState) -> None:
        self._last_state = state
        if self._closed:
            return
        if isinstance(state, Bound):
            self._apply(state.addresses)
        elif isinstance(state, Negative):
            log.warning("target %r does not exist (%s)", self.resolution.target, state.reason)
            self._apply(())
        elif isinstance(state, Failed) and self._bound:
            log.warning(
                "discovery of %r failed, keeping %d endpoints: %r",
                self.resolution.target,
                len(self._endpoints),
                state.error,
            )
        if _settled(state):
            for fut in self._bound_waiters:
                if not fut.done():
                    fut.set_result(state)

    def _apply(self, addresses: tuple[Address, ...]) -> None:
        self._updates += 1
        self._bound = True
        new: dict[tuple[str, int], Endpoint[Req, Rep]] = {}
        for addr in addresses:
            ep = self._endpoints.pop(addr.key, None) or new.get(addr.key)
            if ep is None:
                try:
                    ep = Endpoint(addr, self._make_endpoint(addr))
                except Exception:
                    log.exception("could not build an endpoint for %s; skipping it", addr)
                    continue
                self._added += 1
            else:
                ep.update_address(addr)
            new[addr.key] = ep
        removed = list(self._endpoints.values())
        self._endpoints = new
        self.balancer.update(list(new.values()))
        for ep in removed:
            self._removed += 1
            self._start_drain(ep)

    def _start_drain(self, ep: Endpoint[Req, Rep]) -> None:
        self._draining.add(ep)
        try:
            task = asyncio.get_running_loop().create_task(ep.drain(self._drain_timeout))
        except RuntimeError:  # no loop (updates published from sync code): close lazily
            ep._draining = True
            return
        self._drain_tasks.add(task)

        def done(t: asyncio.Task[None]) -> None:
            self._drain_tasks.discard(t)
            self._draining.discard(ep)

        task.add_done_callback(done)

    # -- request side ---------------------------------------------------------------------

    async def __call__(self, request: Req, /) -> Rep:
        if not self._bound:
            await self._wait_bound()
        return await self.balancer(request)

    async def _wait_bound(self) -> None:
        if self._closed:
            raise ServiceClosedError("client is closed")
        state = self.resolution.state
        if not _settled(state):
            fut: asyncio.Future[ResolutionState] = asyncio.get_running_loop().create_future()
            self._bound_waiters.add(fut)
            remaining = time_remaining(self._clock)
            try:
                if remaining is None:
                    state = await fut
                else:
                    state = await asyncio.wait_for(fut, max(remaining, 0.0))
            except asyncio.TimeoutError:
                raise DeadlineExceededError(
                    f"deadline passed while waiting for {self.resolution.target!r} to resolve"
                ) from None
            finally:
                self._bound_waiters.discard(fut)
        if isinstance(state, Failed):
            raise ResolutionError(
                f"could not resolve {self.resolution.target!r}: {state.error}"
            ) from state.error

    async def wait_idle(self) -> None:
        """Wait until no request is in flight on any endpoint (draining ones included)."""
        while True:
            busy = [e for e in (*self._endpoints.values(), *self._draining) if e.pending > 0]
            if not busy:
                return
            await busy[0].wait_idle()

    @property
    def endpoints(self) -> tuple[Endpoint[Req, Rep], ...]:
        """The live endpoints (not the draining ones)."""
        return tuple(self._endpoints.values())

    @property
    def status(self) -> Status:
        if self._closed:
            return Status.CLOSED
        return self.balancer.status if self._bound else Status.BUSY

    def statistics(self) -> EndpointSetStatistics:
        eps = self._endpoints.values()
        return EndpointSetStatistics(
            endpoints=len(self._endpoints),
            open=sum(1 for e in eps if e.status is Status.OPEN),
            busy=sum(1 for e in eps if e.status is Status.BUSY),
            draining=len(self._draining),
            pending_requests=sum(e.pending for e in eps) + sum(e.pending for e in self._draining),
            updates=self._updates,
            added=self._added,
            removed=self._removed,
            last_state=type(self._last_state).__name__,
        )

    async def aclose(self) -> None:
        """Stop following discovery and close every endpoint (draining ones too)."""
        if self._closed:
            return
        self._closed = True
        self._bound = False  # every later request goes through _wait_bound, which refuses it
        self._unsubscribe()
        for fut in self._bound_waiters:
            if not fut.done():
                fut.set_exception(ServiceClosedError("client is closed"))
        endpoints = [*self._endpoints.values(), *self._draining]
        self._endpoints = {}
        self.balancer.update(())
        for t in self._drain_tasks:
            t.cancel()
        await asyncio.gather(*self._drain_tasks, return_exceptions=True)
        await asyncio.gather(*(e.aclose() for e in endpoints), return_exceptions=True)
        await self.balancer.aclose()

    def __repr__(self) -> str:
        s = self.statistics()
        return f"EndpointSet({self.resolution.target!r}, endpoints={s.endpoints}, open={s.open}, draining={s.draining})"
