"""Tests of ``finpy.balancer.ring_hash``: consistent hashing on the request key."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from finpy import ConfigurationError, Endpoint, Status, request_key
from finpy.balancer import RingHash
from finpy.balancer.ring_hash import hash_key

KEYS = [f"user-{k}" for k in range(20_000)]


def _owners(ring: RingHash[str, str]) -> dict[str, Endpoint[str, str]]:
    return {k: ring.owner(k) for k in KEYS}


def test_same_key_same_endpoint_in_every_process(make_endpoints: Callable[..., Any]) -> None:
    """Two independent rings over the same addresses agree on every key (stable hashing)."""
    a: RingHash[str, str] = RingHash(rng=random.Random(1))
    b: RingHash[str, str] = RingHash(rng=random.Random(2))
    a.update(make_endpoints(8))
    b.update(list(reversed(make_endpoints(8))))
    for k in KEYS[:2000]:
        assert a.owner(k).address == b.owner(k).address
    assert hash_key("user-1") == hash_key(b"user-1")


def test_adding_an_endpoint_moves_only_keys_to_it(make_endpoints: Callable[..., Any]) -> None:
    """Going from 10 to 11 endpoints moves about 1/11 of the keys, all to the new endpoint."""
    ring: RingHash[str, str] = RingHash()
    eps = make_endpoints(11)
    ring.update(eps[:10])
    before = _owners(ring)
    ring.update(eps)
    after = _owners(ring)
    moved = [k for k in KEYS if before[k] is not after[k]]
    assert all(after[k] is eps[10] for k in moved)
    assert len(moved) / len(KEYS) == pytest.approx(1 / 11, abs=0.03)


def test_removing_an_endpoint_moves_only_its_keys(make_endpoints: Callable[..., Any]) -> None:
    """Removing an endpoint moves its keys and no others."""
    ring: RingHash[str, str] = RingHash()
    eps = make_endpoints(10)
    ring.update(eps)
    before = _owners(ring)
    ring.update(eps[1:])
    after = _owners(ring)
    for k in KEYS:
        if before[k] is not eps[0]:
            assert after[k] is before[k]


def test_keys_spread_by_weight(make_endpoints: Callable[..., Any]) -> None:
    """An endpoint of weight 3 among three of weight 1 owns about half the keys."""
    ring: RingHash[str, str] = RingHash()
    eps = make_endpoints(4, weights=[3.0, 1.0, 1.0, 1.0])
    ring.update(eps)
    counts = Counter(ring.owner(k).address.authority for k in KEYS)
    assert counts[eps[0].address.authority] / len(KEYS) == pytest.approx(0.5, abs=0.05)


def test_ring_size_is_capped(make_endpoints: Callable[..., Any]) -> None:
    """Big sets scale replicas down to the cap, keeping at least one point per endpoint."""
    ring: RingHash[str, str] = RingHash(replicas=100, max_points=1000)
    ring.update(make_endpoints(50))
    assert ring.points <= 1000
    ring.update(make_endpoints(2000))
    assert ring.points == 2000


def test_unhealthy_owner_is_skipped_unless_panic(
    make_endpoints: Callable[..., Any], set_health: Callable[..., None]
) -> None:
    """A BUSY owner hands its keys to the next healthy endpoint; in panic the owner keeps them."""
    ring: RingHash[str, str] = RingHash()
    eps = make_endpoints(6)
    ring.update(eps)
    key = next(k for k in KEYS if ring.owner(k) is eps[0])
    set_health(eps[0], Status.BUSY)
    ring.update(eps)
    with request_key(key):
        assert ring.pick() is not eps[0]
        first = ring.pick()
        assert all(ring.pick() is first for _ in range(20))  # still sticky
    for ep in eps[:4]:
        set_health(ep, Status.BUSY)
    ring.update(eps)
    assert ring.health.panic
    with request_key(key):
        assert ring.pick() is eps[0]


def test_keyless_requests_fall_back_to_p2c(
    make_endpoints: Callable[..., Any], count_picks: Callable[..., Counter[str]]
) -> None:
    """Without a request key, picks spread over all endpoints."""
    ring: RingHash[str, str] = RingHash(rng=random.Random(14))
    eps = make_endpoints(5)
    ring.update(eps)
    counts = count_picks(ring, 5000)
    assert len(counts) == 5
    assert ring.keyed_picks == 0


async def test_calls_with_a_key_stick_to_one_endpoint(make_endpoints: Callable[..., Any]) -> None:
    """Requests made inside request_key(...) all reach the key's owner."""
    ring: RingHash[str, str] = RingHash()
    eps = make_endpoints(5)
    ring.update(eps)
    with request_key("cart-42"):
        replies = {await ring("x") for _ in range(20)}
    assert replies == {ring.owner("cart-42").address.authority}


def test_bad_settings_are_rejected() -> None:
    """Bad replicas/max_points/key are configuration errors naming the value."""
    with pytest.raises(ConfigurationError, match="replicas"):
        RingHash(replicas=0)
    with pytest.raises(ConfigurationError, match="max_points"):
        RingHash(max_points=-5)
    with pytest.raises(ConfigurationError, match="'k'"):
        RingHash(key="k")  # type: ignore[arg-type]
