"""How long an ejected endpoint stays dead: jittered exponential backoff.

The n-th ejection in a row (n = 0, 1, 2, ...) lasts a random time between half
and all of ``min(base * 2**n, maximum)`` ("equal jitter"): 2.5-5 s, then
5-10 s, ... up to 150-300 s with the defaults (5 s, 300 s).  The cap keeps a
long-dead endpoint probed every few minutes; the jitter keeps the breakers of
many clients, all tripped by the same incident, from probing in lockstep.
A revived endpoint starts again at n = 0.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from finpy.errors import ConfigurationError

__all__ = ["EqualJitterBackoff"]


@dataclass(frozen=True, slots=True)
class EqualJitterBackoff:
    """``delay(n, rng)``: a random delay in ``[cap/2, cap]``, ``cap = min(base * 2**n, maximum)``."""

    base: float = 5.0
    maximum: float = 300.0

    def __post_init__(self) -> None:
        for what, v in (("backoff base", self.base), ("backoff maximum", self.maximum)):
            if (
                isinstance(v, bool)
                or not isinstance(v, (int, float))
                or not math.isfinite(v)
                or v <= 0
            ):
                raise ConfigurationError(f"{what} must be a positive number of seconds, got {v!r}")
        if self.maximum < self.base:
            raise ConfigurationError(
                f"backoff maximum ({self.maximum!r}) must be >= its base ({self.base!r})"
            )

    def cap(self, n: int) -> float:
        """The upper bound of the ``n``-th delay (``n`` from 0)."""
        if n >= 64:  # 2**n overflows long before that matters
            return self.maximum
        return min(self.base * (1 << max(n, 0)), self.maximum)

    def delay(self, n: int, rng: random.Random) -> float:
        """The ``n``-th delay, jittered with ``rng``."""
        c = self.cap(n)
        return c / 2 + rng.random() * (c / 2)
