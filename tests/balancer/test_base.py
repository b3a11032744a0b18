"""Tests of ``finpy.balancer.base`` and the balancer registry: the behaviour every balancer shares."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from finpy import (
    BALANCERS,
    Address,
    Balancer,
    ConfigurationError,
    Endpoint,
    NoEndpointsError,
    P2CLeastLoaded,
    RoundRobin,
    Service,
    Status,
    balancer_factory,
    endpoints_tried,
    tracking_endpoints,
)


class Backend(Service[str, str]):
    def __init__(self, name: str, status: Status = Status.OPEN) -> None:
        self.name = name
        self.health = status
        self.requests: list[str] = []

    async def __call__(self, request: str, /) -> str:
        self.requests.append(request)
        return self.name

    @property
    def status(self) -> Status:
        return self.health


def endpoints(n: int, *statuses: Status) -> list[Endpoint[str, str]]:
    return [
        Endpoint(
            Address(f"10.0.0.{i + 1}", 1),
            Backend(f"e{i}", statuses[i] if i < len(statuses) else Status.OPEN),
        )
        for i in range(n)
    ]


class First(Balancer[str, str]):
    """Always the first endpoint: makes the base-class logic visible."""

    def pick(self) -> Endpoint[str, str]:
        if not self.endpoints:
            raise self._no_endpoints()
        return self.endpoints[0]


async def test_call_sends_to_the_picked_endpoint_and_counts_picks() -> None:
    """Calling a balancer sends the request to pick()'s endpoint, through the Endpoint."""
    b = First()
    eps = endpoints(2)
    b.update(eps)
    assert await b("x") == "e0"
    assert b.picks == 1
    assert eps[0].pending == 0


async def test_empty_balancer_raises_no_endpoints_unsent() -> None:
    """With no endpoints every balancer raises NoEndpointsError (request not sent)."""
    for balancer in (First(), P2CLeastLoaded[str, str](), RoundRobin[str, str]()):
        with pytest.raises(NoEndpointsError, match=type(balancer).__name__) as info:
            await balancer("x")
        assert info.value.request_sent is False


def test_update_replaces_the_set() -> None:
    """update() replaces the endpoints atomically (a tuple copy of what was given)."""
    b = First()
    eps = endpoints(3)
    b.update(eps)
    eps.pop()
    assert len(b.endpoints) == 3
    b.update([])
    assert len(b.endpoints) == 0


def test_status_is_open_if_any_endpoint_is_open() -> None:
    """A balancer is OPEN if any endpoint is OPEN, BUSY if none is or it has none."""
    b = First()
    seen = [b.status]
    b.update(endpoints(2, Status.BUSY, Status.BUSY))
    seen.append(b.status)
    b.update(endpoints(2, Status.BUSY, Status.OPEN))
    seen.append(b.status)
    assert seen == [Status.BUSY, Status.BUSY, Status.OPEN]


async def test_aclose_forgets_endpoints_and_repr_counts_them() -> None:
    """aclose() empties the balancer; the repr shows how many endpoints it has."""
    b = First()
    b.update(endpoints(2))
    assert repr(b) == "First(endpoints=2)"
    await b.aclose()
    assert b.endpoints == ()


async def test_tracking_records_each_attempts_endpoint() -> None:
    """Inside tracking_endpoints, each request appends the key of the endpoint it went to."""
    b = RoundRobin[str, str](rng=random.Random(1))
    eps = endpoints(3)
    b.update(eps)
    with tracking_endpoints() as tried:
        await b("a")
        await b("b")
        await b("c")
    assert sorted(tried) == sorted(e.address.key for e in eps)  # three distinct endpoints
    assert endpoints_tried() is None


async def test_without_tracking_nothing_is_recorded() -> None:
    """Outside a tracking scope the balancer does not record or avoid anything."""
    b = First()
    b.update(endpoints(2))
    assert [await b("x") for _ in range(3)] == ["e0", "e0", "e0"]


async def test_retry_avoids_the_tried_endpoint() -> None:
    """A second attempt in the same logical request goes to an endpoint not tried yet."""
    for seed in range(20):
        b = P2CLeastLoaded[str, str](rng=random.Random(seed))
        b.update(endpoints(3))
        with tracking_endpoints() as tried:
            tried.append(("10.0.0.1", 1))  # the first attempt went to e0
            assert await b("retry") != "e0"
        assert tried[0] == ("10.0.0.1", 1)
        assert len(tried) == 2


async def test_retry_with_p2c_mostly_goes_elsewhere_with_two_endpoints() -> None:
    """With two equal endpoints, P2C retries go to the untried one far more often than chance."""
    rng = random.Random(7)
    b = P2CLeastLoaded[str, str](rng=rng)
    b.update(endpoints(2))
    went: Counter[str] = Counter()
    for _ in range(400):
        with tracking_endpoints() as tried:
            tried.append(("10.0.0.1", 1))
            went[await b("retry")] += 1
    assert went["e1"] > 0.8 * 400  # without avoidance it would be ~50%


async def test_retry_prefers_a_healthy_tried_endpoint_over_an_unhealthy_untried_one() -> None:
    """Avoidance does not override health: a BUSY untried endpoint loses to the OPEN tried one."""
    b = P2CLeastLoaded[str, str](rng=random.Random(3))
    b.update(endpoints(2, Status.OPEN, Status.BUSY))
    for _ in range(50):
        with tracking_endpoints() as tried:
            tried.append(("10.0.0.1", 1))
            assert await b("retry") == "e0"


async def test_single_endpoint_is_reused_for_retries() -> None:
    """With one endpoint, a retry goes back to it (nothing else to try)."""
    b = P2CLeastLoaded[str, str]()
    b.update(endpoints(1))
    with tracking_endpoints() as tried:
        await b("a")
        await b("b")
    assert tried == [("10.0.0.1", 1), ("10.0.0.1", 1)]


def test_balancer_registry_names() -> None:
    """balancer_factory resolves the documented names and passes callables through."""
    assert balancer_factory("p2c") is P2CLeastLoaded
    assert balancer_factory("p2c_least_loaded") is P2CLeastLoaded
    assert balancer_factory("round_robin") is RoundRobin
    assert set(BALANCERS) >= {"p2c", "round_robin"}
    assert balancer_factory(First) is First


def test_balancer_factory_rejects_unknown_names_listing_known() -> None:
    """An unknown balancer name raises ConfigurationError naming it and the known names."""
    with pytest.raises(ConfigurationError, match=r"'ewma'.*known: .*p2c.*round_robin"):
        balancer_factory("ewma")
    with pytest.raises(ConfigurationError, match="42"):
        balancer_factory(42)  # type: ignore[arg-type]
