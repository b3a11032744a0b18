"""Finding the resolver for a target's scheme.

Built-in resolvers are registered here; third-party packages add schemes
through the ``finpy.resolvers`` entry-point group (each entry point names a
zero-argument callable, typically the resolver class, that returns a
:class:`~finpy.resolver.base.Resolver`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points

from finpy.errors import TargetError
from finpy.resolver.base import Resolver
from finpy.resolver.resolution import Resolution
from finpy.resolver.static import StaticResolver
from finpy.resolver.target import Target

__all__ = ["ENTRY_POINT_GROUP", "ResolverRegistry", "default_registry"]

log = logging.getLogger("finpy.resolver")

ENTRY_POINT_GROUP = "finpy.resolvers"


class ResolverRegistry:
    """A map from URI scheme to resolver, with entry-point plugins."""

    def __init__(self, resolvers: tuple[Resolver, ...] = ()) -> None:
        self._resolvers: dict[str, Resolver] = {}
        self._lazy: dict[str, Callable[[], Resolver]] = {}
        self._plugins_loaded = False
        for r in resolvers:
            self.register(r)

    def register(self, resolver: Resolver, *, replace: bool = False) -> None:
        """Make ``resolver`` handle its scheme."""
        if isinstance(resolver, type) or not isinstance(resolver, Resolver):  # a class passes too
            raise TypeError(f"not a resolver (needs scheme, validate, resolve): {resolver!r}")
        scheme = resolver.scheme.lower()
        if scheme in self._resolvers and not replace:
            raise ValueError(f"a resolver for scheme {scheme!r} is already registered")
        self._resolvers[scheme] = resolver

    def register_lazy(self, scheme: str, factory: Callable[[], Resolver]) -> None:
        """Register a resolver created on first use (keeps imports of optional deps lazy)."""
        self._lazy[scheme.lower()] = factory

    def _load_plugins(self) -> None:
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if ep.name.lower() not in self._resolvers:
                self._lazy.setdefault(ep.name.lower(), _plugin_factory(ep))

    @property
    def schemes(self) -> tuple[str, ...]:
        """The schemes known so far (entry points included)."""
        self._load_plugins()
        return tuple(sorted({*self._resolvers, *self._lazy}))

    def get(self, scheme: str) -> Resolver:
        """The resolver for ``scheme``; :class:`TargetError` if there is none."""
        scheme = scheme.lower()
        resolver = self._resolvers.get(scheme)
        if resolver is not None:
            return resolver
        self._load_plugins()
        factory = self._lazy.pop(scheme, None)
        if factory is None:
            raise TargetError(
                f"no resolver for scheme {scheme!r} (known: {', '.join(self.schemes)})"
            )
        try:
            resolver = factory()
            self.register(resolver, replace=True)
        except Exception as e:  # a broken plugin: say which scheme, keep failing the same way
            self._lazy[scheme] = factory
            raise TargetError(f"the resolver for scheme {scheme!r} failed to load: {e!r}") from e
        return resolver

    def validate(self, target: str | Target) -> tuple[Resolver, Target]:
        """Parse and validate ``target``; raises :class:`TargetError` naming what is wrong."""
        t = target if isinstance(target, Target) else Target.parse(target)
        resolver = self.get(t.scheme)
        resolver.validate(t)
        return resolver, t

    def resolve(self, target: str | Target) -> Resolution:
        """Validate ``target`` and start resolving it."""
        resolver, t = self.validate(target)
        return resolver.resolve(t)


def _plugin_factory(ep: EntryPoint) -> Callable[[], Resolver]:
    """The entry point names a factory (e.g. the resolver class): load it, then call it."""

    def make() -> Resolver:
        factory: Callable[[], Resolver] = ep.load()
        return factory()

    return make


def _builtin_lazy(registry: ResolverRegistry) -> None:
    """Register the built-in discovery resolvers; each module is imported on first use."""

    def dns() -> Resolver:
        from finpy.resolver.dns import DnsResolver

        return DnsResolver()

    def srv() -> Resolver:
        from finpy.resolver.srv import SrvResolver

        return SrvResolver()

    def file() -> Resolver:
        from finpy.resolver.file import FileResolver

        return FileResolver()

    def zk() -> Resolver:
        from finpy.resolver.zookeeper import ZooKeeperResolver

        return ZooKeeperResolver()

    def etcd() -> Resolver:
        from finpy.resolver.etcd import EtcdResolver

        return EtcdResolver()

    def consul() -> Resolver:
        from finpy.resolver.consul import ConsulResolver

        return ConsulResolver()

    def kubernetes() -> Resolver:
        from finpy.resolver.kubernetes import KubernetesResolver

        return KubernetesResolver()

    builtins = {"dns": dns, "srv": srv, "file": file, "zk": zk, "etcd": etcd}
    builtins |= {"consul": consul, "kubernetes": kubernetes}
    for scheme, factory in builtins.items():
        registry.register_lazy(scheme, factory)


_DEFAULT = ResolverRegistry((StaticResolver(),))
_builtin_lazy(_DEFAULT)


def default_registry() -> ResolverRegistry:
    """The process-wide registry that clients use unless given another."""
    return _DEFAULT
