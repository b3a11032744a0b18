"""``Stack``: an ordered, editable list of named modules that builds a service.

A stack is written top (closest to the caller) to bottom (closest to the
wire).  Each :class:`StackModule` has a *role* (``"deadline"``,
``"retries"``, ...) by which it can be found, replaced, removed or used as an
anchor to insert another module before or after it.  :meth:`Stack.make`
materialises the stack over a bottom service with :class:`~finpy.params.Params`;
a module that is disabled by its params returns the service below unchanged,
so a disabled module adds nothing to the request path.

Stacks are immutable: every edit returns a new stack.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Generic, TypeVar

from finpy.errors import ConfigurationError
from finpy.filter import Filter
from finpy.params import Params
from finpy.service import Service

__all__ = ["FilterModule", "Stack", "StackModule"]

Req = TypeVar("Req")
Rep = TypeVar("Rep")


class StackModule(ABC, Generic[Req, Rep]):
    """One named layer of a stack."""

    role: str
    description: str

    def __init__(self, role: str, description: str = "") -> None:
        if not isinstance(role, str) or not role:
            raise ConfigurationError(f"a stack module needs a non-empty role name, got {role!r}")
        self.role = role
        self.description = description

    @abstractmethod
    def make(self, params: Params, next: Service[Req, Rep]) -> Service[Req, Rep]:
        """Build this layer over ``next`` (return ``next`` itself to add nothing)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.role!r})"


class FilterModule(StackModule[Req, Rep]):
    """A module made of a filter factory: ``make_filter(params) -> Filter | None``."""

    def __init__(
        self,
        role: str,
        make_filter: Callable[[Params], Filter[Req, Rep] | None],
        description: str = "",
    ) -> None:
        super().__init__(role, description or (make_filter.__doc__ or "").strip().split("\n")[0])
        self._make_filter = make_filter

    def make(self, params: Params, next: Service[Req, Rep]) -> Service[Req, Rep]:
        f = self._make_filter(params)
        return next if f is None else f.and_then(next)


class Stack(Generic[Req, Rep]):
    """An immutable, ordered list of :class:`StackModule` (top first)."""

    __slots__ = ("_modules",)

    def __init__(self, modules: Iterable[StackModule[Req, Rep]] = ()) -> None:
        mods = tuple(modules)
        seen: set[str] = set()
        for m in mods:
            if not isinstance(m, StackModule):
                raise ConfigurationError(f"not a stack module: {m!r}")
            if m.role in seen:
                raise ConfigurationError(f"duplicate role {m.role!r} in stack")
            seen.add(m.role)
        self._modules = mods

    @property
    def roles(self) -> tuple[str, ...]:
        """The roles, top first."""
        return tuple(m.role for m in self._modules)

    def __iter__(self) -> Iterator[StackModule[Req, Rep]]:
        return iter(self._modules)

    def __len__(self) -> int:
        return len(self._modules)

    def __contains__(self, role: object) -> bool:
        return any(m.role == role for m in self._modules)

    def __getitem__(self, role: str) -> StackModule[Req, Rep]:
        return self._modules[self._index(role)]

    def _index(self, role: str) -> int:
        for i, m in enumerate(self._modules):
            if m.role == role:
                return i
        raise ConfigurationError(
            f"no module with role {role!r} in stack (roles: {', '.join(self.roles) or 'none'})"
        )

    def _with(self, modules: Iterable[StackModule[Req, Rep]]) -> Stack[Req, Rep]:
        return Stack(modules)

    def insert_before(self, role: str, module: StackModule[Req, Rep]) -> Stack[Req, Rep]:
        """A stack with ``module`` just above the module with ``role``."""
        i = self._index(role)
        return self._with((*self._modules[:i], module, *self._modules[i:]))

    def insert_after(self, role: str, module: StackModule[Req, Rep]) -> Stack[Req, Rep]:
        """A stack with ``module`` just below the module with ``role``."""
        i = self._index(role) + 1
        return self._with((*self._modules[:i], module, *self._modules[i:]))

    def replace(self, role: str, module: StackModule[Req, Rep]) -> Stack[Req, Rep]:
        """A stack with the module of ``role`` replaced by ``module``."""
        i = self._index(role)
        return self._with((*self._modules[:i], module, *self._modules[i + 1 :]))

    def remove(self, role: str) -> Stack[Req, Rep]:
        """A stack without the module of ``role``."""
        i = self._index(role)
        return self._with((*self._modules[:i], *self._modules[i + 1 :]))

    def prepend(self, module: StackModule[Req, Rep]) -> Stack[Req, Rep]:
        """A stack with ``module`` on top."""
        return self._with((module, *self._modules))

    def append(self, module: StackModule[Req, Rep]) -> Stack[Req, Rep]:
        """A stack with ``module`` at the bottom (just above the base service)."""
        return self._with((*self._modules, module))

    def make(self, params: Params, bottom: Service[Req, Rep]) -> Service[Req, Rep]:
        """Materialise the stack over ``bottom``, bottom module first."""
        svc = bottom
        for m in reversed(self._modules):
            svc = m.make(params, svc)
        return svc

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Stack) and self._modules == other._modules

    def __hash__(self) -> int:
        return hash(self._modules)

    def __repr__(self) -> str:
        return "Stack(" + " -> ".join(self.roles) + ")"
