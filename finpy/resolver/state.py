"""The states a name resolution can be in.

* :class:`Bound` — the name resolved to a set of addresses (possibly empty).
* :class:`Negative` — the name authoritatively does not exist.
* :class:`Pending` — no answer yet.
* :class:`Failed` — discovery itself failed (the name may well exist).

Only ``Bound`` and ``Negative`` are facts about the service; ``Pending`` and
``Failed`` are facts about discovery, which is why consumers keep serving the
last bound set through them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from finpy.address import Address
from finpy.errors import ConfigurationError

__all__ = ["Bound", "Failed", "Negative", "Pending", "ResolutionState"]


@dataclass(frozen=True, slots=True)
class Bound:
    """The name is bound to ``addresses`` (order carries no meaning)."""

    addresses: tuple[Address, ...]

    def __init__(self, addresses: Iterable[Address]) -> None:
        addrs = tuple(addresses)
        for a in addrs:  # a malformed update must fail here, not half-way through its consumers
            if not isinstance(a, Address):
                raise ConfigurationError(f"Bound takes Address objects, got {a!r}")
        object.__setattr__(self, "addresses", addrs)

    def __repr__(self) -> str:
        return f"Bound([{', '.join(str(a) for a in self.addresses)}])"


@dataclass(frozen=True, slots=True)
class Negative:
    """The name does not exist (NXDOMAIN, no such ZooKeeper path, ...)."""

    reason: str = ""


@dataclass(frozen=True, slots=True)
class Pending:
    """Resolution has not produced an answer yet."""


@dataclass(frozen=True, slots=True)
class Failed:
    """Discovery failed with ``error``; says nothing about the service itself."""

    error: BaseException

    def __repr__(self) -> str:
        return f"Failed({self.error!r})"


ResolutionState = Bound | Negative | Pending | Failed
