"""Load balancers: how one endpoint is chosen for each request."""

from collections.abc import Callable
from typing import Any

from finpy.balancer.base import Balancer
from finpy.balancer.p2c import P2CLeastLoaded
from finpy.balancer.round_robin import RoundRobin
from finpy.errors import ConfigurationError

__all__ = ["BALANCERS", "Balancer", "P2CLeastLoaded", "RoundRobin", "balancer_factory"]

#: Balancers by the names clients accept (``balancer="round_robin"``).
BALANCERS: dict[str, Callable[[], Balancer[Any, Any]]] = {
    "p2c": P2CLeastLoaded,
    "p2c_least_loaded": P2CLeastLoaded,
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
