"""Tests of ``finpy.accrual.backoff``: how long an ejected endpoint stays dead."""

from __future__ import annotations

import random

import pytest

from finpy import ConfigurationError
from finpy.accrual import EqualJitterBackoff


def test_caps_double_from_5_s_to_300_s() -> None:
    """The n-th cap is min(5 s x 2^n, 300 s)."""
    b = EqualJitterBackoff()
    assert [b.cap(n) for n in range(8)] == [5, 10, 20, 40, 80, 160, 300, 300]
    assert b.cap(10_000) == 300


def test_delays_are_jittered_between_half_and_all_of_the_cap() -> None:
    """Every delay lies in [cap/2, cap], and they differ (jitter)."""
    b = EqualJitterBackoff()
    rng = random.Random(30)
    for n in range(10):
        delays = [b.delay(n, rng) for _ in range(50)]
        assert all(b.cap(n) / 2 <= d <= b.cap(n) for d in delays)
        assert len(set(delays)) > 1


def test_bad_settings_are_rejected() -> None:
    """Non-positive or inverted bounds are configuration errors naming them."""
    with pytest.raises(ConfigurationError, match="0"):
        EqualJitterBackoff(base=0)
    with pytest.raises(ConfigurationError, match="must be >= its base"):
        EqualJitterBackoff(base=10, maximum=5)
