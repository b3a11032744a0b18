"""Endpoint set churn under the latency-aware balancer: state survives, additions, drains."""

from __future__ import annotations

import asyncio
import random

from finpy import (
    Address,
    Bound,
    EndpointSet,
    Params,
    Resolution,
    Service,
    default_endpoint_stack,
)
from finpy.balancer import P2CPeakEwma, PeakEwma
from finpy.balancer.stats import find_breaker


class Gate(Service[str, str]):
    """A transport whose calls wait until the test opens the gate; records closes."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.gate = asyncio.Event()
        self.gate.set()
        self.closed = False

    async def __call__(self, request: str, /) -> str:
        await self.gate.wait()
        return self.name

    async def aclose(self) -> None:
        self.closed = True


def _addr(k: int) -> Address:
    return Address(f"10.1.0.{k}", 9000)


def _set(res: Resolution, gates: dict[int, Gate]) -> EndpointSet[str, str]:
    def make(addr: Address) -> Service[str, str]:
        gate = gates.setdefault(int(addr.host.rsplit(".", 1)[1]), Gate(addr.authority))
        return default_endpoint_stack().make(Params(), gate)

    balancer: P2CPeakEwma[str, str] = P2CPeakEwma(rng=random.Random(70))
    return EndpointSet(res, make, balancer, drain_timeout=5.0)


async def test_estimates_and_breakers_survive_updates() -> None:
    """Endpoints that stay keep their endpoint object, round-trip estimate and breaker."""
    gates: dict[int, Gate] = {}
    res = Resolution(Bound([_addr(1), _addr(2), _addr(3)]))
    es = _set(res, gates)
    try:
        for _ in range(30):
            await es("x")
        before = {e.address.key: e for e in es.endpoints}
        meters = {k: e.observer for k, e in before.items()}
        breakers = {k: find_breaker(e.service) for k, e in before.items()}
        res.publish(Bound([_addr(2), _addr(3), _addr(4)]))
        after = {e.address.key: e for e in es.endpoints}
        for key in (_addr(2).key, _addr(3).key):
            assert after[key] is before[key]
            assert after[key].observer is meters[key]
            assert find_breaker(after[key].service) is breakers[key]
        fresh = after[_addr(4).key].observer
        assert isinstance(fresh, PeakEwma) and fresh.samples == 0
    finally:
        await es.aclose()


async def test_added_endpoint_is_used_at_once() -> None:
    """A new endpoint (no history, idle) wins the very next pair it is drawn into."""
    gates: dict[int, Gate] = {}
    res = Resolution(Bound([_addr(1), _addr(2)]))
    es = _set(res, gates)
    try:
        for _ in range(20):
            await es("x")
        res.publish(Bound([_addr(1), _addr(2), _addr(3)]))
        replies = [await es("x") for _ in range(10)]
        assert _addr(3).authority in replies
    finally:
        await es.aclose()


async def test_removed_endpoint_drains_before_closing() -> None:
    """A removed endpoint gets no new requests, finishes the one in flight, then closes."""
    gates: dict[int, Gate] = {}
    res = Resolution(Bound([_addr(1)]))
    es = _set(res, gates)
    try:
        await es("x")
        gates[1].gate.clear()
        in_flight = asyncio.ensure_future(es("x"))
        await asyncio.sleep(0)
        res.publish(Bound([_addr(2)]))
        assert await es("y") == _addr(2).authority
        assert not gates[1].closed and not in_flight.done()
        gates[1].gate.set()
        assert await in_flight == _addr(1).authority
        await asyncio.wait_for(es.wait_idle(), 5)
        for _ in range(5):
            await asyncio.sleep(0)
        assert gates[1].closed
    finally:
        await es.aclose()
