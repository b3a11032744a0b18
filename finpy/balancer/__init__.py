"""Load balancers: how one endpoint is chosen for each request.

``p2c_ewma`` (:class:`P2CPeakEwma`, power of two choices over peak-EWMA round-trip
estimates) is the default of the gRPC channel.  The others: ``p2c`` (least
loaded), ``round_robin``, ``random``, ``aperture`` (deterministic subsetting for
very large sets) and ``ring_hash`` (consistent hashing on the request key).
:class:`ZoneAware` wraps any of them to prefer the client's own zone.
"""

from collections.abc import Callable
from typing import Any

from finpy.balancer.aperture import Aperture
from finpy.balancer.base import Balancer
from finpy.balancer.ewma import P2CPeakEwma, PeakEwma
from finpy.balancer.p2c import P2CLeastLoaded
from finpy.balancer.panic import HealthGauge
from finpy.balancer.random import RandomBalancer
from finpy.balancer.ring_hash import RingHash
from finpy.balancer.round_robin import RoundRobin
from finpy.balancer.stats import BalancerStatistics, EndpointStatistics
from finpy.balancer.zones import ZoneAware
from finpy.errors import ConfigurationError

__all__ = [
    "BALANCERS",
    "Aperture",
    "Balancer",
    "BalancerStatistics",
    "EndpointStatistics",
    "HealthGauge",
    "P2CLeastLoaded",
    "P2CPeakEwma",
    "PeakEwma",
    "RandomBalancer",
    "RingHash",
    "RoundRobin",
    "ZoneAware",
    "balancer_factory",
]

#: Balancers by the names clients accept (``balancer="round_robin"``).
BALANCERS: dict[str, Callable[[], Balancer[Any, Any]]] = {
    "aperture": Aperture,
    "p2c": P2CLeastLoaded,
    "p2c_ewma": P2CPeakEwma,
    "p2c_least_loaded": P2CLeastLoaded,
    "random": RandomBalancer,
    "ring_hash": RingHash,
    "round_robin": RoundRobin,
}


def balancer_factory(
    spec: str | Callable[[], Balancer[Any, Any]],
) -> Callable[[], Balancer[Any, Any]]:
    """A balancer factory from a name in :data:`BALANCERS` or a callable."""
    if isinstance(spec, str):
        try:
            return BALANCERS[spec]
        except KeyError:
            raise ConfigurationError(
                f"unknown balancer {spec!r} (known: {', '.join(sorted(BALANCERS))})"
            ) from None
    if callable(spec):
        return spec
    raise ConfigurationError(f"balancer must be a name or a callable, got {spec!r}")
