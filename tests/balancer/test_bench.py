"""Tests of ``finpy.balancer.bench``: the pick-cost and aperture figures are well formed.

The timings themselves are the benchmark's business (``finpy bench``), never asserted here;
the aperture connection count is deterministic and is.
"""

from __future__ import annotations

from finpy.balancer.bench import (
    aperture_connections,
    compare_pick_cost,
    make_endpoints,
    pick_cost,
)


def test_pick_cost_comparison_reports_both_sides_and_a_ratio() -> None:
    """compare_pick_cost measures a small and a large set and reports their ratio."""
    c = compare_pick_cost("p2c_ewma", small=10, large=500, picks=500, repeat=1)
    assert (c.small.endpoints, c.large.endpoints) == (10, 500)
    assert c.small.ns_per_pick > 0 and c.large.ns_per_pick > 0
    assert c.ratio == c.large.ns_per_pick / c.small.ns_per_pick
    one = pick_cost("ring_hash", 20, picks=200, repeat=1)
    assert one.balancer == "ring_hash" and one.ns_per_pick > 0


def test_aperture_of_1000_endpoints_opens_no_more_than_its_aperture() -> None:
    """Peer 0 of 100 over 1,000 endpoints touches at most its 20-endpoint aperture."""
    a = aperture_connections(1000, peer_index=0, peer_count=100, requests=20_000)
    assert a.aperture == 20
    assert 0 < a.connections <= a.aperture


def test_aperture_without_coordinate_stays_near_min_aperture() -> None:
    """A random offset touches at most min_aperture + 1 endpoints."""
    a = aperture_connections(1000, peer_index=None, peer_count=None, requests=20_000, seed=3)
    assert a.connections <= a.aperture <= 13


def test_benchmark_endpoints_have_distinct_addresses_and_history() -> None:
    """Benchmark endpoints are distinct and already measured, like a warm client's."""
    eps = make_endpoints(20_000)
    assert len({e.address.key for e in eps}) == 20_000
    assert all(e.observer is not None for e in eps[:10])
