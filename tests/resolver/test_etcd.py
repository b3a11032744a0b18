"""The etcd resolver and announcer against a real etcd, faults included."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator

import pytest

from finpy.address import Address
from finpy.errors import TargetError
from finpy.resolver._etcd.client import EtcdClient, prefix_end
from finpy.resolver.etcd import EtcdResolver, announce, etcd_addresses, parse_etcd_target
from finpy.resolver.guard import DiscoveryStatistics, GuardedResolution, MalformedUpdateError
from finpy.resolver.registry import ResolverRegistry
from finpy.resolver.serverset import encode_member
from finpy.resolver.static import StaticResolver
from finpy.resolver.target import Target
from finpy.testing.servers.etcd import EtcdServer
from finpy_protocols.grpc import Channel

from .conftest import Backends, Traffic, call, eventually, run_traffic


def test_prefix_end_covers_the_prefix() -> None:
    """range_end is the prefix with its last byte incremented (0xff carried)."""
    assert prefix_end(b"/a/") == b"/a0"
    assert prefix_end(b"a\xff") == b"b"
    assert prefix_end(b"\xff") == b"\0"


@pytest.mark.parametrize(
    ("raw", "message"),
    [("etcd://h:x/p", "invalid etcd endpoint"), ("etcd://127.0.0.1:2379/", "names nothing")],
)
def test_bad_etcd_targets(raw: str, message: str) -> None:
    """etcd targets are validated at construction."""
    with pytest.raises(TargetError, match=message):
        parse_etcd_target(Target.parse(raw))


def test_member_values_address_json_and_serverset() -> None:
    """Values may be address JSON, 'host:port' or Finagle serverset members."""
    members = {
        b"/s/a": b'{"host": "10.0.0.1", "port": 1, "zone": "z"}',
        b"/s/b": b'"10.0.0.2:2"',
        b"/s/c": encode_member(("10.0.0.3", 3)),
        b"/s/d": encode_member(("10.0.0.4", 4), status="STARTING"),
    }
    got = {a.authority: a.zone for a in etcd_addresses(members)}
    assert got == {"10.0.0.1:1": "z", "10.0.0.2:2": None, "10.0.0.3:3": None}


def test_bad_member_value_rejects_the_update_naming_the_key() -> None:
    """One unparseable value rejects the whole set; the key is named."""
    with pytest.raises(MalformedUpdateError, match="/s/bad"):
        etcd_addresses({b"/s/ok": b'"10.0.0.1:1"', b"/s/bad": b"\x00garbage"})


@pytest.fixture
def prefix() -> str:
    return f"services/{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def channel(etcd_server: EtcdServer, prefix: str) -> AsyncIterator[Channel]:
    registry = ResolverRegistry((StaticResolver(), EtcdResolver(timeout=1.0)))
    ch = Channel(f"etcd://{etcd_server.endpoint}/{prefix}", registry=registry)
    yield ch
    await ch.close()


def stats(channel: Channel) -> DiscoveryStatistics:
    res = channel.client.resolution
    assert isinstance(res, GuardedResolution)
    return res.statistics()


async def test_announced_members_receive_traffic_and_leave_on_close(
    etcd_server: EtcdServer, backends: Backends, channel: Channel, prefix: str
) -> None:
    """Announced members are called; a closed announcement removes its key."""
    anns = [
        await announce(etcd_server.endpoint, prefix, Address("127.0.0.1", b.port), ttl=5)
        for b in backends.items[:2]
    ]
    seen = {await call(channel) for _ in range(30)}
    assert seen == {"b0", "b1"}
    await anns[1].aclose()
    await eventually(lambda: stats(channel).addresses == 1, what="member removed")
    await anns[0].aclose()
    await eventually(lambda: stats(channel).rejected_empty == 1, what="empty set kept out")


async def test_etcd_outage_and_restart(
    etcd_server: EtcdServer, backends: Backends, channel: Channel, prefix: str
) -> None:
    """Stop etcd while calls flow: none fails; restart: watch resumes, new member used."""
    first = await announce(etcd_server.endpoint, prefix, Address("127.0.0.1", backends[0].port))
    late = None
    try:
        assert await call(channel) == "b0"
        stop, traffic = asyncio.Event(), Traffic()
        task = asyncio.create_task(run_traffic(channel, stop, traffic))
        etcd_server.stop()
        await eventually(lambda: not stats(channel).healthy, what="etcd failure seen")
        ok_before = traffic.ok
        await eventually(lambda: traffic.ok > ok_before + 20, what="calls during the outage")
        etcd_server.start()
        late = await announce(etcd_server.endpoint, prefix, Address("127.0.0.1", backends[1].port))
        await eventually(lambda: "b1" in traffic.served_by, what="new member used after restart")
        stop.set()
        await task
        assert traffic.failed == []
        assert stats(channel).healthy
    finally:
        await first.aclose()
        if late is not None:
            await late.aclose()


async def test_garbage_value_is_rejected_and_old_set_serves(
    etcd_server: EtcdServer,
    backends: Backends,
    channel: Channel,
    prefix: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Garbage written under the prefix is rejected and logged; the old set serves."""
    ann = await announce(etcd_server.endpoint, prefix, Address("127.0.0.1", backends[0].port))
    admin = EtcdClient([etcd_server.endpoint])
    try:
        assert await call(channel) == "b0"
        bad_key = f"/{prefix}/broken".encode()
        with caplog.at_level(logging.WARNING, logger="finpy.resolver"):
            await admin.put(bad_key, b"{not json")
            await eventually(lambda: stats(channel).rejected_malformed >= 1, what="rejection")
        assert "broken" in caplog.text
        for _ in range(10):
            assert await call(channel) == "b0"
        await admin.put(bad_key, f'"127.0.0.1:{backends[1].port}"'.encode())
        await eventually(lambda: stats(channel).addresses == 2, what="fixed value accepted")
        await admin.delete(bad_key)
    finally:
        await admin.aclose()
        await ann.aclose()
