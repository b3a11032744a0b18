"""Zones: prefer endpoints in the client's own zone, spill to others when they fall short.

Addresses carry a ``zone`` (``Address.metadata["zone"]``, from discovery).  A
:class:`ZoneAware` balancer splits the set into the client's zone (*local*)
and the rest (*remote*), each balanced by its own inner balancer (P2C
peak-EWMA by default), and sends each request to one side:

* all of it locally while at least ``1 / overprovisioning`` (about 71%) of
  the local endpoints are healthy;
* below that, the local share shrinks in proportion to the healthy fraction
  times ``overprovisioning`` (Envoy's priority spill), the rest goes remote;
* nothing locally when fewer than ``min_local`` local endpoints are healthy
  (too few to carry the zone's traffic) or there are none.

This is failover between data centres at the endpoint level: a zone that
loses its backends sheds traffic to the other zones gradually, and gets it
back as its endpoints are revived.  A retry that has already tried every
healthy endpoint of its side goes to the other side at once.  Health counts come from the local
balancer's :class:`~finpy.balancer.panic.HealthGauge` (amortised O(1)).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any, TypeVar

from finpy.balancer.base import Balancer
from finpy.balancer.ewma import P2CPeakEwma
from finpy.balancer.panic import DEFAULT_PANIC_THRESHOLD
from finpy.balancer.stats import BalancerStatistics
from finpy.context import _TRIED
from finpy.endpoint import Endpoint
from finpy.errors import ConfigurationError
from finpy.service import Status

__all__ = ["ZoneAware"]

Req = TypeVar("Req")
Rep = TypeVar("Rep")

_OPEN = Status.OPEN


class ZoneAware(Balancer[Req, Rep]):
    """Local-zone first, spilling to other zones when local endpoints are unhealthy or few.

    Args:
        zone: this client's zone (compared with ``Address.zone``).
        inner: makes the balancer of each side (default :class:`P2CPeakEwma`).
        min_local: fewer healthy local endpoints than this sends everything remote (2).
        overprovisioning: local share = min(1, overprovisioning * healthy fraction) (1.4).
    """

    def __init__(
        self,
        zone: str,
        *,
        inner: Callable[[], Balancer[Any, Any]] = P2CPeakEwma,
        min_local: int = 2,
        overprovisioning: float = 1.4,
        rng: random.Random | None = None,
        panic_threshold: float = DEFAULT_PANIC_THRESHOLD,
    ) -> None:
        super().__init__(rng=rng, panic_threshold=panic_threshold)
        if not isinstance(zone, str) or not zone:
            raise ConfigurationError(f"zone must be a non-empty string, got {zone!r}")
        if not callable(inner):
            raise ConfigurationError(f"inner must make a Balancer, got {inner!r}")
        if isinstance(min_local, bool) or not isinstance(min_local, int) or min_local < 1:
            raise ConfigurationError(f"min_local must be an integer >= 1, got {min_local!r}")
        if (
            isinstance(overprovisioning, bool)
            or not isinstance(overprovisioning, (int, float))
            or not math.isfinite(overprovisioning)
            or overprovisioning < 1.0
        ):
            raise ConfigurationError(
                f"overprovisioning must be a number >= 1, got {overprovisioning!r}"
            )
        self.zone = zone
        self.min_local = min_local
        self.overprovisioning = float(overprovisioning)
        self.local: Balancer[Req, Rep] = inner()
        self.remote: Balancer[Req, Rep] = inner()
        for b in (self.local, self.remote):
            if not isinstance(b, Balancer):
                raise ConfigurationError(f"inner must make a Balancer, got {b!r}")
        self.local_picks = 0
        self.remote_picks = 0

    def _on_update(self) -> None:
        zone = self.zone
        self.local.update([e for e in self.endpoints if e.address.zone == zone])
        self.remote.update([e for e in self.endpoints if e.address.zone != zone])

    @property
    def local_share(self) -> float:
        """Fraction of requests that stay in the zone (as of the last health count)."""
        total = len(self.local.endpoints)
        healthy = self.local.health.healthy
        if total == 0 or healthy < self.min_local:
            return 0.0
        return min(1.0, self.overprovisioning * healthy / total)

    def _side(self) -> Balancer[Req, Rep]:
        local, remote = self.local, self.remote
        if not remote.endpoints:
            return local
        if not local.endpoints:
            return remote
        local.health.tick(local.endpoints)
        share = self.local_share
        if share >= 1.0 or (share > 0.0 and self.rng.random() < share):
            self.local_picks += 1
            return local
        self.remote_picks += 1
        return remote

    def pick(self) -> Endpoint[Req, Rep]:
        if not self.endpoints:
            raise self._no_endpoints()
        return self._side().pick()

    async def __call__(self, request: Req, /) -> Rep:
        if not self.endpoints:
            raise self._no_endpoints()
        side = self._side()
        self.picks += 1
        tried = _TRIED.get()
        if tried and self._exhausted(side, tried):
            other = self.remote if side is self.local else self.local
            if other.endpoints:
                side = other
        return await side(request)

    @staticmethod
    def _exhausted(side: Balancer[Req, Rep], tried: list[tuple[str, int]]) -> bool:
        """Whether a retry already tried every healthy endpoint of ``side`` (small scans only)."""
        eps = side.endpoints
        if len(eps) > 16 and side.health.healthy > len(tried):
            return False
        return all(e.address.key in tried or e.status is not _OPEN for e in eps)

    def statistics(self) -> BalancerStatistics:
        local, remote = self.local.statistics(), self.remote.statistics()
        return BalancerStatistics(
            kind=type(self).__name__,
            endpoints=len(self.endpoints),
            unhealthy=local.unhealthy + remote.unhealthy,
            panic=local.panic and (remote.panic or not self.remote.endpoints),
            panics=local.panics + remote.panics,
            picks=self.picks,
            pending=local.pending + remote.pending,
        )

    async def aclose(self) -> None:
        await self.local.aclose()
        await self.remote.aclose()
        await super().aclose()

    def __repr__(self) -> str:
        return (
            f"ZoneAware({self.zone!r}, local={len(self.local.endpoints)}, "
            f"remote={len(self.remote.endpoints)}, local_share={self.local_share:.2f})"
        )
