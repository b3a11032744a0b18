"""The SRV resolver: priorities as failover tiers, weights, and a real dnsmasq."""

from __future__ import annotations

import asyncio

import pytest

from finpy.errors import TargetError
from finpy.resolver.guard import MalformedUpdateError
from finpy.resolver.registry import ResolverRegistry
from finpy.resolver.srv import SrvRecord, SrvResolver, parse_srv, srv_addresses
from finpy.resolver.static import StaticResolver
from finpy.resolver.target import Target
from finpy.testing.servers.dnsmasq import DnsmasqServer
from finpy_protocols.grpc import Channel

from .conftest import Backends, call

R1 = SrvRecord(10, 60, 5001, "a.example")
R2 = SrvRecord(10, 20, 5002, "b.example")
R3 = SrvRecord(20, 0, 5003, "c.example")


def test_lowest_priority_tier_with_addresses_wins() -> None:
    """Only the best tier is published; weights follow SRV weights."""
    out = srv_addresses(
        [R1, R2, R3],
        {"a.example": ("10.0.0.1",), "b.example": ("10.0.0.2",), "c.example": ("10.0.0.3",)},
    )
    assert {(a.authority, a.weight) for a in out} == {("10.0.0.1:5001", 60), ("10.0.0.2:5002", 20)}
    assert all(a.metadata["priority"] == "10" for a in out)


def test_tier_without_addresses_fails_over_to_the_next() -> None:
    """When every target of a tier is gone, the next tier is used."""
    out = srv_addresses([R1, R2, R3], {"c.example": ("10.0.0.3",)})
    assert [(a.authority, a.weight) for a in out] == [("10.0.0.3:5003", 1.0)]


def test_all_tiers_publishes_every_tier_with_its_priority() -> None:
    """all_tiers=True publishes every tier, priority in metadata."""
    ips = {"a.example": ("10.0.0.1",), "b.example": ("10.0.0.2",), "c.example": ("10.0.0.3",)}
    out = srv_addresses([R1, R2, R3], ips, all_tiers=True)
    assert {a.metadata["priority"] for a in out} == {"10", "20"}


def test_zero_weight_gets_a_sliver_and_multi_ip_targets_share_weight() -> None:
    """Weight 0 gets 1/100 of the smallest weight; a target's weight is split over its IPs."""
    recs = [SrvRecord(1, 10, 80, "a"), SrvRecord(1, 0, 80, "b")]
    out = {
        a.authority: a.weight
        for a in srv_addresses(recs, {"a": ("1.1.1.1", "1.1.1.2"), "b": ("2.2.2.2",)})
    }
    assert out == {"1.1.1.1:80": 5.0, "1.1.1.2:80": 5.0, "2.2.2.2:80": 0.1}


@pytest.mark.parametrize("text", ["10 60 host", "10 60 99999 host.", "a b c d"])
def test_malformed_srv_records_are_rejected(text: str) -> None:
    """Unparseable SRV data is a MalformedUpdateError naming the record."""
    with pytest.raises(MalformedUpdateError, match="SRV record"):
        parse_srv(text)


@pytest.mark.parametrize("raw", ["srv:///_grpc._tcp.name:80", "srv://nope/_grpc._tcp.name"])
def test_bad_srv_targets(raw: str) -> None:
    """SRV targets carry no port and take only an IP nameserver."""
    with pytest.raises(TargetError):
        SrvResolver().validate(Target.parse(raw))


async def test_srv_tiers_from_dnsmasq_fail_over(
    dnsmasq_server: DnsmasqServer, backends: Backends
) -> None:
    """Through real SRV records, traffic goes to tier 10 and fails over to tier 20."""
    name = "_grpc._tcp.svc.finpy.test"
    hosts = {"t.finpy.test": ["127.0.0.1"]}
    tier1 = [(10, 50, backends[0].port, "t.finpy.test"), (10, 50, backends[1].port, "t.finpy.test")]
    tier2 = [(20, 10, backends[2].port, "t.finpy.test")]
    dnsmasq_server.set_records(hosts, {name: tier1 + tier2})
    registry = ResolverRegistry((StaticResolver(), SrvResolver(timeout=0.3, lifetime=0.6)))
    channel = Channel(f"srv://{dnsmasq_server.authority}/{name}", registry=registry)
    try:
        seen = {await call(channel) for _ in range(20)}
        assert seen == {"b0", "b1"}
        dnsmasq_server.set_records(srv={name: tier2})
        for _ in range(200):  # bounded: the 1 s TTL runs out, then tier 20 serves
            if await call(channel) == "b2":
                break
            await asyncio.sleep(0.05)
        before = backends[0].calls + backends[1].calls
        for _ in range(5):
            assert await call(channel) == "b2"
        assert backends[0].calls + backends[1].calls == before
    finally:
        await channel.close()
