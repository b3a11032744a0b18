"""Load balancers: how one endpoint is chosen for each request."""

from finpy.balancer.base import Balancer
from finpy.balancer.p2c import P2CLeastLoaded
from finpy.balancer.round_robin import RoundRobin

__all__ = ["Balancer", "P2CLeastLoaded", "RoundRobin"]
