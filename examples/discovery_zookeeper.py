"""Service discovery through ZooKeeper, and what happens when ZooKeeper fails.

Starts a real ZooKeeper on 127.0.0.1 (Debian's ``zookeeper`` package, the
same way finpy's test fixture does), three echo servers that announce
themselves as Finagle serverset members, and a finpy client that resolves
``zk://127.0.0.1:PORT/services/echo``.  Then it stops ZooKeeper while calls
keep flowing — every call still succeeds on the last known good set — and
restarts it: the watch resumes and a server announced afterwards gets traffic.

Exits with status 77 when ZooKeeper or Java is not installed.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections import Counter

from finpy.resolver.guard import GuardedResolution
from finpy.resolver.zookeeper import announce
from finpy.testing import FaultCluster
from finpy.testing.echo import EchoRequest, EchoStub
from finpy.testing.servers import ServerUnavailable, ZooKeeperServer
from finpy_protocols import grpc as fgrpc

PATH = "/services/echo"


async def calls(echo: EchoStub, n: int, answered: Counter[str]) -> None:
    for i in range(n):
        reply = await echo.Echo(EchoRequest(message=f"hello {i}"), timeout=1.0)
        answered[reply.server] += 1


async def until(predicate: object, timeout: float = 30.0) -> None:
    """Wait (bounded) until ``predicate()`` holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():  # type: ignore[operator]
        if loop.time() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.05)


async def run(zk: ZooKeeperServer, cluster: FaultCluster) -> None:
    first, second, late = cluster.backends
    members = [
        await announce(zk.hosts, PATH, ("127.0.0.1", b.port), metadata={"name": b.name})
        for b in (first, second)
    ]
    echo = fgrpc.client(EchoStub, f"zk://{zk.hosts}{PATH}", timeout=2.0)
    try:
        answered: Counter[str] = Counter()
        await calls(echo, 20, answered)
        print("through ZooKeeper:", dict(sorted(answered.items())))

        resolution = fgrpc.channel_of(echo).client.resolution
        assert isinstance(resolution, GuardedResolution)

        zk.stop()  # discovery goes away while traffic flows
        await until(lambda: not resolution.healthy)
        during: Counter[str] = Counter()
        await calls(echo, 20, during)
        stats = resolution.statistics()
        print(
            f"ZooKeeper down: {sum(during.values())} calls succeeded on the last known good "
            f"set of {stats.addresses} (stale for {stats.stale_for:.1f}s)"
        )

        zk.start()  # the watch resumes; a server announced now gets traffic
        members.append(await announce(zk.hosts, PATH, ("127.0.0.1", late.port)))
        after: Counter[str] = Counter()
        while after[late.name] == 0:
            await calls(echo, 5, after)
        print("ZooKeeper back, new member used:", dict(sorted(after.items())))
    finally:
        await fgrpc.aclose(echo)
        for m in members:
            await m.aclose()


def main() -> int:
    logging.getLogger("kazoo").setLevel(logging.CRITICAL)  # reconnect chatter while ZK is down
    try:
        zk = ZooKeeperServer()
    except ServerUnavailable as e:
        print(e)
        return 77
    with zk, FaultCluster(3) as cluster:
        asyncio.run(asyncio.wait_for(run(zk, cluster), 90))
    return 0


if __name__ == "__main__":
    sys.exit(main())
