"""Service discovery: targets, resolvers and the live state of a resolved name."""

from finpy.resolver.base import Resolver
from finpy.resolver.guard import (
    DiscoveryPolicy,
    DiscoveryStatistics,
    GuardedResolution,
    LastKnownGood,
    MalformedUpdateError,
    guard,
)
from finpy.resolver.registry import ENTRY_POINT_GROUP, ResolverRegistry, default_registry
from finpy.resolver.resolution import Resolution
from finpy.resolver.state import Bound, Failed, Negative, Pending, ResolutionState
from finpy.resolver.static import StaticResolver, parse_address_list
from finpy.resolver.target import Target

__all__ = [
    "ENTRY_POINT_GROUP",
    "Bound",
    "DiscoveryPolicy",
    "DiscoveryStatistics",
    "Failed",
    "GuardedResolution",
    "LastKnownGood",
    "MalformedUpdateError",
    "Negative",
    "Pending",
    "Resolution",
    "ResolutionState",
    "Resolver",
    "ResolverRegistry",
    "StaticResolver",
    "Target",
    "default_registry",
    "guard",
    "parse_address_list",
]
