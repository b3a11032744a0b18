"""``Endpoint``: one address, the stack that talks to it, and its load.

The endpoint counts requests in flight (its *load*, which least-loaded
balancers read) and implements *draining*: when discovery removes an address,
the endpoint stops being picked but lets the requests already sent finish
before it closes its transport.  Streaming responses count as in flight until
the stream ends: a response object may expose ``finpy_on_complete(callback)``,
and the endpoint releases the request slot when the callback fires.

An endpoint can carry a :class:`LatencyObserver` (``observer``), which
latency-aware balancers attach: it is told when each request starts and how it
ended, in O(1) and without allocating, so round-trip estimates live with the
endpoint and survive balancer updates.
"""

from __future__ import annotations

import asyncio
import contextlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

from finpy.address import Address
from finpy.errors import ServiceClosedError
from finpy.service import Service, Status

__all__ = ["Completion", "Endpoint", "LatencyObserver"]

Req = TypeVar("Req")
Rep = TypeVar("Rep")


class Completion(ABC):
    """A response that is still in progress after it is returned (a stream).

    Any class with a ``finpy_on_complete`` method counts (structural, like a
    protocol), but ``isinstance`` is an ABC check cached per type: it runs on
    every request, where a ``runtime_checkable`` protocol would cost
    microseconds.
    """

    __slots__ = ()

    @abstractmethod
    def finpy_on_complete(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once when the response has finished, however it ended."""

    @classmethod
    def __subclasshook__(cls, other: type) -> Any:
        if cls is Completion:
            return any("finpy_on_complete" in vars(base) for base in other.__mro__)
        return NotImplemented


class LatencyObserver(Protocol):
    """Measures an endpoint's round trips (see :class:`finpy.balancer.PeakEwma`)."""

    def begin(self) -> float:
        """A request is being sent; return its start time (handed back to :meth:`end`)."""
        ...

    def end(self, started: float, ok: bool | None) -> None:
        """The request sent at ``started`` returned.

        ``ok`` is True for a complete response (a latency sample), False for a
        failure (raised), None for a response still streaming (no sample).
        """
        ...


class Endpoint(Service[Req, Rep], Generic[Req, Rep]):
    """A per-address service with load accounting, status and draining."""

    __slots__ = ("_closed", "_draining", "_idle", "address", "observer", "pending", "service")

    def __init__(self, address: Address, service: Service[Req, Rep]) -> None:
        self.address = address
        self.service = service
        #: Requests (and open streams) currently in flight on this endpoint.
        self.pending = 0
        self._draining = False
        self._closed = False
        self._idle: asyncio.Event | None = None
        #: Round-trip measurement, attached by latency-aware balancers (``None``: none).
        self.observer: LatencyObserver | None = None

    async def __call__(self, request: Req, /) -> Rep:
        if self._closed:
            raise ServiceClosedError(f"endpoint {self.address} is closed")
        self.pending += 1
        observer = self.observer
        started = 0.0 if observer is None else observer.begin()
        try:
            rep = await self.service(request)
        except BaseException:
            self._release()
            if observer is not None:
                observer.end(started, False)
            raise
        if isinstance(rep, Completion):
            try:
                rep.finpy_on_complete(self._release_once())
            except BaseException:
                self._release()  # the stream cannot report its end: do not leak the slot
                raise
            if observer is not None:
                observer.end(started, None)
        else:
            self._release()
            if observer is not None:
                observer.end(started, True)
        return rep

    def _release_once(self) -> Callable[[], None]:
        """A release callback for a stream: the first call releases, later ones do nothing."""
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self._release()

        return release

    def _release(self) -> None:
        self.pending -= 1
        if self.pending == 0 and self._idle is not None:
            self._idle.set()
            self._idle = None

    async def wait_idle(self) -> None:
        """Wait until no request or stream is in flight on this endpoint."""
        while self.pending > 0:
            if self._idle is None:
                self._idle = asyncio.Event()
            await self._idle.wait()

    @property
    def status(self) -> Status:
        if self._closed:
            return Status.CLOSED
        if self._draining:
            return Status.BUSY
        return self.service.status

    @property
    def draining(self) -> bool:
        return self._draining

    def update_address(self, address: Address) -> None:
        """Take new weight/metadata for the same host:port."""
        if address.key != self.address.key:
            raise ValueError(f"endpoint {self.address} cannot become {address}")
        self.address = address

    async def drain(self, timeout: float | None = None) -> None:
        """Stop taking new requests, wait for in-flight ones (bounded), then close."""
        self._draining = True
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.wait_idle(), timeout)
        await self.aclose()

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self.service.aclose()

    def __repr__(self) -> str:
        state = (
            "closed"
            if self._closed
            else "draining"
            if self._draining
            else self.service.status.value
        )
        return f"Endpoint({self.address.authority}, pending={self.pending}, {state})"
