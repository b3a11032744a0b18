"""Tests of ``finpy.balancer.stats``: per-balancer and per-endpoint statistics."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from finpy import Address, Endpoint, FunctionService, ManualClock, Status
from finpy.accrual import FailureAccrualFilter
from finpy.balancer import P2CPeakEwma, PeakEwma
from finpy.balancer.stats import endpoint_statistics, find_breaker


async def test_balancer_statistics_count_endpoints_unhealthy_panics_and_picks(
    make_endpoints: Callable[..., Any], set_health: Callable[..., None]
) -> None:
    """statistics() reports size, unhealthy count, panic mode, panics, picks and load."""
    b: P2CPeakEwma[str, str] = P2CPeakEwma(clock=ManualClock(), rng=random.Random(60))
    eps = make_endpoints(4)
    set_health(eps[0], Status.BUSY)
    eps[1].pending = 3
    b.update(eps)
    for _ in range(10):
        await b("x")
    s = b.statistics()
    assert (s.kind, s.endpoints, s.unhealthy, s.panic, s.panics, s.picks, s.pending) == (
        "P2CPeakEwma",
        4,
        1,
        False,
        0,
        10,
        3,
    )
    assert "unhealthy=1" in repr(b)


def test_endpoint_statistics_show_load_estimate_and_breaker() -> None:
    """Per endpoint: address, zone, weight, status, pending, estimate, breaker, ejections."""
    clock = ManualClock()
    f: FailureAccrualFilter[str, str] = FailureAccrualFilter.create(clock=clock)

    async def ok(request: str) -> str:
        return request

    ep: Endpoint[str, str] = Endpoint(
        Address("10.0.0.1", 80, 2.0, {"zone": "eu-1"}), f.and_then(FunctionService(ok))
    )
    assert find_breaker(ep.service) is f.breaker
    b: P2CPeakEwma[str, str] = P2CPeakEwma(clock=clock)
    b.update([ep])
    assert isinstance(ep.observer, PeakEwma)
    ep.observer.observe(0.004, 0.0)
    for _ in range(5):
        f.breaker.on_failure(False)
    (s,) = b.endpoint_statistics()
    assert s.address == "10.0.0.1:80" and s.zone == "eu-1" and s.weight == 2.0
    assert s.status == "busy" and s.breaker == "dead"
    assert (s.ejections, s.revivals, s.pending) == (1, 0, 0)
    assert s.estimate is not None and abs(s.estimate - 0.004) < 1e-9


def test_endpoint_without_accrual_or_measurement(make_endpoints: Callable[..., Any]) -> None:
    """An endpoint with neither a breaker nor an observer reports None for both."""
    (ep,) = make_endpoints(1)
    s = endpoint_statistics(ep)
    assert s.breaker is None and s.estimate is None and s.ejections == 0
