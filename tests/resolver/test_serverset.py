"""Finagle serverset member JSON: decoding, encoding, all-or-nothing updates."""

from __future__ import annotations

import pytest

from finpy.address import Address
from finpy.resolver.guard import MalformedUpdateError
from finpy.resolver.serverset import decode_member, encode_member, serverset_addresses

FINAGLE = (
    b'{"serviceEndpoint":{"host":"10.0.0.1","port":31337},'
    b'"additionalEndpoints":{"admin":{"host":"10.0.0.1","port":9990}},'
    b'"status":"ALIVE","shard":3}'
)


def test_decodes_finagle_member_json() -> None:
    """A member written by Finagle decodes with endpoints, status and shard."""
    m = decode_member(FINAGLE)
    assert m.service_endpoint == ("10.0.0.1", 31337)
    assert m.additional_endpoints["admin"] == ("10.0.0.1", 9990)
    addr = m.address()
    assert addr is not None and addr.authority == "10.0.0.1:31337"
    assert addr.metadata["shard"] == "3"


def test_named_endpoint_and_non_alive_members() -> None:
    """A named endpoint picks additionalEndpoints; non-ALIVE members are skipped."""
    assert decode_member(FINAGLE).address("admin") == Address(
        "10.0.0.1", 9990, metadata={"shard": "3"}
    )
    assert decode_member(FINAGLE).address("nope") is None
    stopping = encode_member(("10.0.0.2", 1), status="STOPPING")
    assert serverset_addresses({"member_1": FINAGLE, "member_2": stopping}) == [
        Address("10.0.0.1", 31337, metadata={"shard": "3"})
    ]


def test_encode_round_trips_with_zone_metadata() -> None:
    """encode_member output decodes back, zone metadata included."""
    data = encode_member(Address("10.0.0.9", 7, metadata={"zone": "eu-1"}), shard=0)
    addr = decode_member(data).address()
    assert addr is not None and addr.zone == "eu-1" and addr.port == 7


@pytest.mark.parametrize(
    ("data", "named"),
    [
        (b"garbage", "not JSON"),
        (b"[]", "expected a JSON object"),
        (b'{"serviceEndpoint":{"host":"h","port":"80"}}', "invalid port '80'"),
        (b'{"serviceEndpoint":{"host":"h","port":80},"status":"ZOMBIE"}', "ZOMBIE"),
        (b'{"serviceEndpoint":null}', "serviceEndpoint"),
    ],
)
def test_bad_members_name_the_problem(data: bytes, named: str) -> None:
    """A malformed member raises MalformedUpdateError naming the member and value."""
    with pytest.raises(MalformedUpdateError, match=named) as info:
        decode_member(data, "member_0007")
    assert "member_0007" in str(info.value)


def test_one_bad_member_rejects_the_whole_update() -> None:
    """serverset_addresses is all-or-nothing and lists every bad member."""
    with pytest.raises(MalformedUpdateError) as info:
        serverset_addresses({"member_1": FINAGLE, "member_2": b"{", "member_3": b"1"})
    assert len(info.value.problems) == 2
    assert "member_2" in str(info.value) and "member_3" in str(info.value)
