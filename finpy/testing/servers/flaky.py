"""A resolver whose discovery can be failed on demand (benchmarks, fault tests).

``FlakyResolver`` serves a set of addresses under its own scheme and can, at
any moment, start behaving like broken discovery: reporting ``Failed``,
``Pending``, an empty set, ``Negative`` or a malformed update.  Clients built
through it get the default last-known-good guard like any resolver-made
resolution, which is the point: a discovery outage must cost zero requests::

    flaky = FlakyResolver(["127.0.0.1:5001", "127.0.0.1:5002"])
    channel = Channel(flaky.target, registry=flaky.registry())
    flaky.fail("empty")      # discovery goes bad ...
    flaky.recover()          # ... and comes back with the current set
"""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Iterable
from typing import Literal

from finpy.address import Address
from finpy.errors import ConfigurationError, TargetError
from finpy.resolver.file import FileResolver
from finpy.resolver.guard import MalformedUpdateError
from finpy.resolver.registry import ResolverRegistry
from finpy.resolver.resolution import Resolution
from finpy.resolver.state import Bound, Failed, Negative, Pending, ResolutionState
from finpy.resolver.static import StaticResolver
from finpy.resolver.target import Target

__all__ = ["FailureMode", "FlakyResolver"]

FailureMode = Literal["failed", "pending", "empty", "negative", "malformed"]
_MODES = ("failed", "pending", "empty", "negative", "malformed")
_ids = itertools.count(1)


class FlakyResolver:
    """Serves ``addresses`` as ``flaky-N:///name`` and fails when told to."""

    def __init__(self, addresses: Iterable[Address | str], *, name: str = "service") -> None:
        self.scheme = f"flaky-{next(_ids)}"
        self.name = name
        self._addresses = self._parse(addresses)
        self._mode: FailureMode | None = None
        self._live: weakref.WeakSet[Resolution] = weakref.WeakSet()
        self.failures = 0

    @staticmethod
    def _parse(addresses: Iterable[Address | str]) -> tuple[Address, ...]:
        return tuple(a if isinstance(a, Address) else Address.parse(a) for a in addresses)

    @property
    def target(self) -> str:
        return f"{self.scheme}:///{self.name}"

    def registry(self) -> ResolverRegistry:
        """A registry with this resolver plus the static and file schemes."""
        return ResolverRegistry((StaticResolver(), FileResolver(), self))

    # -- Resolver -------------------------------------------------------------------------

    def validate(self, target: Target) -> None:
        if target.scheme != self.scheme:
            raise TargetError(f"{target.raw!r} is not a {self.scheme} target")

    def resolve(self, target: Target) -> Resolution:
        self.validate(target)
        res = Resolution(self._state(), target=target.raw)
        self._live.add(res)
        return res

    # -- control --------------------------------------------------------------------------

    @property
    def failing(self) -> FailureMode | None:
        return self._mode

    def fail(self, mode: FailureMode = "failed") -> None:
        """Make discovery go bad in ``mode`` until :meth:`recover`."""
        if mode not in _MODES:
            raise ConfigurationError(f"unknown failure mode {mode!r} (one of {_MODES})")
        self._mode = mode
        self.failures += 1
        self._publish()

    def recover(self) -> None:
        """Discovery works again and reports the current addresses."""
        self._mode = None
        self._publish()

    def set_addresses(self, addresses: Iterable[Address | str]) -> None:
        """Change the set (published now unless discovery is failing)."""
        self._addresses = self._parse(addresses)
        if self._mode is None:
            self._publish()

    def _state(self) -> ResolutionState:
        mode = self._mode
        if mode is None:
            return Bound(self._addresses)
        if mode == "pending":
            return Pending()
        if mode == "empty":
            return Bound([])
        if mode == "negative":
            return Negative(f"{self.name}: injected negative answer")
        if mode == "malformed":
            return Failed(MalformedUpdateError(f"{self.name}: injected malformed update"))
        return Failed(ConnectionError(f"{self.name}: injected discovery outage"))

    def _publish(self) -> None:
        state = self._state()
        for res in list(self._live):
            res.publish(state)

    def __repr__(self) -> str:
        return f"FlakyResolver({self.target!r}, addresses={len(self._addresses)}, failing={self._mode!r})"
