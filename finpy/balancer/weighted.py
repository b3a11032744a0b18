"""Weighted random choice in O(1): Walker/Vose alias tables.

Balancers that sample endpoints at random honour discovery weights by
sampling from an :class:`AliasTable` built once per update (O(n)); each draw
is then two random numbers and two list reads, however many endpoints there
are.  When every weight is equal the table is skipped and a draw is a plain
uniform index.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

__all__ = ["AliasTable"]


class AliasTable:
    """Draw index ``i`` with probability ``weights[i] / sum(weights)``."""

    __slots__ = ("_alias", "_n", "_prob", "uniform")

    def __init__(self, weights: Sequence[float]) -> None:
        n = len(weights)
        self._n = n
        self.uniform = n == 0 or all(w == weights[0] for w in weights)
        self._prob: list[float] = []
        self._alias: list[int] = []
        if self.uniform:
            return
        total = float(sum(weights))
        scaled = [w * n / total for w in weights]
        prob = [1.0] * n
        alias = list(range(n))
        small = [i for i, p in enumerate(scaled) if p < 1.0]
        large = [i for i, p in enumerate(scaled) if p >= 1.0]
        while small and large:
            s = small.pop()
            g = large.pop()
            prob[s] = scaled[s]
            alias[s] = g
            scaled[g] = (scaled[g] + scaled[s]) - 1.0
            (small if scaled[g] < 1.0 else large).append(g)
        # Leftovers are 1.0 up to rounding.
        self._prob = prob
        self._alias = alias

    def draw(self, random: Callable[[], float]) -> int:
        """One index, using the ``random()`` function given (``rng.random``)."""
        i = int(random() * self._n)
        if self.uniform:
            return i
        return i if random() < self._prob[i] else self._alias[i]

    def __len__(self) -> int:
        return self._n

    def __repr__(self) -> str:
        return f"AliasTable({self._n}, uniform={self.uniform})"
