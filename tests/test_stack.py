"""Tests of ``finpy.stack``: editing stacks by role and materialising them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import pytest

from finpy import ConfigurationError, Filter, FilterModule, Param, Params, Service, Stack
from finpy.stack import StackModule


@dataclass(frozen=True, slots=True)
class Enabled(Param):
    """Which tagging filters are switched on (test parameter)."""

    roles: frozenset[str] = frozenset({"a", "b", "c", "x"})


class Tag(Filter[list[str], list[str]]):
    def __init__(self, name: str) -> None:
        self.name = name

    async def __call__(
        self, request: list[str], service: Service[list[str], list[str]], /
    ) -> list[str]:
        return await service([*request, self.name])


class Bottom(Service[list[str], list[str]]):
    async def __call__(self, request: list[str], /) -> list[str]:
        return request


def tag(role: str) -> FilterModule[list[str], list[str]]:
    def make(params: Params) -> Tag | None:
        """Tags the request with the role."""
        return Tag(role) if role in params[Enabled].roles else None

    return FilterModule(role, make)


def abc() -> Stack[list[str], list[str]]:
    return Stack([tag("a"), tag("b"), tag("c")])


async def order(stack: Stack[list[str], list[str]], params: Params | None = None) -> list[str]:
    return await stack.make(params or Params(), Bottom())([])


async def test_make_runs_modules_top_first() -> None:
    """The first module of a stack is the outermost: it sees the request first."""
    assert await order(abc()) == ["a", "b", "c"]


def test_roles_len_contains_iter_and_getitem() -> None:
    """A stack lists its roles top first and finds modules by role."""
    s = abc()
    assert s.roles == ("a", "b", "c")
    assert len(s) == 3
    assert "b" in s and "z" not in s
    assert [m.role for m in s] == ["a", "b", "c"]
    assert s["b"].role == "b"


async def test_insert_before_and_after() -> None:
    """insert_before puts the module just above the anchor, insert_after just below."""
    s = abc()
    assert (await order(s.insert_before("b", tag("x")))) == ["a", "x", "b", "c"]
    assert (await order(s.insert_after("b", tag("x")))) == ["a", "b", "x", "c"]
    assert s.insert_before("a", tag("x")).roles == ("x", "a", "b", "c")
    assert s.insert_after("c", tag("x")).roles == ("a", "b", "c", "x")


async def test_replace_keeps_the_position() -> None:
    """replace swaps the module of a role in place (the new module may have a new role)."""
    s = abc().replace("b", tag("x"))
    assert s.roles == ("a", "x", "c")
    assert await order(s) == ["a", "x", "c"]


async def test_remove_drops_only_that_role() -> None:
    """remove takes the module of a role out of the path."""
    s = abc().remove("b")
    assert s.roles == ("a", "c")
    assert await order(s) == ["a", "c"]


def test_prepend_and_append() -> None:
    """prepend puts a module on top, append at the bottom."""
    assert abc().prepend(tag("x")).roles == ("x", "a", "b", "c")
    assert abc().append(tag("x")).roles == ("a", "b", "c", "x")
    assert Stack[list[str], list[str]]().append(tag("x")).roles == ("x",)


def test_edits_return_new_stacks_and_leave_the_original_alone() -> None:
    """Stacks are immutable: every edit returns a new stack."""
    s = abc()
    s.insert_before("a", tag("x"))
    s.remove("a")
    s.replace("a", tag("x"))
    s.append(tag("x"))
    assert s.roles == ("a", "b", "c")


@pytest.mark.parametrize(
    "edit",
    [
        lambda s: s.insert_before("nope", tag("x")),
        lambda s: s.insert_after("nope", tag("x")),
        lambda s: s.replace("nope", tag("x")),
        lambda s: s.remove("nope"),
        lambda s: s["nope"],
    ],
)
def test_unknown_role_error_names_the_role_and_lists_the_roles(edit: object) -> None:
    """Using a role that is not there raises ConfigurationError naming it and the known roles."""
    with pytest.raises(ConfigurationError, match=r"'nope'.*roles: a, b, c"):
        edit(abc())  # type: ignore[operator]


def test_unknown_role_in_empty_stack_says_none() -> None:
    """An empty stack's error says there are no roles at all."""
    with pytest.raises(ConfigurationError, match=r"roles: none"):
        Stack[list[str], list[str]]().remove("a")


@pytest.mark.parametrize(
    "edit",
    [
        lambda s: s.insert_before("a", tag("b")),
        lambda s: s.insert_after("c", tag("a")),
        lambda s: s.replace("a", tag("c")),
        lambda s: s.prepend(tag("c")),
        lambda s: s.append(tag("a")),
        lambda s: Stack([tag("a"), tag("a")]),
    ],
)
def test_duplicate_role_is_rejected(edit: object) -> None:
    """A stack never holds two modules with the same role, whichever edit would add it."""
    with pytest.raises(ConfigurationError, match="duplicate role"):
        edit(abc())  # type: ignore[operator]


def test_replace_with_the_same_role_is_allowed() -> None:
    """Replacing a module by one with its own role is not a duplicate."""
    assert abc().replace("b", tag("b")).roles == ("a", "b", "c")


def test_non_module_and_empty_role_are_rejected() -> None:
    """A stack only takes StackModules, and a module needs a non-empty role."""
    with pytest.raises(ConfigurationError, match="not a stack module"):
        Stack([tag("a"), cast(Any, "b")])
    with pytest.raises(ConfigurationError, match="non-empty role"):
        FilterModule("", lambda p: None)


async def test_disabled_filter_module_adds_nothing() -> None:
    """A module whose factory returns None contributes no layer: make() returns the bottom itself."""
    bottom = Bottom()
    none_enabled = Params(Enabled(frozenset()))
    assert abc().make(none_enabled, bottom) is bottom
    some = Params(Enabled(frozenset({"b"})))
    assert await abc().make(some, bottom)([]) == ["b"]


def test_empty_stack_makes_the_bottom_service() -> None:
    """An empty stack materialises to the bottom service unchanged."""
    bottom = Bottom()
    assert Stack[list[str], list[str]]().make(Params(), bottom) is bottom


async def test_custom_stack_module_gets_params_and_the_service_below() -> None:
    """A hand-written StackModule is built bottom-up with the stack's params."""
    seen: list[tuple[Params, Service[list[str], list[str]]]] = []

    class Spy(StackModule[list[str], list[str]]):
        def make(
            self, params: Params, next: Service[list[str], list[str]]
        ) -> Service[list[str], list[str]]:
            seen.append((params, next))
            return next

    bottom = Bottom()
    params = Params(Enabled(frozenset({"c"})))
    svc = Stack([Spy("spy"), tag("c")]).make(params, bottom)
    assert seen[0][0] == params
    assert seen[0][1] is svc  # the spy got the already built "c" layer below it
    assert svc is not bottom


def test_filter_module_description_defaults_to_factory_docstring() -> None:
    """A FilterModule without a description takes the first line of its factory's docstring."""
    assert tag("a").description == "Tags the request with the role."
    assert FilterModule("r", lambda p: None, "explicit").description == "explicit"


def test_equality_and_repr() -> None:
    """Stacks with the same modules are equal; the repr shows the roles top to bottom."""
    mods = [tag("a"), tag("b")]
    assert Stack(mods) == Stack(mods)
    assert hash(Stack(mods)) == hash(Stack(mods))
    assert Stack(mods) != Stack(mods[:1])
    assert repr(Stack(mods)) == "Stack(a -> b)"
    assert repr(mods[0]) == "FilterModule('a')"
