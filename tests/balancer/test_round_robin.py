"""Tests of ``finpy.balancer.round_robin``: each endpoint in turn, skipping non-OPEN ones."""

from __future__ import annotations

import itertools
import random

import pytest

from finpy import Address, Endpoint, NoEndpointsError, RoundRobin, Service, Status


class Backend(Service[str, str]):
    def __init__(self, status: Status = Status.OPEN) -> None:
        self.health = status

    async def __call__(self, request: str, /) -> str:
        return "ok"

    @property
    def status(self) -> Status:
        return self.health


def endpoints(*statuses: Status) -> list[Endpoint[str, str]]:
    return [Endpoint(Address(f"10.0.0.{i + 1}", 1), Backend(s)) for i, s in enumerate(statuses)]


def picks(b: RoundRobin[str, str], n: int) -> list[int]:
    return [b.endpoints.index(b.pick()) for _ in range(n)]


def test_no_endpoints_raises() -> None:
    """pick() on an empty round-robin raises NoEndpointsError."""
    with pytest.raises(NoEndpointsError):
        RoundRobin[str, str]().pick()


@pytest.mark.parametrize("seed", range(6))
def test_cycles_through_endpoints_in_order(seed: int) -> None:
    """Consecutive picks walk the endpoints in list order, wrapping around, from some offset."""
    b = RoundRobin[str, str](rng=random.Random(seed))
    b.update(endpoints(*[Status.OPEN] * 4))
    got = picks(b, 12)
    start = got[0]
    assert got == [(start + k) % 4 for k in range(12)]


def test_start_offset_is_random_per_update() -> None:
    """Different seeds start at different endpoints, so clients do not all hit the first one."""
    starts = set()
    for seed in range(40):
        b = RoundRobin[str, str](rng=random.Random(seed))
        b.update(endpoints(*[Status.OPEN] * 4))
        starts.add(picks(b, 1)[0])
    assert starts == {0, 1, 2, 3}


def test_skips_endpoints_that_are_not_open() -> None:
    """BUSY and CLOSED endpoints are skipped while some endpoint is OPEN."""
    b = RoundRobin[str, str](rng=random.Random(0))
    b.update(endpoints(Status.OPEN, Status.BUSY, Status.OPEN, Status.CLOSED))
    got = picks(b, 8)
    assert set(got) == {0, 2}
    assert all(x != y for x, y in itertools.pairwise(got))  # still alternating


def test_all_unhealthy_still_cycles_fail_open() -> None:
    """When no endpoint is OPEN, round-robin keeps cycling over all of them instead of failing."""
    b = RoundRobin[str, str](rng=random.Random(0))
    b.update(endpoints(Status.BUSY, Status.BUSY, Status.BUSY))
    got = picks(b, 6)
    start = got[0]
    assert got == [(start + k) % 3 for k in range(6)]


def test_recovered_endpoint_rejoins_the_rotation() -> None:
    """An endpoint that becomes OPEN again is picked in its turn."""
    b = RoundRobin[str, str](rng=random.Random(0))
    eps = endpoints(Status.OPEN, Status.BUSY, Status.OPEN)
    b.update(eps)
    assert 1 not in picks(b, 6)
    backend = eps[1].service
    assert isinstance(backend, Backend)
    backend.health = Status.OPEN
    assert set(picks(b, 3)) == {0, 1, 2}


def test_update_keeps_cycling_over_the_new_set() -> None:
    """After an update with fewer endpoints every pick is valid and all new endpoints are used."""
    b = RoundRobin[str, str](rng=random.Random(3))
    b.update(endpoints(*[Status.OPEN] * 5))
    picks(b, 3)
    b.update(endpoints(Status.OPEN, Status.OPEN))
    assert sorted(picks(b, 2)) == [0, 1]
