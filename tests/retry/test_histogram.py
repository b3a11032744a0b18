"""LatencyHistogram: percentiles within the bucket precision, sliding window, validation."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from finpy import ConfigurationError, ManualClock
from finpy.retry import LatencyHistogram


@given(
    samples=st.lists(st.floats(min_value=1e-5, max_value=100.0), min_size=1, max_size=300),
    q=st.floats(min_value=0.01, max_value=1.0),
)
def test_percentile_is_the_true_quantile_rounded_up_by_at_most_the_precision(
    samples: list[float], q: float
) -> None:
    """percentile(q) is >= the exact q-quantile and <= it * (1 + precision)."""
    hist = LatencyHistogram(clock=ManualClock())
    for s in samples:
        hist.add(s)
    ordered = sorted(samples)
    exact = ordered[max(1, math.ceil(q * len(ordered) - 1e-9)) - 1]
    got = hist.percentile(q)
    assert got is not None
    assert exact * (1 - 1e-9) <= got <= exact * 1.02 * (1 + 1e-9)


def test_empty_histogram_has_no_percentile() -> None:
    """With no samples there is no percentile (None), and count is 0."""
    hist = LatencyHistogram(clock=ManualClock())
    assert hist.percentile(0.95) is None
    assert hist.count == 0


def test_samples_leave_the_window() -> None:
    """Samples older than the window are forgotten, slice by slice."""
    clock = ManualClock()
    hist = LatencyHistogram(window=10.0, slices=10, clock=clock)
    for _ in range(5):
        hist.add(1.0)  # slice 0
    clock.advance(5.0)
    for _ in range(5):
        hist.add(0.001)  # slice 5
    assert hist.count == 10
    assert hist.percentile(1.0) == pytest.approx(1.0, rel=0.02)
    clock.advance(5.0)  # slice 10 reuses slice 0's slot
    assert hist.count == 5
    assert hist.percentile(1.0) == pytest.approx(0.001, rel=0.02)
    clock.advance(30.0)
    assert hist.count == 0


def test_negative_and_nan_latencies_are_ignored() -> None:
    """A negative or NaN latency (a clock problem) is not recorded."""
    hist = LatencyHistogram(clock=ManualClock())
    hist.add(-1.0)
    hist.add(float("nan"))
    assert hist.count == 0
    assert "samples=0" in repr(hist)


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [({"window": 0}, "0"), ({"slices": 0}, "0"), ({"precision": 1.5}, "1.5")],
)
def test_bad_configuration_is_refused(kwargs: dict[str, float], named: str) -> None:
    """Non-positive windows, slices and out-of-range precision raise, naming the value."""
    with pytest.raises(ConfigurationError) as info:
        LatencyHistogram(**kwargs)  # type: ignore[arg-type]
    assert named in str(info.value)


def test_percentile_outside_zero_one_is_refused() -> None:
    """percentile(q) needs 0 < q <= 1."""
    with pytest.raises(ConfigurationError, match=r"1\.5"):
        LatencyHistogram(clock=ManualClock()).percentile(1.5)
