"""Tests of ``finpy.resolver.static``: fixed address lists in the target."""

from __future__ import annotations

import re

import pytest

from finpy import Address, ConfigurationError, TargetError
from finpy.resolver import Bound, StaticResolver, Target, parse_address_list


def test_parse_plain_list() -> None:
    """A comma-separated list of host:port gives those addresses in order, weight 1."""
    assert parse_address_list("10.0.0.1:1, 10.0.0.2:2,[::1]:3") == [
        Address("10.0.0.1", 1),
        Address("10.0.0.2", 2),
        Address("::1", 3),
    ]


def test_parse_weight_zone_and_other_attributes() -> None:
    """';weight=W' sets the weight; other key=value pairs (zone, ...) become metadata."""
    a, b = parse_address_list("10.0.0.1:1;weight=2;zone=eu-1;rack=r7,10.0.0.2:2;zone=us")
    assert a.weight == 2.0
    assert a.zone == "eu-1"
    assert dict(a.metadata) == {"zone": "eu-1", "rack": "r7"}
    assert b.weight == 1.0 and b.zone == "us"


def test_parse_rejects_duplicate_endpoints() -> None:
    """The same host:port twice (even with other attributes) is an error naming it."""
    with pytest.raises(ConfigurationError, match=re.escape("10.0.0.1:1 appears twice")):
        parse_address_list("10.0.0.1:1,10.0.0.2:2,10.0.0.1:1;weight=3")


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("a:1,,b:2", "empty address"),
        ("a:1,", "empty address"),
        ("a:1;weight", "'weight'"),
        ("a:1;=v", "'=v'"),
        ("a:1;weight=heavy", "'heavy'"),
        ("a:1;weight=0", "0.0"),
        ("a:1;weight=-2", "-2.0"),
        ("a:1;weight=nan", "nan"),
        ("a:1;weight=inf", "inf"),
        ("a:x", "'x'"),
        ("a", "'a'"),
    ],
)
def test_parse_errors_name_the_bad_item(text: str, needle: str) -> None:
    """Bad items, attributes and weights raise ConfigurationError naming what is wrong."""
    with pytest.raises(ConfigurationError, match=re.escape(needle)):
        parse_address_list(text)


def test_resolver_scheme_and_resolution() -> None:
    """static:///list resolves to a Bound resolution of exactly those addresses."""
    r = StaticResolver()
    assert r.scheme == "static"
    res = r.resolve(Target.parse("static:///10.0.0.1:1;weight=2,10.0.0.2:2"))
    assert res.state == Bound([Address("10.0.0.1", 1, 2.0), Address("10.0.0.2", 2)])
    assert res.target == "static:///10.0.0.1:1;weight=2,10.0.0.2:2"


def test_bare_list_resolves_like_static() -> None:
    """A bare 'h:p,h:p' target resolves the same as static:///h:p,h:p."""
    r = StaticResolver()
    assert (
        r.resolve(Target.parse("10.0.0.1:1,10.0.0.2:2")).state
        == r.resolve(Target.parse("static:///10.0.0.1:1,10.0.0.2:2")).state
    )


def test_validate_rejects_authority() -> None:
    """static targets take no authority; the error names the target and shows the fix."""
    with pytest.raises(TargetError, match=re.escape("'static://x/a:1'")):
        StaticResolver().validate(Target.parse("static://x/a:1"))


def test_validate_wraps_address_errors_in_target_error() -> None:
    """An invalid address list is a TargetError naming both the target and the bad item."""
    with pytest.raises(TargetError, match=r"'static:///a:1,b'.*'b'"):
        StaticResolver().validate(Target.parse("static:///a:1,b"))
    with pytest.raises(TargetError, match="appears twice"):
        StaticResolver().resolve(Target.parse("a:1,a:1"))
