"""``LatencyHistogram``: percentiles of recent latencies, over a sliding window.

The hedge layer sends a backup request when the first attempt has been
outstanding longer than a high percentile of *recent* latencies, so the
histogram forgets: it is a ring of ``slices`` sub-histograms covering
``window`` seconds, and a sample leaves it when its slice is reused (Finagle's
``WindowedPercentileHistogram``).

Values are kept in logarithmic buckets with ``precision`` relative width
(2% by default), so any latency from a microsecond to an hour costs at most a
few hundred buckets, and a percentile is reported as the *upper* edge of its
bucket: never below the true value, at most ``precision`` above it.
Plain synchronous code on an injectable clock.
"""

from __future__ import annotations

import math
from collections import Counter

from finpy.clock import SYSTEM_CLOCK, Clock
from finpy.errors import ConfigurationError

__all__ = ["LatencyHistogram"]

_LOWEST = 1e-6  # seconds: everything faster shares the first bucket
_HIGHEST = 3600.0  # seconds: everything slower shares the last bucket


class LatencyHistogram:
    """Latencies (seconds) of the last ``window`` seconds, by logarithmic bucket."""

    __slots__ = (
        "_clock",
        "_count",
        "_counts",
        "_log_base",
        "_max_index",
        "_n",
        "_slice",
        "_slices",
        "_width",
        "precision",
        "window",
    )

    def __init__(
        self,
        window: float = 30.0,
        *,
        slices: int = 10,
        precision: float = 0.02,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        if (
            isinstance(window, bool)
            or not isinstance(window, (int, float))
            or not (0 < window < float("inf"))
        ):
            raise ConfigurationError(f"histogram window must be > 0 seconds, got {window!r}")
        if isinstance(slices, bool) or not isinstance(slices, int) or slices < 1:
            raise ConfigurationError(f"histogram slices must be an int >= 1, got {slices!r}")
        if not isinstance(precision, (int, float)) or not 0 < precision < 1:
            raise ConfigurationError(f"histogram precision must be in (0, 1), got {precision!r}")
        self.window = float(window)
        self.precision = float(precision)
        self._clock = clock
        self._n = slices
        self._width = self.window / slices
        self._log_base = math.log1p(self.precision)
        self._max_index = self._index(_HIGHEST)
        self._slices: list[Counter[int]] = [Counter() for _ in range(slices)]
        self._counts = [0] * slices
        self._count = 0
        self._slice: int | None = None

    def _index(self, seconds: float) -> int:
        if seconds <= _LOWEST:
            return 0
        return math.ceil(math.log(seconds / _LOWEST) / self._log_base)

    def _upper(self, index: int) -> float:
        return float(_LOWEST * math.exp(index * self._log_base))

    def _advance(self) -> int:
        current = math.floor(self._clock.now() / self._width)
        last = self._slice
        if last is None or current - last >= self._n:
            for c in self._slices:
                c.clear()
            self._counts = [0] * self._n
            self._count = 0
        elif current > last:
            for s in range(last + 1, current + 1):
                i = s % self._n
                self._count -= self._counts[i]
                self._counts[i] = 0
                self._slices[i].clear()
        else:
            current = last
        self._slice = current
        return current % self._n

    def add(self, seconds: float) -> None:
        """Record one latency."""
        if not seconds >= 0:  # negative or NaN: a clock problem, not a latency
            return
        slot = self._advance()
        self._slices[slot][min(self._index(seconds), self._max_index)] += 1
        self._counts[slot] += 1
        self._count += 1

    @property
    def count(self) -> int:
        """Samples in the window now."""
        self._advance()
        return self._count

    def percentile(self, q: float) -> float | None:
        """The ``q``-quantile (``0 < q <= 1``) of the window, or ``None`` if it is empty."""
        if not 0 < q <= 1:
            raise ConfigurationError(f"percentile must be in (0, 1], got {q!r}")
        self._advance()
        if self._count == 0:
            return None
        merged: Counter[int] = Counter()
        for c in self._slices:
            merged.update(c)
        rank = max(1, math.ceil(q * self._count - 1e-9))
        seen = 0
        for index in sorted(merged):
            seen += merged[index]
            if seen >= rank:
                return self._upper(index)
        return self._upper(max(merged))  # pragma: no cover - rank <= count

    def __repr__(self) -> str:
        return f"LatencyHistogram(window={self.window:g}, samples={self.count})"
