"""The ``Resolver`` protocol: how a target scheme becomes a live :class:`Resolution`."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from finpy.resolver.resolution import Resolution
from finpy.resolver.target import Target

__all__ = ["Resolver"]


@runtime_checkable
class Resolver(Protocol):
    """Resolves targets of one URI scheme.

    ``validate`` runs when a client is constructed, so a malformed target is an
    error there and then; ``resolve`` runs inside the event loop when the client
    first needs addresses, and returns a :class:`Resolution` that the resolver
    keeps up to date until it is closed.
    """

    @property
    def scheme(self) -> str:
        """The URI scheme this resolver handles (lower case)."""
        ...

    def validate(self, target: Target) -> None:
        """Raise :class:`~finpy.errors.TargetError` naming what is wrong with ``target``."""
        ...

    def resolve(self, target: Target) -> Resolution:
        """Start resolving ``target``; the resolution stays live until ``aclose()``."""
        ...
