"""The ``Balancer`` interface: pick one endpoint per request.

A balancer is a :class:`~finpy.service.Service` over a set of endpoints that
it is told about with :meth:`Balancer.update`.  Updates replace the set
atomically; a request already dispatched to an endpoint is not disturbed by
an update (the endpoint set drains removed endpoints separately).

The pick itself is plain synchronous code (:meth:`Balancer.pick`), so it can
be tested and measured without I/O.

Health: every balancer has a :class:`~finpy.balancer.panic.HealthGauge`
(``self.health``) that counts unhealthy (not ``OPEN``) endpoints on each
update and, for balancers that tick it, every few picks; health-aware
balancers avoid unhealthy endpoints unless more than ``panic_threshold`` of
them are unhealthy (panic mode: pick among all).  :meth:`Balancer.statistics`
and :meth:`Balancer.endpoint_statistics` report it.
"""

from __future__ import annotations

import random
from abc import abstractmethod
from collections.abc import Sequence
from typing import Generic, TypeVar

from finpy.balancer.panic import DEFAULT_PANIC_THRESHOLD, HealthGauge
from finpy.balancer.stats import BalancerStatistics, EndpointStatistics, endpoint_statistics
from finpy.context import _TRIED
from finpy.endpoint import Endpoint
from finpy.errors import NoEndpointsError
from finpy.service import Service, Status

__all__ = ["Balancer"]

Req = TypeVar("Req")
Rep = TypeVar("Rep")


class Balancer(Service[Req, Rep], Generic[Req, Rep]):
    """Distributes requests over endpoints; subclasses implement :meth:`pick`."""

    def __init__(
        self,
        *,
        rng: random.Random | None = None,
        panic_threshold: float = DEFAULT_PANIC_THRESHOLD,
    ) -> None:
        self.endpoints: tuple[Endpoint[Req, Rep], ...] = ()
        self.rng = rng if rng is not None else random.Random()
        #: Total picks made, for statistics.
        self.picks = 0
        #: Unhealthy endpoint count and panic mode (see :mod:`finpy.balancer.panic`).
        self.health = HealthGauge(panic_threshold)

    def update(self, endpoints: Sequence[Endpoint[Req, Rep]]) -> None:
        """Replace the endpoint set (in-flight requests are not affected)."""
        self.endpoints = tuple(endpoints)
        self._on_update()
        self.health.refresh(self.endpoints)

    def _on_update(self) -> None:
        """Hook for subclasses that precompute from the endpoint set."""

    @abstractmethod
    def pick(self) -> Endpoint[Req, Rep]:
        """Choose an endpoint for one request; raise :class:`NoEndpointsError` if none."""

    def _no_endpoints(self) -> NoEndpointsError:
        return NoEndpointsError(f"{type(self).__name__}: no endpoints to send the request to")

    async def __call__(self, request: Req, /) -> Rep:
        endpoint = self.pick()
        self.picks += 1
        tried = _TRIED.get()
        if tried is not None:  # a retry/hedge: prefer an endpoint not tried yet
            if tried and endpoint.address.key in tried and len(self.endpoints) > 1:
                for _ in range(3):
                    other = self.pick()
                    if other.address.key not in tried:
                        endpoint = other
                        break
                else:  # the picks keep choosing tried endpoints (a small set): look around
                    untried = self._untried(tried)
                    if untried is not None:
                        endpoint = untried
            tried.append(endpoint.address.key)
        return await endpoint(request)

    def _untried(self, tried: list[tuple[str, int]]) -> Endpoint[Req, Rep] | None:
        """An OPEN endpoint not in ``tried``, from a random start (at most 64 looked at)."""
        eps = self.endpoints
        n = len(eps)
        start = self.rng.randrange(n)
        for step in range(min(n, 64)):
            ep = eps[(start + step) % n]
            if ep.status is Status.OPEN and ep.address.key not in tried:
                return ep
        return None

    @property
    def status(self) -> Status:
        if not self.endpoints:
            return Status.BUSY
        return Status.OPEN if any(e.status is Status.OPEN for e in self.endpoints) else Status.BUSY

    def statistics(self) -> BalancerStatistics:
        """Counts for this balancer (health as of the last count; see ``health``)."""
        h = self.health
        return BalancerStatistics(
            kind=type(self).__name__,
            endpoints=len(self.endpoints),
            unhealthy=h.unhealthy,
            panic=h.panic,
            panics=h.panics,
            picks=self.picks,
            pending=sum(e.pending for e in self.endpoints),
        )

    def endpoint_statistics(self) -> tuple[EndpointStatistics, ...]:
        """One snapshot per endpoint: load, round-trip estimate, status, breaker (O(n))."""
        return tuple(endpoint_statistics(e) for e in self.endpoints)

    async def aclose(self) -> None:
        self.endpoints = ()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(endpoints={len(self.endpoints)})"
