"""Micro-benchmarks of load balancing: pick cost at scale, aperture connection counts.

These are the numbers behind the "scale" bar (pick cost among 10,000
endpoints <= 1.5x the cost among 10; aperture bounds open connections).
They are plain functions returning frozen dataclasses, for ``finpy bench`` to
call and report; ``python -m finpy.balancer.bench`` prints them.

The pick cost is measured on realistic endpoints: each has a failure accrual
breaker in its stack (so every status read goes through it, as in a real
client) and a round-trip history.  Small and large sets are measured in
alternation and the best of several rounds is kept, so both sides see the
same machine noise; the ratio is what to compare against the bar, never the
absolute nanoseconds.
"""

from __future__ import annotations

import asyncio
import gc
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from finpy.accrual.filter import FailureAccrualFilter
from finpy.address import Address
from finpy.balancer import BALANCERS, balancer_factory
from finpy.balancer.aperture import Aperture
from finpy.balancer.base import Balancer
from finpy.balancer.ewma import peak_ewma
from finpy.clock import ManualClock
from finpy.endpoint import Endpoint
from finpy.service import Service

__all__ = [
    "ApertureConnections",
    "PickCost",
    "PickCostComparison",
    "aperture_connections",
    "compare_pick_cost",
    "make_endpoints",
    "pick_cost",
]

_T = TypeVar("_T")


class _Idle(Service[Any, Any]):
    """A transport that is never called: the benchmark measures picks only."""

    __slots__ = ("connected",)

    def __init__(self) -> None:
        self.connected = False

    async def __call__(self, request: Any, /) -> Any:  # pragma: no cover - never called
        return request


def make_endpoints(
    n: int, *, seed: int = 0, rtt: float = 0.002, accrual: bool = True
) -> list[Endpoint[Any, Any]]:
    """``n`` endpoints on distinct addresses, each with a breaker and an RTT history."""
    rng = random.Random(seed)
    clock = ManualClock()
    out: list[Endpoint[Any, Any]] = []
    for k in range(n):
        addr = Address(f"10.{k // 65025 % 250}.{k // 255 % 255}.{k % 255 + 1}", 8000)
        svc: Service[Any, Any] = _Idle()
        if accrual:
            svc = FailureAccrualFilter.create(clock=clock).and_then(svc)
        ep: Endpoint[Any, Any] = Endpoint(addr, svc)
        meter = peak_ewma(ep)
        meter.observe(rtt * (0.5 + rng.random()), 0.0)
        out.append(ep)
    return out


@dataclass(frozen=True, slots=True)
class PickCost:
    """The cost of one ``pick()`` of a balancer over a set of endpoints."""

    balancer: str
    endpoints: int
    picks: int
    ns_per_pick: float
    """Best (lowest) mean over the rounds, in nanoseconds."""


@dataclass(frozen=True, slots=True)
class PickCostComparison:
    """Pick cost among a small and a large set, measured in alternation."""

    small: PickCost
    large: PickCost

    @property
    def ratio(self) -> float:
        """Large-set cost over small-set cost (the bar: <= 1.5)."""
        return self.large.ns_per_pick / self.small.ns_per_pick


def _balancer(
    spec: str | Callable[[], Balancer[Any, Any]], endpoints: list[Endpoint[Any, Any]], seed: int
) -> Balancer[Any, Any]:
    b = balancer_factory(spec)()
    b.rng.seed(seed)
    b.update(endpoints)
    return b


def _time_picks(b: Balancer[Any, Any], picks: int) -> float:
    pick = b.pick
    start = time.perf_counter_ns()
    for _ in range(picks):
        pick()
    return (time.perf_counter_ns() - start) / picks


def _name(spec: str | Callable[[], Balancer[Any, Any]]) -> str:
    return spec if isinstance(spec, str) else getattr(spec, "__name__", repr(spec))


def pick_cost(
    balancer: str | Callable[[], Balancer[Any, Any]] = "p2c_ewma",
    endpoints: int = 10,
    *,
    picks: int = 100_000,
    repeat: int = 5,
    seed: int = 0,
) -> PickCost:
    """Nanoseconds per pick of ``balancer`` over ``endpoints`` endpoints (best of ``repeat``)."""
    b = _balancer(balancer, make_endpoints(endpoints, seed=seed), seed)

    def measure() -> float:
        _time_picks(b, min(picks, 10_000))  # warm up
        return min(_time_picks(b, picks) for _ in range(repeat))

    return PickCost(_name(balancer), endpoints, picks, _in_a_loop(measure))


def _in_a_loop(fn: Callable[[], _T]) -> _T:
    """Run ``fn`` with an event loop running (clocks read the loop's time, as in a client)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:

        async def run() -> _T:
            return fn()

        return asyncio.run(run())
    return fn()


def compare_pick_cost(
    balancer: str | Callable[[], Balancer[Any, Any]] = "p2c_ewma",
    small: int = 10,
    large: int = 10_000,
    *,
    picks: int = 100_000,
    repeat: int = 7,
    seed: int = 0,
) -> PickCostComparison:
    """Pick cost among ``small`` and ``large`` endpoints, rounds interleaved."""
    return _in_a_loop(lambda: _compare(balancer, small, large, picks, repeat, seed))


def _compare(
    balancer: str | Callable[[], Balancer[Any, Any]],
    small: int,
    large: int,
    picks: int,
    repeat: int,
    seed: int,
) -> PickCostComparison:
    bs = _balancer(balancer, make_endpoints(small, seed=seed), seed)
    bl = _balancer(balancer, make_endpoints(large, seed=seed), seed)
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        _time_picks(bs, min(picks, 10_000))
        _time_picks(bl, min(picks, 10_000))
        s_best = l_best = float("inf")
        for _ in range(repeat):
            s_best = min(s_best, _time_picks(bs, picks))
            l_best = min(l_best, _time_picks(bl, picks))
    finally:
        if gc_was_enabled:
            gc.enable()
    name = _name(balancer)
    return PickCostComparison(
        PickCost(name, small, picks, s_best), PickCost(name, large, picks, l_best)
    )


@dataclass(frozen=True, slots=True)
class ApertureConnections:
    """How many endpoints one aperture client ever sent a request to."""

    endpoints: int
    peer_index: int | None
    peer_count: int | None
    min_aperture: int
    aperture: int
    """Endpoints in the client's subset."""
    requests: int
    connections: int
    """Distinct endpoints that got a request (each would need a connection)."""


def aperture_connections(
    endpoints: int = 1000,
    *,
    peer_index: int | None = 0,
    peer_count: int | None = 100,
    min_aperture: int = 12,
    requests: int = 20_000,
    seed: int = 0,
) -> ApertureConnections:
    """Send ``requests`` picks through an aperture client; count the endpoints it touched.

    Transports connect on their first request, so the endpoints touched are the
    connections the client opens.
    """
    eps = make_endpoints(endpoints, seed=seed)
    b: Aperture[Any, Any] = Aperture(
        peer_index=peer_index,
        peer_count=peer_count,
        min_aperture=min_aperture,
        rng=random.Random(seed),
    )
    b.update(eps)
    touched: set[int] = set()
    for _ in range(requests):
        touched.add(id(b.pick()))
    return ApertureConnections(
        endpoints=endpoints,
        peer_index=peer_index,
        peer_count=peer_count,
        min_aperture=min_aperture,
        aperture=b.aperture,
        requests=requests,
        connections=len(touched),
    )


def main() -> None:
    """Print the pick-cost comparison of every balancer and the aperture figures."""
    for name in sorted(BALANCERS):
        if name == "p2c_least_loaded":
            continue
        c = compare_pick_cost(name, picks=50_000, repeat=5)
        print(
            f"{name:12s} pick: {c.small.ns_per_pick:7.0f} ns among {c.small.endpoints:>6,}, "
            f"{c.large.ns_per_pick:7.0f} ns among {c.large.endpoints:>6,}  ratio {c.ratio:.2f}"
        )
    for peers in (100, None):
        a = aperture_connections(peer_count=peers, peer_index=0 if peers else None)
        coord = f"peer 0 of {peers}" if peers else "random offset"
        print(
            f"aperture ({coord}): {a.endpoints:,} endpoints, aperture {a.aperture}, "
            f"{a.requests:,} requests -> {a.connections} connections"
        )


if __name__ == "__main__":
    main()
