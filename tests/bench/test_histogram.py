"""Exact nearest-rank percentiles of the bench's latency recorder."""

from __future__ import annotations

import math
import random

import pytest

import finpy
from finpy.bench.histogram import LatencyRecorder, percentile


def test_percentiles_are_exact_nearest_rank() -> None:
    """p50/p90/p99/p99.9 of 1..1000 ms are exactly the 500th/900th/990th/999th values."""
    values = [i / 1000 for i in range(1, 1001)]
    random.Random(7).shuffle(values)
    s = LatencyRecorder(values).statistics()
    assert (s.count, s.min, s.max) == (1000, 0.001, 1.0)
    assert (s.p50, s.p90, s.p99, s.p999) == (0.5, 0.9, 0.99, 0.999)
    assert s.mean == pytest.approx(0.5005)


def test_percentile_is_always_an_observed_value() -> None:
    """With few samples the tail percentiles are the largest observed value, never interpolated."""
    assert percentile([0.1, 0.2, 0.3], 99.9) == 0.3
    assert percentile([0.1, 0.2, 0.3], 50) == 0.2
    assert percentile([0.1, 0.2, 0.3], 1) == 0.1


def test_empty_recorder_reports_nan() -> None:
    """Nothing recorded gives a count of 0 and NaN figures rather than made-up zeros."""
    s = LatencyRecorder().statistics()
    assert s.count == 0 and math.isnan(s.p99)
    assert "count=0" in repr(LatencyRecorder())


def test_bad_values_are_rejected_by_name() -> None:
    """A negative or NaN latency, or a percentile outside (0, 100], is a ConfigurationError."""
    rec = LatencyRecorder()
    with pytest.raises(finpy.ConfigurationError, match="-1"):
        rec.record(-1)
    with pytest.raises(finpy.ConfigurationError, match="nan"):
        rec.record(math.nan)
    with pytest.raises(finpy.ConfigurationError, match="101"):
        rec.percentile(101)


def test_recording_after_reading_keeps_figures_exact() -> None:
    """Samples added after a percentile was read are included in the next read."""
    rec = LatencyRecorder([0.3, 0.1])
    assert rec.percentile(100) == 0.3
    rec.record(0.2)
    rec.record(0.05)
    assert rec.statistics().min == 0.05 and rec.percentile(50) == 0.1
