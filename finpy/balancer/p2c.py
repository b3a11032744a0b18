"""Power of two choices, least loaded (Finagle's ``P2CLeastLoaded``).

Pick two distinct endpoints at random and send to the one with fewer requests
in flight (divided by its weight), preferring one whose status is OPEN.
Random choice with a load comparison avoids both herding (every client
choosing the same "best" endpoint) and the blind spots of round-robin, and it
costs O(1) however many endpoints there are.
"""

from __future__ import annotations

from typing import TypeVar

from finpy.balancer.base import Balancer
from finpy.endpoint import Endpoint
from finpy.service import Status

__all__ = ["P2CLeastLoaded"]

Req = TypeVar("Req")
Rep = TypeVar("Rep")

_OPEN = Status.OPEN


class P2CLeastLoaded(Balancer[Req, Rep]):
    """Two random choices; the OPEN one, then the least loaded per unit of weight, wins."""

    def pick(self) -> Endpoint[Req, Rep]:
        eps = self.endpoints
        n = len(eps)
        if n == 0:
            raise self._no_endpoints()
        if n == 1:
            return eps[0]
        rnd = self.rng.random
        i = int(rnd() * n)
        j = int(rnd() * (n - 1))
        if j >= i:
            j += 1
        a, b = eps[i], eps[j]
        a_open = a.status is _OPEN
        if a_open != (b.status is _OPEN):
            return a if a_open else b
        la = a.pending / a.address.weight
        lb = b.pending / b.address.weight
        if la == lb:
            return a if rnd() < 0.5 else b
        return a if la < lb else b
