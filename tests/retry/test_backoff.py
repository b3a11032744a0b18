"""Backoff: tenacity wait strategies, full-jitter bounds, validation."""

from __future__ import annotations

import pytest
import tenacity
from hypothesis import given
from hypothesis import strategies as st

from finpy import ConfigurationError
from finpy.retry import DEFAULT_BACKOFF, Backoff


@given(
    initial=st.floats(min_value=1e-4, max_value=1.0),
    factor=st.floats(min_value=1.0, max_value=100.0),
    retry=st.integers(min_value=1, max_value=200),
)
def test_full_jitter_stays_within_zero_and_the_capped_exponential(
    initial: float, factor: float, retry: int
) -> None:
    """Retry n waits in [0, min(maximum, initial * 2 ** (n - 1))], whatever n."""
    maximum = initial * factor
    delay = Backoff.full_jitter(initial, maximum).delay(retry)
    assert 0.0 <= delay <= min(maximum, initial * 2.0 ** min(retry - 1, 1000)) + 1e-12


def test_full_jitter_is_random_over_the_whole_range() -> None:
    """Full jitter spreads delays over [0, cap]: both halves of the range are used."""
    backoff = Backoff.full_jitter(0.01, 1.0)
    delays = [backoff.delay(3) for _ in range(400)]  # cap 0.04
    assert min(delays) < 0.01 and max(delays) > 0.03
    assert len(set(delays)) > 300


def test_default_is_full_jitter_from_10_ms_to_1_s() -> None:
    """The default backoff is full-jitter exponential: first retry <= 10 ms, never above 1 s."""
    assert repr(DEFAULT_BACKOFF) == "Backoff.full_jitter(initial=0.01, maximum=1)"
    assert all(DEFAULT_BACKOFF.delay(1) <= 0.01 for _ in range(100))
    assert all(DEFAULT_BACKOFF.delay(30) <= 1.0 for _ in range(100))


def test_exponential_doubles_up_to_the_maximum() -> None:
    """Backoff.exponential waits initial * 2 ** (n - 1), capped at maximum, without jitter."""
    backoff = Backoff.exponential(0.1, 0.5)
    assert [backoff.delay(n) for n in (1, 2, 3, 4, 10)] == [0.1, 0.2, 0.4, 0.5, 0.5]


def test_constant_and_none() -> None:
    """Backoff.constant waits the same every time; Backoff.none never waits."""
    assert {Backoff.constant(0.25).delay(n) for n in range(1, 10)} == {0.25}
    assert {Backoff.none().delay(n) for n in range(1, 10)} == {0.0}


def test_any_tenacity_strategy_works_and_sees_the_error() -> None:
    """A tenacity strategy (here a sum, and one that reads the failure) computes the delay."""
    combined = Backoff(tenacity.wait_fixed(0.1) + tenacity.wait_fixed(0.05))
    assert combined.delay(1) == pytest.approx(0.15)
    by_error = Backoff(tenacity.wait_exception(lambda e: 0.3 if isinstance(e, KeyError) else 0.1))
    assert by_error.delay(1, KeyError("x")) == pytest.approx(0.3)
    assert by_error.delay(1, ValueError("x")) == pytest.approx(0.1)


def test_negative_or_nan_strategy_results_become_zero() -> None:
    """A strategy returning a negative or NaN delay waits nothing instead of breaking the retry."""
    assert Backoff(lambda _state: -1.0).delay(1) == 0.0  # type: ignore[arg-type]
    assert Backoff(lambda _state: float("nan")).delay(1) == 0.0  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("make", "named"),
    [
        (lambda: Backoff.full_jitter(0, 1), "0"),
        (lambda: Backoff.full_jitter(-1, 1), "-1"),
        (lambda: Backoff.full_jitter(0.5, 0.1), "0.1"),
        (lambda: Backoff.exponential(float("inf"), 1), "inf"),
        (lambda: Backoff.constant("1"), "'1'"),  # type: ignore[arg-type]
        (lambda: Backoff(42), "42"),  # type: ignore[arg-type]
        (lambda: Backoff.none().delay(0), "0"),
    ],
)
def test_bad_values_are_refused_naming_them(make: object, named: str) -> None:
    """Non-positive, infinite, inverted or non-numeric settings raise ConfigurationError naming them."""
    with pytest.raises(ConfigurationError) as info:
        make()  # type: ignore[operator]
    assert named in str(info.value)
