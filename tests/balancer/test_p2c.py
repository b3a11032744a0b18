"""Tests of ``finpy.balancer.p2c``: power of two choices, least loaded per unit of weight."""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import pytest

from finpy import Address, Endpoint, NoEndpointsError, P2CLeastLoaded, Service, Status

PICKS = 4000


class Backend(Service[str, str]):
    def __init__(self, status: Status = Status.OPEN) -> None:
        self.health = status

    async def __call__(self, request: str, /) -> str:
        return "ok"

    @property
    def status(self) -> Status:
        return self.health


def ep(
    i: int, *, pending: int = 0, weight: float = 1.0, status: Status = Status.OPEN
) -> Endpoint[str, str]:
    e: Endpoint[str, str] = Endpoint(Address(f"10.0.0.{i}", 1, weight), Backend(status))
    e.pending = pending
    return e


def balancer(*eps: Endpoint[str, str], seed: int = 0) -> P2CLeastLoaded[str, str]:
    b = P2CLeastLoaded[str, str](rng=random.Random(seed))
    b.update(eps)
    return b


def counts(b: P2CLeastLoaded[str, str], n: int = PICKS) -> Counter[int]:
    return Counter(b.endpoints.index(b.pick()) for _ in range(n))


def test_no_endpoints_raises() -> None:
    """pick() on an empty balancer raises NoEndpointsError."""
    with pytest.raises(NoEndpointsError):
        balancer().pick()


def test_single_endpoint_is_always_picked_whatever_its_state() -> None:
    """With one endpoint there is no choice: it is picked even when BUSY (fail open)."""
    only = ep(1, status=Status.BUSY, pending=9)
    b = balancer(only)
    assert all(b.pick() is only for _ in range(10))


@pytest.mark.parametrize("seed", range(5))
def test_two_choices_are_always_distinct(seed: int) -> None:
    """The two random choices are never the same endpoint: with two endpoints the less loaded always wins."""
    b = balancer(ep(1, pending=3), ep(2, pending=1), seed=seed)
    assert counts(b, 500) == Counter({1: 500})


@pytest.mark.parametrize("seed", range(5))
def test_most_loaded_endpoint_is_never_picked(seed: int) -> None:
    """With distinct loads the most loaded endpoint always loses its pair, so it is never picked."""
    b = balancer(ep(1, pending=0), ep(2, pending=1), ep(3, pending=2), ep(4, pending=3), seed=seed)
    c = counts(b)
    assert c[3] == 0
    # the least loaded wins whenever drawn: 2 of every n pairs (distinct choices), so ~50% of 4
    assert c[0] / PICKS == pytest.approx(0.5, abs=0.03)
    assert c[1] / PICKS == pytest.approx(2 / 6, abs=0.03)
    assert c[2] / PICKS == pytest.approx(1 / 6, abs=0.03)


@pytest.mark.parametrize("seed", range(3))
def test_open_endpoint_beats_a_busy_one_whatever_the_load(seed: int) -> None:
    """In a pair, an OPEN endpoint wins over a BUSY one even if it is more loaded."""
    b = balancer(ep(1, pending=50), ep(2, pending=0, status=Status.BUSY), seed=seed)
    assert counts(b, 500) == Counter({0: 500})


def test_busy_endpoint_picked_only_when_paired_with_another_busy_one() -> None:
    """Among three endpoints, a BUSY one is picked only if both choices are BUSY."""
    b = balancer(ep(1, pending=9), ep(2, status=Status.BUSY), ep(3, status=Status.CLOSED), seed=11)
    c = counts(b)
    # the OPEN endpoint is in 2 of the 3 possible pairs and always wins them
    assert c[0] / PICKS == pytest.approx(2 / 3, abs=0.03)
    assert c[1] + c[2] == PICKS - c[0]


def test_all_endpoints_unhealthy_still_picks_least_loaded() -> None:
    """When no endpoint is OPEN, P2C still picks (by load) rather than failing."""
    b = balancer(ep(1, pending=5, status=Status.BUSY), ep(2, pending=1, status=Status.BUSY))
    assert counts(b, 200) == Counter({1: 200})


def test_load_is_divided_by_weight() -> None:
    """Load compares pending/weight: a heavier endpoint with more requests can still win."""
    b = balancer(ep(1, pending=3, weight=4.0), ep(2, pending=1, weight=1.0))  # 0.75 vs 1.0
    assert counts(b, 300) == Counter({0: 300})


@pytest.mark.parametrize("seed", range(3))
def test_equal_loads_spread_uniformly(seed: int) -> None:
    """With equal loads the picks spread evenly over all endpoints (seeded, fixed outcome)."""
    b = balancer(*(ep(i) for i in range(1, 6)), seed=seed)
    c = counts(b, 5000)
    for i in range(5):
        assert c[i] / 5000 == pytest.approx(0.2, abs=0.03)


def test_equal_weighted_loads_tie_randomly() -> None:
    """A tie in pending/weight is broken at random, not always in favour of the first choice."""
    b = balancer(ep(1, pending=2, weight=2.0), ep(2, pending=1, weight=1.0), seed=5)
    c = counts(b, 2000)
    assert c[0] / 2000 == pytest.approx(0.5, abs=0.05)


def test_same_seed_same_picks() -> None:
    """A seeded rng makes the sequence of picks reproducible."""
    a = balancer(*(ep(i) for i in range(1, 8)), seed=42)
    b = balancer(*(ep(i) for i in range(1, 8)), seed=42)
    assert [a.endpoints.index(a.pick()) for _ in range(50)] == [
        b.endpoints.index(b.pick()) for _ in range(50)
    ]


async def test_pending_load_from_real_requests_steers_picks() -> None:
    """Requests in flight (Endpoint.pending) make P2C send new requests to the idle endpoint."""
    gate = asyncio.Event()

    class Held(Service[str, str]):
        async def __call__(self, request: str, /) -> str:
            await gate.wait()
            return "held"

    held: Endpoint[str, str] = Endpoint(Address("10.0.0.1", 1), Held())
    idle = ep(2)
    b = balancer(held, seed=1)
    in_flight = [asyncio.create_task(b("x")) for _ in range(3)]
    for _ in range(3):
        await asyncio.sleep(0)
    assert held.pending == 3
    b.update((held, idle))
    assert [await b("y") for _ in range(20)] == ["ok"] * 20
    gate.set()
    await asyncio.gather(*in_flight)
