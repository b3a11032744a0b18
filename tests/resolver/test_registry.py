"""Tests of ``finpy.resolver.registry``: finding a resolver by scheme, plugins included."""

from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from finpy import Address, TargetError
from finpy.resolver import (
    ENTRY_POINT_GROUP,
    Bound,
    Resolution,
    Resolver,
    ResolverRegistry,
    StaticResolver,
    Target,
    default_registry,
)


class Fixed:
    """A resolver of scheme ``fixed`` that resolves every name to one address."""

    def __init__(self, scheme: str = "fixed") -> None:
        self.scheme = scheme
        self.validated: list[Target] = []

    def validate(self, target: Target) -> None:
        self.validated.append(target)
        if target.endpoint == "bad":
            raise TargetError(f"bad fixed target {target.raw!r}")

    def resolve(self, target: Target) -> Resolution:
        return Resolution(Bound([Address("10.9.9.9", 9)]), target=target.raw)


def test_registered_resolver_is_found_case_insensitively() -> None:
    """register makes a resolver handle its scheme, looked up in any case."""
    fixed = Fixed("Fixed")
    reg = ResolverRegistry((StaticResolver(),))
    reg.register(fixed)
    assert reg.get("fixed") is fixed
    assert reg.get("FIXED") is fixed
    assert "fixed" in reg.schemes


def test_registering_a_scheme_twice_needs_replace() -> None:
    """A second resolver for a scheme is refused unless replace=True."""
    reg = ResolverRegistry((Fixed(),))
    with pytest.raises(ValueError, match="'fixed'"):
        reg.register(Fixed())
    other = Fixed()
    reg.register(other, replace=True)
    assert reg.get("fixed") is other


def test_register_rejects_non_resolvers() -> None:
    """Objects without scheme/validate/resolve are refused, naming them."""
    with pytest.raises(TypeError, match="not a resolver"):
        ResolverRegistry().register(object())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="StaticResolver"):  # the class, not an instance
        ResolverRegistry().register(StaticResolver)  # type: ignore[arg-type]


def test_unknown_scheme_error_lists_known_schemes() -> None:
    """Looking up an unknown scheme raises TargetError naming it and listing the known ones."""
    reg = ResolverRegistry((StaticResolver(), Fixed()))
    with pytest.raises(TargetError, match=r"'nope'.*known: .*fixed, .*static"):
        reg.get("nope")
    with pytest.raises(TargetError, match="'nope'"):
        reg.validate("nope:///x")


def test_validate_parses_and_asks_the_resolver() -> None:
    """validate parses a string target, finds its resolver and lets it check the target."""
    fixed = Fixed()
    reg = ResolverRegistry((fixed,))
    resolver, target = reg.validate("fixed:///name")
    assert resolver is fixed
    assert target == Target.parse("fixed:///name")
    assert fixed.validated == [target]
    with pytest.raises(TargetError, match="bad fixed target"):
        reg.validate("fixed:///bad")


def test_resolve_returns_the_resolvers_resolution() -> None:
    """resolve validates the target and returns the live resolution from its resolver."""
    res = ResolverRegistry((Fixed(),)).resolve(Target.parse("fixed:///x"))
    assert res.state == Bound([Address("10.9.9.9", 9)])
    assert res.target == "fixed:///x"


def test_lazy_resolver_is_built_once_on_first_use() -> None:
    """register_lazy defers creating the resolver until its scheme is first used."""
    made: list[Fixed] = []

    def factory() -> Resolver:
        made.append(Fixed("lazy"))
        return made[-1]

    reg = ResolverRegistry()
    reg.register_lazy("LAZY", factory)
    assert made == []
    assert "lazy" in reg.schemes
    first = reg.get("lazy")
    assert reg.get("lazy") is first
    assert made == [first]


def test_default_registry_knows_static() -> None:
    """The process-wide registry resolves static targets and bare address lists."""
    reg = default_registry()
    assert reg is default_registry()
    assert isinstance(reg.get("static"), StaticResolver)
    assert reg.resolve("10.0.0.1:1").state == Bound([Address("10.0.0.1", 1)])


# -- third-party schemes through the finpy.resolvers entry-point group -------------------


@pytest.fixture
def installed_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Install (on sys.path) a distribution whose entry points add the 'consulish' scheme."""
    module = "finpy_fake_resolver_plugin"
    (tmp_path / f"{module}.py").write_text(
        textwrap.dedent(
            """
            from finpy import Address
            from finpy.resolver import Bound, Resolution

            class ConsulishResolver:
                scheme = "consulish"

                def validate(self, target):
                    pass

                def resolve(self, target):
                    return Resolution(Bound([Address("10.7.7.7", 7)]), target=target.raw)

            def broken():
                raise RuntimeError("plugin is broken")
            """
        )
    )
    dist = tmp_path / "finpy_fake_resolver_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: finpy-fake-resolver-plugin\nVersion: 1.0\n"
    )
    (dist / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\n"
        f"consulish = {module}:ConsulishResolver\n"
        f"brokenish = {module}:broken\n"
        f"static = {module}:ConsulishResolver\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    yield module
    sys.modules.pop(module, None)


def test_entry_point_plugin_adds_a_scheme(installed_plugin: str) -> None:
    """An installed distribution's finpy.resolvers entry point makes its scheme resolvable."""
    reg = ResolverRegistry((StaticResolver(),))
    assert "consulish" in reg.schemes
    assert installed_plugin not in sys.modules  # listed, not imported until used
    res = reg.resolve("consulish:///users")
    assert res.state == Bound([Address("10.7.7.7", 7)])
    assert type(reg.get("consulish")).__name__ == "ConsulishResolver"


def test_builtin_resolver_wins_over_a_plugin_of_the_same_scheme(installed_plugin: str) -> None:
    """A plugin cannot take over a scheme that is registered explicitly."""
    static = StaticResolver()
    reg = ResolverRegistry((static,))
    assert reg.get("static") is static
    assert reg.schemes.count("static") == 1


def test_broken_plugin_raises_target_error_naming_the_scheme(installed_plugin: str) -> None:
    """A plugin that fails to load gives a TargetError naming its scheme, every time."""
    reg = ResolverRegistry()
    for _ in range(2):
        with pytest.raises(TargetError, match=r"'brokenish'.*plugin is broken"):
            reg.get("brokenish")
    assert "brokenish" in reg.schemes
