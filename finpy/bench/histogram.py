"""Exact latency percentiles of one benchmark run.

A run records at most a few hundred thousand latencies (the load generator is
bounded in count), so the recorder keeps every sample and sorts them once:
percentiles are *exact* (nearest-rank), not the bucketed approximations of an
HDR histogram, and the code stays small.  Latencies are seconds (floats).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from finpy.errors import ConfigurationError

__all__ = ["LatencyRecorder", "LatencySummary", "percentile"]


def percentile(sorted_values: list[float], q: float) -> float:
    """The nearest-rank ``q``-th percentile (0 < q <= 100) of already sorted values.

    The smallest recorded value such that at least ``q`` percent of the values
    are less than or equal to it: always a value that was actually observed.
    """
    if not 0 < q <= 100:
        raise ConfigurationError(f"percentile must be in (0, 100], got {q!r}")
    if not sorted_values:
        return math.nan
    # round first: 99.9 / 100 * 1000 is 999.0000000000001 in binary floating point
    rank = math.ceil(round(q * len(sorted_values) / 100, 9))
    return sorted_values[max(rank, 1) - 1]


@dataclass(frozen=True, slots=True)
class LatencySummary:
    """Count and exact percentiles of a set of latencies, in seconds (NaN when empty)."""

    count: int
    mean: float
    min: float
    p50: float
    p90: float
    p99: float
    p999: float
    max: float

    def ms(self, field: str) -> float:
        """One field in milliseconds (``summary.ms("p99")``)."""
        value: float = getattr(self, field)
        return value * 1000.0


class LatencyRecorder:
    """Keeps every latency of a run and summarises them exactly."""

    __slots__ = ("_sorted", "_values")

    def __init__(self, values: Iterable[float] = ()) -> None:
        self._values: list[float] = []
        self._sorted = True
        for v in values:
            self.record(v)

    def record(self, seconds: float) -> None:
        """Add one latency (seconds, >= 0)."""
        if not seconds >= 0:  # also rejects NaN
            raise ConfigurationError(f"a latency must be >= 0 seconds, got {seconds!r}")
        if self._values and seconds < self._values[-1]:
            self._sorted = False
        self._values.append(seconds)

    def __len__(self) -> int:
        return len(self._values)

    def _ordered(self) -> list[float]:
        if not self._sorted:
            self._values.sort()
            self._sorted = True
        return self._values

    def percentile(self, q: float) -> float:
        """The exact nearest-rank ``q``-th percentile (NaN when nothing was recorded)."""
        return percentile(self._ordered(), q)

    def statistics(self) -> LatencySummary:
        """Count, mean, min, p50, p90, p99, p99.9 and max of what was recorded."""
        values = self._ordered()
        if not values:
            nan = math.nan
            return LatencySummary(0, nan, nan, nan, nan, nan, nan, nan)
        return LatencySummary(
            count=len(values),
            mean=math.fsum(values) / len(values),
            min=values[0],
            p50=percentile(values, 50),
            p90=percentile(values, 90),
            p99=percentile(values, 99),
            p999=percentile(values, 99.9),
            max=values[-1],
        )

    def __repr__(self) -> str:
        if not self._values:
            return "LatencyRecorder(count=0)"
        s = self.statistics()
        return f"LatencyRecorder(count={s.count}, p50={s.p50 * 1e3:.2f}ms, p99={s.p99 * 1e3:.2f}ms)"
