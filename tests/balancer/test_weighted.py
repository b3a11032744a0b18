"""Tests of ``finpy.balancer.weighted``: O(1) weighted draws with alias tables."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from finpy.balancer.weighted import AliasTable


def test_draws_follow_the_weights() -> None:
    """Each index is drawn in proportion to its weight (fixed seed, 1% absolute)."""
    weights = [1.0, 2.0, 3.0, 4.0, 0.5]
    table = AliasTable(weights)
    rnd = random.Random(11).random
    counts = Counter(table.draw(rnd) for _ in range(200_000))
    total = sum(weights)
    for i, w in enumerate(weights):
        assert counts[i] / 200_000 == pytest.approx(w / total, abs=0.01)


def test_equal_weights_skip_the_table() -> None:
    """Equal weights are a plain uniform draw."""
    table = AliasTable([2.0, 2.0, 2.0])
    assert table.uniform
    rnd = random.Random(12).random
    assert {table.draw(rnd) for _ in range(100)} == {0, 1, 2}
    assert len(table) == 3 and "uniform=True" in repr(table)
