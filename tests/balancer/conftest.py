"""Helpers for balancer tests: endpoints over stub backends whose health a test sets."""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pytest

from finpy import Address, Endpoint, ManualClock, Service, Status
from finpy.balancer import Balancer


class Backend(Service[str, str]):
    """A stub transport: answers its own name; ``health`` is its status."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.health = Status.OPEN
        self.calls = 0

    async def __call__(self, request: str, /) -> str:
        self.calls += 1
        return self.name

    @property
    def status(self) -> Status:
        return self.health


MakeEndpoints = Callable[..., list[Endpoint[str, str]]]


@pytest.fixture
def make_endpoints() -> MakeEndpoints:
    """``make_endpoints(n, zone=None, weights=None, host_prefix="10.0")`` -> endpoints."""

    def make(
        n: int,
        *,
        zone: str | None = None,
        weights: Sequence[float] | None = None,
        first: int = 0,
        host_prefix: str = "10.0",
    ) -> list[Endpoint[str, str]]:
        out: list[Endpoint[str, str]] = []
        for k in range(first, first + n):
            w = 1.0 if weights is None else weights[k - first]
            md = {} if zone is None else {"zone": zone}
            addr = Address(f"{host_prefix}.{k // 250}.{k % 250 + 1}", 8000, w, md)
            out.append(Endpoint(addr, Backend(addr.authority)))
        return out

    return make


def set_health(endpoint: Endpoint[str, str], status: Status) -> None:
    """Make ``endpoint`` report ``status`` (through its stub backend)."""
    backend = endpoint.service
    assert isinstance(backend, Backend)
    backend.health = status


def count_picks(balancer: Balancer[str, str], picks: int) -> Counter[str]:
    """How many of ``picks`` picks each endpoint (by authority) got."""
    c: Counter[str] = Counter()
    for _ in range(picks):
        c[balancer.pick().address.authority] += 1
    return c


@dataclass
class Simulation:
    """Result of :func:`simulate`: requests per endpoint and the time the run ended."""

    served: Counter[str] = field(default_factory=Counter)
    end: float = 0.0


def simulate(
    balancer: Balancer[str, str],
    clock: ManualClock,
    *,
    requests: int,
    rate: float,
    service_time: Callable[[Endpoint[str, str]], float],
) -> Simulation:
    """Open-loop load on virtual time: ``rate`` arrivals/s, each held ``service_time(ep)``.

    Requests go through the endpoints' load accounting and latency observers
    exactly as :meth:`Endpoint.__call__` would do it, without an event loop.
    """
    sim = Simulation()
    done: list[tuple[float, int, Endpoint[str, str], float]] = []
    for k in range(requests):
        t = k / rate
        while done and done[0][0] <= t:
            at, _, ep, started = heapq.heappop(done)
            clock.advance(at - clock.now())
            ep.pending -= 1
            if ep.observer is not None:
                ep.observer.end(started, True)
        clock.advance(t - clock.now())
        ep = balancer.pick()
        ep.pending += 1
        started = ep.observer.begin() if ep.observer is not None else clock.now()
        sim.served[ep.address.authority] += 1
        heapq.heappush(done, (t + service_time(ep), k, ep, started))
    sim.end = clock.now()
    return sim


@pytest.fixture(name="set_health")
def _set_health() -> Callable[[Endpoint[str, str], Status], None]:
    """The :func:`set_health` helper."""
    return set_health


@pytest.fixture(name="count_picks")
def _count_picks() -> Callable[[Balancer[str, str], int], Counter[str]]:
    """The :func:`count_picks` helper."""
    return count_picks


@pytest.fixture(name="simulate")
def _simulate() -> Callable[..., Simulation]:
    """The :func:`simulate` helper."""
    return simulate
