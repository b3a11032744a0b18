"""``Service``: an asynchronous function from request to response, with a lifecycle.

A service is the unit everything in finpy is made of: a transport to one
endpoint is a service, a load balancer over endpoints is a service, and a
client is a service wrapped in filters.  ``status`` tells a load balancer
whether the service can take traffic now (``OPEN``), is alive but should be
avoided (``BUSY``: ejected, reconnecting, draining) or is gone (``CLOSED``).
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Generic, TypeVar

from typing_extensions import Self

__all__ = ["FunctionService", "Service", "Status"]

Req = TypeVar("Req", contravariant=True)
Rep = TypeVar("Rep", covariant=True)


class Status(enum.Enum):
    """Availability of a service, as seen by whoever routes traffic to it."""

    OPEN = "open"
    """Ready to take requests."""
    BUSY = "busy"
    """Alive but should not be picked if anything else is OPEN."""
    CLOSED = "closed"
    """Closed for good; requests fail."""


class Service(ABC, Generic[Req, Rep]):
    """An asynchronous ``request -> response`` function with ``aclose()`` and ``status``."""

    __slots__ = ()

    @abstractmethod
    async def __call__(self, request: Req, /) -> Rep:
        """Handle one request."""

    async def aclose(self) -> None:
        """Release what the service holds (channels, tasks).  Idempotent."""

    @property
    def status(self) -> Status:
        """Whether the service takes traffic now (``OPEN``) or not."""
        return Status.OPEN

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class FunctionService(Service[Req, Rep]):
    """A service made from a plain ``async def f(request) -> response``."""

    __slots__ = ("_fn",)

    def __init__(self, fn: Callable[[Req], Awaitable[Rep]]) -> None:
        self._fn = fn

    async def __call__(self, request: Req, /) -> Rep:
        return await self._fn(request)

    def __repr__(self) -> str:
        return f"FunctionService({getattr(self._fn, '__qualname__', self._fn)!r})"
