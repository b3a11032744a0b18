"""Tests of ``finpy.address``: parsing, validation and identity of endpoint addresses."""

from __future__ import annotations

import re

import pytest

from finpy import Address, ConfigurationError


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [
        ("10.0.0.1:50051", "10.0.0.1", 50051),
        ("  10.0.0.1:1  ", "10.0.0.1", 1),
        ("localhost:65535", "localhost", 65535),
        ("users.svc.cluster.local:80", "users.svc.cluster.local", 80),
        ("[::1]:8080", "::1", 8080),
        ("[2001:db8::7]:443", "2001:db8::7", 443),
    ],
)
def test_parse_valid_addresses(text: str, host: str, port: int) -> None:
    """host:port, hostnames and bracketed IPv6 parse into host and port."""
    a = Address.parse(text)
    assert (a.host, a.port, a.weight) == (host, port, 1.0)
    assert a.metadata == {}


@pytest.mark.parametrize(
    ("text", "bad"),
    [
        ("10.0.0.1", "10.0.0.1"),
        (":80", ":80"),
        ("host:", "''"),
        ("host:http", "'http'"),
        ("host:-1", "'-1'"),
        ("host:+80", "'+80'"),
        ("host:0", "0"),
        ("host:65536", "65536"),
        ("host:\u00b2", "'\u00b2'"),
        ("host:\u0663", "'\u0663'"),
        ("::1:80", "brackets"),
        ("[::1]80", "[::1]80"),
        ("[::1", "[::1"),
        ("[not-ipv6]:80", "not-ipv6"),
        ("bad host:80", "bad host"),
        ("", "''"),
    ],
)
def test_parse_rejects_bad_text_naming_it(text: str, bad: str) -> None:
    """A malformed address raises ConfigurationError whose message names the bad part."""
    with pytest.raises(ConfigurationError, match=re.escape(bad)):
        Address.parse(text)


def test_parse_rejects_non_strings() -> None:
    """Address.parse needs a string and says what it got."""
    with pytest.raises(ConfigurationError, match="8080"):
        Address.parse(8080)  # type: ignore[arg-type]


def test_parse_takes_weight_and_metadata() -> None:
    """parse passes weight and metadata through to the address."""
    a = Address.parse("h:1", weight=2.5, metadata={"zone": "eu-1"})
    assert a.weight == 2.5
    assert a.zone == "eu-1"


@pytest.mark.parametrize("port", [0, -1, 65536, True, 80.0, "80"])
def test_constructor_rejects_bad_ports(port: object) -> None:
    """Ports must be ints in 1..65535; the error names the value."""
    with pytest.raises(ConfigurationError, match=re.escape(repr(port))):
        Address("h", port)  # type: ignore[arg-type]


@pytest.mark.parametrize("weight", [0, -1.0, float("inf"), float("nan"), True, "2"])
def test_constructor_rejects_bad_weights(weight: object) -> None:
    """Weights must be finite numbers > 0; the error names the value."""
    with pytest.raises(ConfigurationError, match=re.escape(repr(weight))):
        Address("h", 1, weight)  # type: ignore[arg-type]


@pytest.mark.parametrize("host", ["", " h", "a b", "[::1]", "h:1", "1:2:x", None])
def test_constructor_rejects_bad_hosts(host: object) -> None:
    """Empty hosts, whitespace, brackets and colons outside IPv6 literals are rejected."""
    with pytest.raises(ConfigurationError, match=re.escape(repr(host))):
        Address(host, 1)  # type: ignore[arg-type]


def test_constructor_rejects_non_string_metadata() -> None:
    """Metadata must map strings to strings."""
    with pytest.raises(ConfigurationError, match="metadata"):
        Address("h", 1, metadata={"zone": 1})  # type: ignore[dict-item]


def test_metadata_is_a_read_only_copy() -> None:
    """An address copies its metadata and exposes it read-only."""
    md = {"zone": "a"}
    a = Address("h", 1, metadata=md)
    md["zone"] = "b"
    assert a.zone == "a"
    with pytest.raises(TypeError):
        a.metadata["zone"] = "c"  # type: ignore[index]


def test_equality_and_hash_cover_host_port_weight_metadata() -> None:
    """Addresses are equal when host, port, weight and metadata are; equal ones hash alike."""
    a = Address("h", 1, 2.0, {"zone": "z"})
    assert a == Address("h", 1, 2.0, {"zone": "z"})
    assert hash(a) == hash(Address("h", 1, 2.0, {"zone": "z"}))
    assert a != Address("h", 1, 3.0, {"zone": "z"})
    assert a != Address("h", 1, 2.0, {"zone": "y"})
    assert a != Address("h", 2, 2.0, {"zone": "z"})
    assert a != "h:1"
    assert len({a, Address("h", 1, 2.0, {"zone": "z"}), Address("h", 1)}) == 2


def test_key_identifies_the_endpoint_regardless_of_weight_and_metadata() -> None:
    """key is (host, port): the same endpoint whatever discovery says about it."""
    assert Address("h", 1, 5.0, {"zone": "z"}).key == Address("h", 1).key == ("h", 1)


def test_authority_str_and_repr() -> None:
    """authority brackets IPv6 hosts; repr shows weight and metadata only when set."""
    assert Address("::1", 80).authority == "[::1]:80"
    assert str(Address("10.0.0.1", 80)) == "10.0.0.1:80"
    assert repr(Address("h", 1)) == "Address('h:1')"
    assert (
        repr(Address("h", 1, 2.0, {"zone": "z"}))
        == "Address('h:1', weight=2.0, metadata={'zone': 'z'})"
    )


def test_zone_is_none_without_metadata() -> None:
    """zone reads the 'zone' metadata and is None when discovery gave none."""
    assert Address("h", 1).zone is None


def test_parse_round_trips_authority() -> None:
    """Parsing an address's authority gives back the same host and port."""
    for a in (Address("::1", 80), Address("10.1.2.3", 9), Address("x.y", 65535)):
        assert Address.parse(a.authority).key == a.key
