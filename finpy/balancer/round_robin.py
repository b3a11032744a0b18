"""Round-robin: each endpoint in turn, skipping the ones that are not OPEN.

Kept as the familiar baseline (gRPC's ``round_robin``).  It ignores load and
latency, which is why it is not finpy's default.  When no endpoint is OPEN it
still picks the next one (fail open) rather than failing the request.
"""

from __future__ import annotations

from typing import TypeVar

from finpy.balancer.base import Balancer
from finpy.endpoint import Endpoint
from finpy.service import Status

__all__ = ["RoundRobin"]

Req = TypeVar("Req")
Rep = TypeVar("Rep")


class RoundRobin(Balancer[Req, Rep]):
    """Endpoints in order, starting at a random offset, skipping non-OPEN ones."""

    _next = 0

    def _on_update(self) -> None:
        n = len(self.endpoints)
        self._next = self.rng.randrange(n) if n else 0

    def pick(self) -> Endpoint[Req, Rep]:
        eps = self.endpoints
        n = len(eps)
        if n == 0:
            raise self._no_endpoints()
        start = self._next % n
        for k in range(n):
            ep = eps[(start + k) % n]
            if ep.status is Status.OPEN:
                self._next = start + k + 1
                return ep
        self._next = start + 1
        return eps[start]
