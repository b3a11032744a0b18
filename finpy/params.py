"""``Params``: the typed configuration a :class:`~finpy.stack.Stack` is built from.

Each parameter is a small frozen dataclass declared next to the module that
reads it (Finagle's ``Stack.Param``).  Its class is its key, and a parameter
class whose fields all have defaults *is* its own default::

    @dataclass(frozen=True)
    class AttemptTimeout(Param):
        seconds: float | None = None

    params = Params(AttemptTimeout(0.2))
    params[AttemptTimeout].seconds      # 0.2
    Params()[AttemptTimeout].seconds    # None (the default)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, TypeVar, cast

from finpy.errors import ConfigurationError

__all__ = ["Param", "Params"]

P = TypeVar("P", bound="Param")


class Param:
    """Base class of stack parameters.  Subclasses are frozen dataclasses."""

    __slots__ = ()

    @classmethod
    def default(cls: type[P]) -> P:
        """The value used when a stack's params do not set this parameter."""
        try:
            return cls()
        except TypeError as e:  # a parameter with a required field has no default
            raise ConfigurationError(
                f"parameter {cls.__name__} has no default and was not set"
            ) from e


class Params:
    """An immutable map from parameter class to parameter value."""

    __slots__ = ("_values",)

    def __init__(self, *params: Param) -> None:
        values: dict[type[Param], Param] = {}
        for p in params:
            if not isinstance(p, Param):
                raise ConfigurationError(f"not a stack parameter: {p!r}")
            values[type(p)] = p
        self._values = values

    def __getitem__(self, key: type[P]) -> P:
        value = self._values.get(key)
        if value is None:
            return key.default()
        return cast(P, value)

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def __iter__(self) -> Iterator[Param]:
        return iter(self._values.values())

    def __len__(self) -> int:
        return len(self._values)

    def with_(self, *params: Param) -> Params:
        """A copy with ``params`` set (replacing values of the same class)."""
        new = Params()
        new._values = dict(self._values)
        for p in params:
            if not isinstance(p, Param):
                raise ConfigurationError(f"not a stack parameter: {p!r}")
            new._values[type(p)] = p
        return new

    def __add__(self, other: Params) -> Params:
        """``a + b``: every parameter of both, ``b``'s value winning for shared classes."""
        if not isinstance(other, Params):
            return NotImplemented
        return self.with_(*other)

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Params) and self._values == other._values

    def __hash__(self) -> int:
        return hash(frozenset(self._values.items()))

    def __repr__(self) -> str:
        return "Params(" + ", ".join(repr(v) for v in self._values.values()) + ")"
