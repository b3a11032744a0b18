"""Statistics of balancers and of the endpoints they balance over.

:class:`BalancerStatistics` is the per-client view (how many endpoints, how
many unhealthy, panic mode and how often it happened); :class:`EndpointStatistics`
is the per-endpoint view (load, round-trip estimate, status, breaker state,
ejections and revivals).  Both are frozen snapshots; building them reads the
endpoints but changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from finpy.accrual.breaker import Breaker
from finpy.accrual.filter import FailureAccrualService

__all__ = ["BalancerStatistics", "EndpointStatistics", "endpoint_statistics", "find_breaker"]


@dataclass(frozen=True, slots=True)
class BalancerStatistics:
    """A snapshot of one balancer."""

    kind: str
    endpoints: int
    unhealthy: int
    """Endpoints not OPEN at the last health count."""
    panic: bool
    """Whether the balancer was in panic mode at the last health count."""
    panics: int
    """Times it went into panic mode."""
    picks: int
    pending: int
    """Requests (and streams) in flight over all endpoints."""


@dataclass(frozen=True, slots=True)
class EndpointStatistics:
    """A snapshot of one endpoint as its balancer sees it."""

    address: str
    zone: str | None
    weight: float
    status: str
    pending: int
    estimate: float | None
    """Round-trip estimate in seconds (peak EWMA); None without history or measurement."""
    breaker: str | None
    """Failure accrual state (alive, dead, probe_open, probing); None without accrual."""
    ejections: int
    revivals: int


def find_breaker(service: Any) -> Breaker | None:
    """The failure-accrual breaker in an endpoint's service chain, if there is one."""
    seen = 0
    svc = service
    while svc is not None and seen < 64:
        if isinstance(svc, FailureAccrualService):
            return svc.filter.breaker
        svc = getattr(svc, "service", None)
        seen += 1
    return None


def endpoint_statistics(endpoint: Any) -> EndpointStatistics:
    """The statistics of one :class:`~finpy.endpoint.Endpoint`."""
    observer = endpoint.observer
    estimate_of = getattr(observer, "estimate", None)
    estimate = estimate_of() if callable(estimate_of) else None
    breaker = find_breaker(endpoint.service)
    address = endpoint.address
    return EndpointStatistics(
        address=address.authority,
        zone=address.zone,
        weight=address.weight,
        status=endpoint.status.value,
        pending=endpoint.pending,
        estimate=estimate if isinstance(estimate, float) else None,
        breaker=None if breaker is None else breaker.state.value,
        ejections=0 if breaker is None else breaker.ejections,
        revivals=0 if breaker is None else breaker.revivals,
    )
