"""Tests of ``finpy.balancer.zones``: local zone first, spill when it falls short."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from finpy import ConfigurationError, Endpoint, ManualClock, Status
from finpy.balancer import P2CPeakEwma, RoundRobin, ZoneAware


def _zone_aware(seed: int, **kwargs: Any) -> ZoneAware[str, str]:
    clock = ManualClock()
    rng = random.Random(seed)
    return ZoneAware(
        "a",
        inner=lambda: P2CPeakEwma(clock=clock, rng=random.Random(rng.random())),
        rng=rng,
        **kwargs,
    )


def _local_fraction(b: ZoneAware[str, str], local: list[Endpoint[str, str]], picks: int) -> float:
    mine = set(local)
    return sum(1 for _ in range(picks) if b.pick() in mine) / picks


def test_healthy_local_zone_takes_all_traffic(make_endpoints: Callable[..., Any]) -> None:
    """While the local zone is healthy no request leaves it."""
    b = _zone_aware(20)
    local = make_endpoints(4, zone="a")
    remote = make_endpoints(8, zone="b", first=4)
    b.update([*remote, *local])
    assert _local_fraction(b, local, 5000) == 1.0
    assert b.local_share == 1.0


def test_partial_outage_spills_in_proportion(
    make_endpoints: Callable[..., Any], set_health: Callable[..., None]
) -> None:
    """With 2 of 5 local endpoints down, 1.4 x 3/5 = 84% stays local, the rest spills."""
    b = _zone_aware(21)
    local = make_endpoints(5, zone="a")
    remote = make_endpoints(5, zone="b", first=5)
    set_health(local[0], Status.BUSY)
    set_health(local[1], Status.BUSY)
    b.update([*local, *remote])
    assert b.local_share == pytest.approx(0.84)
    assert _local_fraction(b, local, 20_000) == pytest.approx(0.84, abs=0.015)
    assert b.remote_picks > 0


def test_too_few_healthy_local_endpoints_spill_everything(
    make_endpoints: Callable[..., Any], set_health: Callable[..., None]
) -> None:
    """Fewer healthy local endpoints than min_local sends all traffic to other zones."""
    b = _zone_aware(22, min_local=2)
    local = make_endpoints(3, zone="a")
    remote = make_endpoints(3, zone="b", first=3)
    set_health(local[0], Status.BUSY)
    set_health(local[1], Status.BUSY)
    b.update([*local, *remote])
    assert b.local_share == 0.0
    assert _local_fraction(b, local, 2000) == 0.0


def test_recovered_zone_gets_its_traffic_back(
    make_endpoints: Callable[..., Any], set_health: Callable[..., None]
) -> None:
    """After local endpoints recover, the next health count brings traffic home."""
    b = _zone_aware(23)
    local = make_endpoints(3, zone="a")
    remote = make_endpoints(3, zone="b", first=3)
    for ep in local:
        set_health(ep, Status.BUSY)
    b.update([*local, *remote])
    assert _local_fraction(b, local, 100) == 0.0
    for ep in local:
        set_health(ep, Status.OPEN)
    for _ in range(70):  # one recount period of the local gauge
        b.pick()
    assert _local_fraction(b, local, 1000) == 1.0


def test_one_sided_sets(make_endpoints: Callable[..., Any]) -> None:
    """Only local or only remote endpoints: that side takes everything."""
    b = _zone_aware(24)
    remote = make_endpoints(3, zone="b")
    b.update(remote)
    assert {b.pick() for _ in range(300)} <= set(remote)
    local = make_endpoints(2, zone="a", first=3)
    b.update(local)
    assert {b.pick() for _ in range(300)} == set(local)


async def test_calls_go_through_the_chosen_side(make_endpoints: Callable[..., Any]) -> None:
    """Calling the balancer dispatches through the local inner balancer."""
    b = _zone_aware(25)
    local = make_endpoints(2, zone="a")
    b.update([*local, *make_endpoints(2, zone="b", first=2)])
    replies = Counter([await b("x") for _ in range(50)])
    assert set(replies) <= {e.address.authority for e in local}
    assert b.statistics().picks == 50
    assert b.local.picks == 50


def test_other_inner_balancers_work(make_endpoints: Callable[..., Any]) -> None:
    """Any balancer can be the inner one (round-robin here)."""
    b: ZoneAware[str, str] = ZoneAware("a", inner=RoundRobin)
    local = make_endpoints(2, zone="a")
    b.update([*local, *make_endpoints(2, zone="b", first=2)])
    assert {b.pick() for _ in range(10)} == set(local)


def test_bad_settings_are_rejected() -> None:
    """Empty zone, min_local < 1 and overprovisioning < 1 are configuration errors."""
    with pytest.raises(ConfigurationError, match="zone"):
        ZoneAware("")
    with pytest.raises(ConfigurationError, match="min_local"):
        ZoneAware("a", min_local=0)
    with pytest.raises(ConfigurationError, match=r"0\.5"):
        ZoneAware("a", overprovisioning=0.5)
