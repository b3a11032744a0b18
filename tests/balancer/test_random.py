"""Tests of ``finpy.balancer.random``: weighted random picks."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from finpy import NoEndpointsError
from finpy.balancer import BALANCERS, RandomBalancer


def test_picks_follow_weights(
    make_endpoints: Callable[..., Any], count_picks: Callable[..., Counter[str]]
) -> None:
    """Endpoints are picked in proportion to their discovery weights (fixed seed)."""
    b: RandomBalancer[str, str] = RandomBalancer(rng=random.Random(13))
    eps = make_endpoints(3, weights=[1.0, 1.0, 2.0])
    b.update(eps)
    counts = count_picks(b, 40_000)
    assert counts[eps[2].address.authority] / 40_000 == pytest.approx(0.5, abs=0.02)
    assert counts[eps[0].address.authority] / 40_000 == pytest.approx(0.25, abs=0.02)


def test_no_endpoints_and_registry_name(make_endpoints: Callable[..., Any]) -> None:
    """An empty set raises NoEndpointsError; the balancer is registered as 'random'."""
    b: RandomBalancer[str, str] = RandomBalancer()
    with pytest.raises(NoEndpointsError):
        b.pick()
    assert BALANCERS["random"] is RandomBalancer
