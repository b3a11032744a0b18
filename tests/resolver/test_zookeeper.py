"""The ZooKeeper resolver and announcer against a real ZooKeeper, faults included."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from kazoo.client import KazooClient

from finpy.errors import TargetError
from finpy.resolver.guard import DiscoveryStatistics, GuardedResolution
from finpy.resolver.registry import ResolverRegistry
from finpy.resolver.static import StaticResolver
from finpy.resolver.target import Target
from finpy.resolver.zookeeper import ZooKeeperResolver, announce, parse_zk_target
from finpy.testing.servers.zookeeper import ZooKeeperServer
from finpy_protocols.grpc import Channel

from .conftest import Backends, Traffic, call, eventually, run_traffic


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("zk:///services/users", "names no ZooKeeper ensemble"),
        ("zk://127.0.0.1:2181/", "names nothing"),
        ("zk://127.0.0.1:x/services", "invalid ZooKeeper server"),
        ("zk://127.0.0.1:2181/a/../b", "invalid ZooKeeper path"),
        ("zk://127.0.0.1:2181/a?colour=red", "unknown zk target option"),
    ],
)
def test_bad_zk_targets(raw: str, message: str) -> None:
    """zk targets are validated at construction with errors naming the bad part."""
    with pytest.raises(TargetError, match=message):
        parse_zk_target(Target.parse(raw))


def test_target_with_named_endpoint() -> None:
    """?endpoint= selects an additional endpoint."""
    t = Target.parse("zk://h1:2181,h2:2181/services/users?endpoint=admin")
    assert parse_zk_target(t) == ("h1:2181,h2:2181", "/services/users", "admin")


@pytest.fixture
def path() -> str:
    return f"/finpy/{uuid.uuid4().hex[:8]}"


@pytest.fixture
def admin(zookeeper_server: ZooKeeperServer) -> Iterator[KazooClient]:
    """A plain kazoo client for the test's own writes."""
    client = KazooClient(hosts=zookeeper_server.hosts, timeout=10)
    client.start(timeout=15)
    yield client
    client.stop()
    client.close()


@pytest.fixture
def resolver() -> ZooKeeperResolver:
    return ZooKeeperResolver(session_timeout=4.0, reconnect_max_delay=0.5, connect_timeout=1.0)


@pytest.fixture
async def channel(
    zookeeper_server: ZooKeeperServer, resolver: ZooKeeperResolver, path: str
) -> AsyncIterator[Channel]:
    registry = ResolverRegistry((StaticResolver(), resolver))
    ch = Channel(f"zk://{zookeeper_server.hosts}{path}", registry=registry)
    yield ch
    await ch.close()


def stats(channel: Channel) -> DiscoveryStatistics:
    res = channel.client.resolution
    assert isinstance(res, GuardedResolution)
    return res.statistics()


async def test_announced_members_receive_traffic(
    zookeeper_server: ZooKeeperServer, backends: Backends, channel: Channel, path: str
) -> None:
    """Announced members are called; when all withdraw, the empty set is kept out."""
    anns = [
        await announce(zookeeper_server.hosts, path, ("127.0.0.1", b.port))
        for b in backends.items[:2]
    ]
    try:
        seen = {await call(channel) for _ in range(30)}
        assert seen == {"b0", "b1"}
    finally:
        for a in anns:
            await a.aclose()
    await eventually(
        lambda: stats(channel).state == "Bound" and stats(channel).rejected_empty >= 1,
        what="empty serverset kept out",
    )


async def test_zookeeper_outage_and_restart(
    zookeeper_server: ZooKeeperServer,
    backends: Backends,
    channel: Channel,
    path: str,
    admin: KazooClient,
) -> None:
    """Stop ZooKeeper while calls flow: none fails; restart: watches resume, new member used."""
    anns = [
        await announce(
            zookeeper_server.hosts, path, ("127.0.0.1", backends[0].port), session_timeout=30
        )
    ]
    try:
        assert await call(channel) == "b0"
        stop, traffic = asyncio.Event(), Traffic()
        task = asyncio.create_task(run_traffic(channel, stop, traffic))
        zookeeper_server.stop()
        await eventually(lambda: not stats(channel).healthy, what="ZooKeeper failure seen")
        ok_before = traffic.ok
        await eventually(lambda: traffic.ok > ok_before + 20, what="calls during the outage")
        zookeeper_server.start()
        anns.append(await announce(zookeeper_server.hosts, path, ("127.0.0.1", backends[1].port)))
        await eventually(lambda: "b1" in traffic.served_by, what="new member used after restart")
        stop.set()
        await task
        assert traffic.failed == []
        assert stats(channel).healthy and stats(channel).addresses == 2
    finally:
        for a in anns:
            await a.aclose()


async def test_garbage_member_is_rejected_and_old_set_serves(
    zookeeper_server: ZooKeeperServer,
    backends: Backends,
    channel: Channel,
    path: str,
    admin: KazooClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Garbage written into a member node is rejected and logged; the old set serves."""
    ann = await announce(zookeeper_server.hosts, path, ("127.0.0.1", backends[0].port))
    try:
        assert await call(channel) == "b0"
        assert ann.node is not None
        with caplog.at_level(logging.WARNING, logger="finpy.resolver"):
            await asyncio.to_thread(admin.set, ann.node, b"{not json")
            await eventually(lambda: stats(channel).rejected_malformed >= 1, what="rejection")
        assert ann.node.rsplit("/", 1)[1] in caplog.text
        for _ in range(10):
            assert await call(channel) == "b0"
        good = f'{{"serviceEndpoint":{{"host":"127.0.0.1","port":{backends[1].port}}},"status":"ALIVE"}}'
        await asyncio.to_thread(admin.set, ann.node, good.encode())
        await eventually(lambda: stats(channel).healthy, what="the fixed member accepted")
        assert await call(channel) == "b1"
    finally:
        await ann.aclose()


def expire_session(hosts: str, client: Any) -> None:
    """Expire ``client``'s session: another connection with its id and password closes it."""
    session_id, password = client.client_id
    other = KazooClient(hosts=hosts, client_id=(session_id, password), timeout=10)
    other.start(timeout=15)
    other.stop()
    other.close()


async def test_session_expiry_rewatches_and_reannounces(
    zookeeper_server: ZooKeeperServer,
    backends: Backends,
    channel: Channel,
    resolver: ZooKeeperResolver,
    path: str,
) -> None:
    """After session expiry the resolver re-watches and the announcer re-registers."""
    ann = await announce(zookeeper_server.hosts, path, ("127.0.0.1", backends[0].port))
    try:
        assert await call(channel) == "b0"
        await asyncio.to_thread(expire_session, zookeeper_server.hosts, resolver.live_clients()[0])
        await asyncio.to_thread(expire_session, zookeeper_server.hosts, ann._client)
        await eventually(lambda: ann.registrations == 2, what="re-registration")
        await eventually(lambda: stats(channel).failures >= 1, what="the lost session seen")
        late = await announce(zookeeper_server.hosts, path, ("127.0.0.1", backends[2].port))
        try:
            for _ in range(400):
                if await call(channel) == "b2":
                    break
                await asyncio.sleep(0.02)
            else:
                pytest.fail("the member announced after expiry was never called")
        finally:
            await late.aclose()
        assert await call(channel) in {"b0", "b2"}
    finally:
        await ann.aclose()
