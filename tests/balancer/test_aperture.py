"""Tests of ``finpy.balancer.aperture``: deterministic subsetting."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from finpy import ConfigurationError, ManualClock, Status
from finpy.balancer import Aperture
from finpy.balancer.aperture import aperture_width


def test_width_is_whole_peer_slices_covering_min_aperture() -> None:
    """The arc is the fewest whole peer slices holding min_aperture endpoints' worth."""
    assert aperture_width(1000, 12, 100) == pytest.approx(0.02)  # 2 slices of 10 endpoints
    assert aperture_width(1000, 12, 10) == pytest.approx(0.1)  # one slice holds 100
    assert aperture_width(100, 12, 1) == 1.0  # a lone client must cover everything
    assert aperture_width(10, 12, 100) == 1.0  # fewer endpoints than the aperture
    assert aperture_width(1000, 12, None) == pytest.approx(0.012)


def test_subset_is_bounded_and_only_it_gets_traffic(make_endpoints: Callable[..., Any]) -> None:
    """Client 7 of 100 over 1,000 endpoints talks to exactly 20 of them."""
    b: Aperture[str, str] = Aperture(peer_index=7, peer_count=100, rng=random.Random(15))
    eps = make_endpoints(1000)
    b.update(eps)
    assert b.aperture == 20
    used = {b.pick() for _ in range(20_000)}
    assert used == set(b.subset)


def test_random_offset_without_a_coordinate_stays_bounded(
    make_endpoints: Callable[..., Any],
) -> None:
    """Without peer information the subset is min_aperture endpoints (+1 for a partial edge)."""
    for seed in range(20):
        b: Aperture[str, str] = Aperture(min_aperture=12, rng=random.Random(seed))
        b.update(make_endpoints(1000))
        assert 12 <= b.aperture <= 13
        assert sum(b.shares) == pytest.approx(1.0)


def _union_load(
    n: int, peers: int, weights: list[float] | None, make: Callable[..., Any]
) -> dict[str, float]:
    """Expected share of all traffic per backend when every peer sends the same amount."""
    eps = make(n, weights=weights)
    load: dict[str, float] = {}
    for p in range(peers):
        b: Aperture[str, str] = Aperture(peer_index=p, peer_count=peers, min_aperture=5)
        b.update(list(reversed(eps)))  # discovery order does not matter
        for ep, share in zip(b.subset, b.shares, strict=True):
            key = ep.address.authority
            load[key] = load.get(key, 0.0) + share / peers
    return load


@pytest.mark.parametrize(("n", "peers"), [(100, 10), (37, 10), (1000, 64), (7, 3)])
def test_every_backend_gets_the_same_expected_load(
    n: int, peers: int, make_endpoints: Callable[..., Any]
) -> None:
    """Summed over all client coordinates, each backend's share is exactly 1/n."""
    load = _union_load(n, peers, None, make_endpoints)
    assert len(load) == n
    for v in load.values():
        assert v == pytest.approx(1 / n, rel=1e-6)


def test_expected_load_follows_weights(make_endpoints: Callable[..., Any]) -> None:
    """A backend of weight 2 gets twice the load of the others, over all clients."""
    weights = [2.0] + [1.0] * 19
    load = _union_load(20, 8, weights, make_endpoints)
    heavy = load["10.0.0.1:8000"]
    assert heavy == pytest.approx(2 / 21, rel=1e-6)


def test_picks_spread_evenly_across_client_coordinates(
    make_endpoints: Callable[..., Any],
) -> None:
    """Ten clients picking (fixed seeds) load 100 backends evenly (within 15% of the mean)."""
    eps = make_endpoints(100)
    counts: Counter[str] = Counter()
    for p in range(10):
        b: Aperture[str, str] = Aperture(
            peer_index=p, peer_count=10, clock=ManualClock(), rng=random.Random(100 + p)
        )
        b.update(eps)
        for _ in range(20_000):
            counts[b.pick().address.authority] += 1
    mean = 200_000 / 100
    assert len(counts) == 100
    assert max(counts.values()) < mean * 1.15
    assert min(counts.values()) > mean * 0.85


def test_unhealthy_aperture_spills_to_the_whole_set(
    make_endpoints: Callable[..., Any], set_health: Callable[..., None]
) -> None:
    """A few unhealthy subset members are avoided; a mostly unhealthy subset spills outside."""
    b: Aperture[str, str] = Aperture(peer_index=0, peer_count=100, rng=random.Random(16))
    eps = make_endpoints(1000)
    b.update(eps)
    sub = list(b.subset)
    set_health(sub[0], Status.BUSY)
    b.update(eps)
    assert sub[0] not in {b.pick() for _ in range(2000)}
    for ep in sub[: len(sub) // 2 + 1]:
        set_health(ep, Status.BUSY)
    b.update(eps)
    outside = [b.pick() for _ in range(2000)]
    assert b.spills == 2000
    assert all(ep.status is Status.OPEN for ep in outside)
    assert len(set(outside) - set(sub)) > 100


def test_small_sets_use_every_endpoint(make_endpoints: Callable[..., Any]) -> None:
    """With fewer endpoints than min_aperture, the aperture is the whole set."""
    b: Aperture[str, str] = Aperture(peer_index=3, peer_count=50, rng=random.Random(17))
    eps = make_endpoints(5)
    b.update(eps)
    assert b.aperture == 5
    assert {b.pick() for _ in range(500)} == set(eps)
    assert "aperture=5/5" in repr(b)


def test_bad_coordinates_are_rejected() -> None:
    """Half a coordinate, an index out of range or a zero aperture are configuration errors."""
    with pytest.raises(ConfigurationError, match="peer_count"):
        Aperture(peer_index=1)
    with pytest.raises(ConfigurationError, match="10"):
        Aperture(peer_index=10, peer_count=10)
    with pytest.raises(ConfigurationError, match="min_aperture"):
        Aperture(min_aperture=0)
