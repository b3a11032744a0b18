"""Tests of ``finpy.resolver.target``: parsing target names."""

from __future__ import annotations

import re

import pytest

from finpy import TargetError
from finpy.errors import ConfigurationError
from finpy.resolver import Target


@pytest.mark.parametrize(
    ("text", "scheme", "authority", "endpoint"),
    [
        ("dns:///users.svc:50051", "dns", "", "users.svc:50051"),
        ("dns://8.8.8.8:53/users.svc:50051", "dns", "8.8.8.8:53", "users.svc:50051"),
        ("static:///10.0.0.1:1,10.0.0.2:2", "static", "", "10.0.0.1:1,10.0.0.2:2"),
        ("zk://zk1:2181,zk2:2181/services/users", "zk", "zk1:2181,zk2:2181", "services/users"),
        ("my+scheme.v2-x:///name", "my+scheme.v2-x", "", "name"),
        ("static:///[::1]:80", "static", "", "[::1]:80"),
    ],
)
def test_parse_scheme_authority_endpoint(
    text: str, scheme: str, authority: str, endpoint: str
) -> None:
    """scheme://authority/endpoint splits into its three parts and keeps the raw text."""
    t = Target.parse(text)
    assert (t.scheme, t.authority, t.endpoint) == (scheme, authority, endpoint)
    assert t.raw == text
    assert str(t) == text


@pytest.mark.parametrize("text", ["10.0.0.1:50051", "a:1,b:2", "[::1]:80", " h:1 "])
def test_bare_address_list_is_static(text: str) -> None:
    """A target without '://' is shorthand for a static list of addresses."""
    t = Target.parse(text)
    assert (t.scheme, t.authority, t.endpoint) == ("static", "", text.strip())
    assert t.raw == text


def test_scheme_is_case_insensitive() -> None:
    """The scheme is lower-cased (URI schemes are case-insensitive); the rest is kept."""
    t = Target.parse("DNS:///Users.Svc:50051")
    assert t.scheme == "dns"
    assert t.endpoint == "Users.Svc:50051"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("dns://users.svc:50051", "needs a '/'"),
        ("dns://", "needs a '/'"),
        ("dns:///", "names nothing"),
        ("dns://authority/", "names nothing"),
        ("1dns:///x", "invalid scheme '1dns'"),
        ("d_s:///x", "invalid scheme 'd_s'"),
        ("://x/y", "invalid scheme ''"),
    ],
)
def test_bad_targets_raise_target_error_naming_them(text: str, needle: str) -> None:
    """A malformed target raises TargetError saying what is wrong (and quoting the target)."""
    with pytest.raises(TargetError, match=re.escape(needle)) as info:
        Target.parse(text)
    if text.strip():
        assert repr(text) in str(info.value)


def test_missing_slash_error_suggests_the_fix() -> None:
    """Forgetting the third slash gets a message showing the corrected target."""
    with pytest.raises(TargetError, match=re.escape("'dns:///users.svc:50051'")):
        Target.parse("dns://users.svc:50051")


def test_non_string_target_is_rejected() -> None:
    """Target.parse needs a string and names what it got."""
    with pytest.raises(TargetError, match="42"):
        Target.parse(42)  # type: ignore[arg-type]


def test_target_error_is_a_configuration_error() -> None:
    """TargetError is a ConfigurationError (and so a ValueError)."""
    assert issubclass(TargetError, ConfigurationError)
    assert issubclass(TargetError, ValueError)


def test_targets_are_values() -> None:
    """Targets parsed from the same text are equal and hashable."""
    assert Target.parse("dns:///a:1") == Target.parse("dns:///a:1")
    assert len({Target.parse("dns:///a:1"), Target.parse("dns:///a:1")}) == 1
