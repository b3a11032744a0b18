"""Random: each request to an endpoint drawn at random, in proportion to its weight.

No load or latency signal at all, so it is mostly a baseline and a building
block; with many clients it spreads load about as evenly as round-robin
without any coordination.  Unhealthy endpoints are re-drawn (a few tries,
then a scan) unless the set is in panic mode.  O(1) per pick (an alias table for weights).
"""

from __future__ import annotations

import random
from typing import TypeVar

from finpy.balancer.base import Balancer
from finpy.balancer.ewma import DEFAULT_MAX_EFFORT, healthy_after, validate_effort
from finpy.balancer.panic import DEFAULT_PANIC_THRESHOLD
from finpy.balancer.weighted import AliasTable
from finpy.endpoint import Endpoint
from finpy.service import Status

__all__ = ["RandomBalancer"]

Req = TypeVar("Req")
Rep = TypeVar("Rep")

_OPEN = Status.OPEN


class RandomBalancer(Balancer[Req, Rep]):
    """A weighted random endpoint; healthy ones unless in panic mode."""

    def __init__(
        self,
        *,
        rng: random.Random | None = None,
        panic_threshold: float = DEFAULT_PANIC_THRESHOLD,
        max_effort: int = DEFAULT_MAX_EFFORT,
    ) -> None:
        super().__init__(rng=rng, panic_threshold=panic_threshold)
        self.max_effort = validate_effort(max_effort)
        self._table = AliasTable(())

    def _on_update(self) -> None:
        self._table = AliasTable([e.address.weight for e in self.endpoints])

    def pick(self) -> Endpoint[Req, Rep]:
        eps = self.endpoints
        n = len(eps)
        if n < 2:
            if n == 0:
                raise self._no_endpoints()
            return eps[0]
        panic = self.health.tick(eps)
        draw = self._table.draw
        rnd = self.rng.random
        ep = eps[draw(rnd)]
        if panic or ep.status is _OPEN:
            return ep
        for _ in range(self.max_effort):
            other = eps[draw(rnd)]
            if other.status is _OPEN:
                return other
        k = healthy_after(eps, int(rnd() * n))  # rare outside panic mode
        if k >= 0:
            return eps[k]
        self.health.refresh(eps)  # nothing healthy at all: the count was stale
        return ep
