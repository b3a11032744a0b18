"""``Filter``: a reusable piece of behaviour around a service.

A filter sees the request on its way down and the response (or the failure) on
its way up, and decides whether and how to call the service below.  Filters
compose with :meth:`Filter.and_then`::

    client = deadline.and_then(retries).and_then(balancer)   # a Service

Filters here keep the request and response types (Finagle's ``SimpleFilter``);
protocol adapters convert types at the edges.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Coroutine
from typing import Any, Generic, TypeVar, overload

from finpy.service import Service, Status

__all__ = ["Filter", "FilteredService"]

Req = TypeVar("Req")
Rep = TypeVar("Rep")


class Filter(ABC, Generic[Req, Rep]):
    """Behaviour around a service: ``await filter(request, service)``."""

    __slots__ = ()

    @abstractmethod
    async def __call__(self, request: Req, service: Service[Req, Rep], /) -> Rep:
        """Handle ``request``, usually by calling ``service`` at some point."""

    @overload
    def and_then(self, next: Service[Req, Rep]) -> Service[Req, Rep]: ...
    @overload
    def and_then(self, next: Filter[Req, Rep]) -> Filter[Req, Rep]: ...
    def and_then(
        self, next: Service[Req, Rep] | Filter[Req, Rep]
    ) -> Service[Req, Rep] | Filter[Req, Rep]:
        """Put ``next`` below this filter: a filter gives a filter, a service a service."""
        if isinstance(next, Filter):
            return _ComposedFilter(self, next)
        if isinstance(next, Service):
            return self._wrap(next)
        raise TypeError(f"and_then takes a Filter or a Service, got {next!r}")

    def _wrap(self, service: Service[Req, Rep]) -> Service[Req, Rep]:
        return FilteredService(self, service)


class _ComposedFilter(Filter[Req, Rep]):
    __slots__ = ("_inner", "_outer")

    def __init__(self, outer: Filter[Req, Rep], inner: Filter[Req, Rep]) -> None:
        self._outer = outer
        self._inner = inner

    async def __call__(self, request: Req, service: Service[Req, Rep], /) -> Rep:
        return await self._outer(request, FilteredService(self._inner, service))

    def _wrap(self, service: Service[Req, Rep]) -> Service[Req, Rep]:
        # flattened, so the per-call path has no extra composition layers
        return self._outer._wrap(self._inner._wrap(service))

    def __repr__(self) -> str:
        return f"{self._outer!r}.and_then({self._inner!r})"


class FilteredService(Service[Req, Rep]):
    """``filter`` applied to ``service``: itself a service.

    ``status`` and ``aclose()`` go to the service underneath.
    """

    __slots__ = ("filter", "service")

    def __init__(self, filter: Filter[Req, Rep], service: Service[Req, Rep]) -> None:
        self.filter = filter
        self.service = service

    def __call__(self, request: Req, /) -> Coroutine[Any, Any, Rep]:
        # Not ``async``: hand back the filter's own coroutine, so each layer of a stack
        # costs one coroutine frame per call instead of two.
        return self.filter(request, self.service)

    async def aclose(self) -> None:
        await self.service.aclose()

    @property
    def status(self) -> Status:
        return self.service.status

    def __repr__(self) -> str:
        return f"{self.filter!r}.and_then({self.service!r})"
