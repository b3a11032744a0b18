"""Aperture: deterministic subsetting, so a big cluster does not mean a connection per backend.

With hundreds of client processes and thousands of backends, every client
talking to every backend means millions of connections, most of them idle.
Aperture gives each client a small, evenly spread slice of the backends
(Finagle's deterministic aperture; the idea, not its code):

* Backends sit on a ring ``[0, 1)`` in a fixed order (sorted by address, so
  every client agrees), each owning an arc as long as its share of the total
  weight.
* Client processes sit on the same ring: the one with coordinate
  ``peer_index`` of ``peer_count`` owns ``[peer_index / peer_count, ...)``.
  Its *aperture* is an arc from there, ``units / peer_count`` long, where
  ``units`` is the smallest whole number of peer slices covering at least
  ``min_aperture`` backends' worth of ring.  Whole slices make every point of
  the ring covered by exactly ``units`` clients, so the backends' load is even.
* The client talks only to the backends its arc overlaps, in proportion to
  the overlap (a backend half inside gets half the share), with P2C
  peak-EWMA inside that subset (cost divided by the share).

Without a coordinate the client picks a random offset: the spread is then
even only on average.  Connections stay bounded by the aperture because
transports connect lazily: an endpoint outside the subset is never called.
When more than half of the subset is unhealthy, requests spill to P2C over the
whole set (which has its own panic mode) rather than overloading the rest of
the aperture.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_right
from itertools import accumulate
from typing import TypeVar

from finpy.balancer.base import Balancer
from finpy.balancer.ewma import (
    DEFAULT_DECAY,
    DEFAULT_MAX_EFFORT,
    DEFAULT_TOLERANCE,
    P2CPeakEwma,
    PeakEwma,
    costs,
    healthy_after,
    peak_ewma,
    validate_decay,
    validate_effort,
)
from finpy.balancer.panic import DEFAULT_PANIC_THRESHOLD, HealthGauge
from finpy.clock import SYSTEM_CLOCK, Clock
from finpy.endpoint import Endpoint
from finpy.errors import ConfigurationError
from finpy.service import Status

__all__ = ["Aperture", "aperture_width"]

Req = TypeVar("Req")
Rep = TypeVar("Rep")

_OPEN = Status.OPEN
_EPS = 1e-12


def aperture_width(endpoints: int, min_aperture: int, peer_count: int | None) -> float:
    """Length of a client's arc on the ring ``[0, 1)`` (1.0: every endpoint)."""
    if endpoints <= 0:
        return 1.0
    if peer_count is None:
        return min(1.0, min_aperture / endpoints)
    units = max(1, math.ceil(min_aperture * peer_count / endpoints - 1e-9))
    return min(1.0, units / peer_count)


class Aperture(Balancer[Req, Rep]):
    """P2C peak-EWMA over a deterministic, evenly spread subset of the endpoints.

    Args:
        peer_index, peer_count: this client's coordinate among its peers (both or neither).
        min_aperture: the least number of endpoints' worth of ring to talk to (12).
        decay, clock, rng, panic_threshold, max_effort: as for :class:`P2CPeakEwma`.
    """

    def __init__(
        self,
        *,
        peer_index: int | None = None,
        peer_count: int | None = None,
        min_aperture: int = 12,
        decay: float = DEFAULT_DECAY,
        clock: Clock = SYSTEM_CLOCK,
        rng: random.Random | None = None,
        panic_threshold: float = DEFAULT_PANIC_THRESHOLD,
        max_effort: int = DEFAULT_MAX_EFFORT,
    ) -> None:
        super().__init__(rng=rng, panic_threshold=panic_threshold)
        if (peer_index is None) != (peer_count is None):
            raise ConfigurationError(
                f"aperture needs both peer_index and peer_count or neither, "
                f"got peer_index={peer_index!r}, peer_count={peer_count!r}"
            )
        if peer_count is not None:
            if isinstance(peer_count, bool) or not isinstance(peer_count, int) or peer_count < 1:
                raise ConfigurationError(f"peer_count must be an integer >= 1, got {peer_count!r}")
            if (
                isinstance(peer_index, bool)
                or not isinstance(peer_index, int)
                or not 0 <= peer_index < peer_count
            ):
                raise ConfigurationError(
                    f"peer_index must be an integer in [0, {peer_count}), got {peer_index!r}"
                )
        if isinstance(min_aperture, bool) or not isinstance(min_aperture, int) or min_aperture < 1:
            raise ConfigurationError(f"min_aperture must be an integer >= 1, got {min_aperture!r}")
        self.peer_index = peer_index
        self.peer_count = peer_count
        self.min_aperture = min_aperture
        self.decay = validate_decay(decay)
        self.clock = clock
        self._now = clock.now
        self._band = 1.0 + DEFAULT_TOLERANCE
        self.max_effort = validate_effort(max_effort)
        self.offset = (
            peer_index / peer_count
            if peer_index is not None and peer_count is not None
            else self.rng.random()
        )
        self.width = 1.0
        self.subset: tuple[Endpoint[Req, Rep], ...] = ()
        #: Share of this client's traffic each subset endpoint should get (sums to 1).
        self.shares: tuple[float, ...] = ()
        self._meters: tuple[PeakEwma, ...] = ()
        self._cumulative: list[float] = []
        self.subset_health = HealthGauge(panic_threshold)
        self.spill: P2CPeakEwma[Req, Rep] = P2CPeakEwma(
            decay=decay, clock=clock, rng=self.rng, panic_threshold=panic_threshold
        )
        self.spill.health = self.health  # one count and one panic state for the whole set
        self.spills = 0

    def _on_update(self) -> None:
        eps = sorted(self.endpoints, key=lambda e: e.address.key)
        self.spill.update(self.endpoints)
        n = len(eps)
        self.width = width = aperture_width(n, self.min_aperture, self.peer_count)
        if n == 0:
            self.subset, self.shares, self._meters, self._cumulative = (), (), (), []
            self.subset_health.refresh(())
            return
        total = sum(e.address.weight for e in eps)
        start = self.offset
        end = start + width
        subset: list[Endpoint[Req, Rep]] = []
        shares: list[float] = []
        lo = 0.0
        for e in eps:
            hi = lo + e.address.weight / total
            # overlap of [lo, hi) with the arc [start, end), which may wrap past 1.0
            overlap = max(0.0, min(hi, end) - max(lo, start))
            if end > 1.0:
                overlap += max(0.0, min(hi, end - 1.0) - lo)
            if overlap > _EPS:
                subset.append(e)
                shares.append(overlap)
            lo = hi
        covered = sum(shares)
        self.subset = tuple(subset)
        self.shares = tuple(s / covered for s in shares)
        self._meters = tuple(peak_ewma(e, self.decay, self.clock) for e in subset)
        self._cumulative = list(accumulate(self.shares))
        self._cumulative[-1] = 1.0
        self.subset_health.refresh(self.subset)

    def _index(self, avoid: int) -> int:
        """A subset index drawn by share, other than ``avoid`` (-1: any)."""
        cum = self._cumulative
        last = len(cum) - 1
        rnd = self.rng.random
        for _ in range(8):
            k = bisect_right(cum, rnd())
            if k > last:
                k = last
            if k != avoid:
                return k
        return (avoid + 1) % len(cum)

    def _healthy(self, avoid: int) -> int:
        """A healthy subset index other than ``avoid``, or -1 (draws, then a scan)."""
        sub = self.subset
        for _ in range(self.max_effort):
            k = self._index(avoid)
            if sub[k].status is _OPEN:
                return k
        return healthy_after(sub, self._index(-1), avoid)

    def _prefer(self, i: int, j: int) -> bool:
        """Whether subset endpoint ``i`` is cheaper than ``j`` per unit of share."""
        sub = self.subset
        ca, cb = costs(
            self._meters[i], self._meters[j], sub[i].pending, sub[j].pending, self._band, self._now
        )
        return ca / self.shares[i] <= cb / self.shares[j]  # a tie goes to i, drawn by share

    def pick(self) -> Endpoint[Req, Rep]:
        sub = self.subset
        m = len(sub)
        if m == 0:
            raise self._no_endpoints()
        if m == 1:
            only = sub[0]
            if only.status is _OPEN or len(self.endpoints) == 1:
                return only
            self.spills += 1
            return self.spill.pick()
        if self.subset_health.tick(sub):
            self.spills += 1
            return self.spill.pick()
        i = self._index(-1)
        j = self._index(i)
        if not self._prefer(i, j):
            i, j = j, i
        if sub[i].status is _OPEN:
            return sub[i]
        j_ok = sub[j].status is _OPEN
        k = self._healthy(j)
        if k < 0:
            if j_ok:
                return sub[j]
            self.subset_health.refresh(sub)  # nothing healthy in the aperture: spill
            self.spills += 1
            return self.spill.pick()
        if not j_ok:
            j = self._healthy(k)
            if j < 0:
                return sub[k]
        return sub[k] if self._prefer(k, j) else sub[j]

    @property
    def aperture(self) -> int:
        """Endpoints in this client's subset (the most it will connect to while healthy)."""
        return len(self.subset)

    def __repr__(self) -> str:
        coord = (
            f"{self.peer_index}/{self.peer_count}"
            if self.peer_count is not None
            else f"offset={self.offset:.3f}"
        )
        return f"Aperture({coord}, aperture={len(self.subset)}/{len(self.endpoints)})"
