"""Load balancing through the gRPC Channel against real local backends (FaultCluster).

Slow and failing replicas lose their traffic, a refused connection takes an
endpoint out at once and it comes back when it listens again, and zones fail
over to each other.  Everything runs on 127.0.0.1; waits are bounded.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import grpc
import grpc.aio
import pytest

from finpy import Address, Bound, Resolution
from finpy.testing import FaultCluster
from finpy.testing.echo import EchoRequest, EchoStub
from finpy_protocols.grpc import Channel, GrpcTransport

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def cluster() -> Iterator[FaultCluster]:
    """Three Echo backends on 127.0.0.1."""
    with FaultCluster(3) as c:
        yield c


@pytest.fixture
async def channel(cluster: FaultCluster) -> AsyncIterator[Channel]:
    """A finpy Channel over the cluster with the default balancer (P2C peak-EWMA)."""
    ch = Channel(cluster.target, timeout=5.0)
    yield ch
    await ch.close()


def _stub(channel: Channel) -> Any:
    """The generated Echo stub over ``channel`` (generated code is untyped)."""
    return EchoStub(channel)  # type: ignore[no-untyped-call]


async def _load(stub: Any, calls: int, concurrency: int = 4) -> list[str]:
    """Make ``calls`` Echo calls, ``concurrency`` at a time; return the serving backends."""
    served: list[str] = []

    async def worker(n: int) -> None:
        for i in range(n):
            reply = await stub.Echo(EchoRequest(message=f"m{i}"))
            served.append(reply.server)

    await asyncio.gather(*(worker(calls // concurrency) for _ in range(concurrency)))
    return served


def _transport(channel: Channel, address: str) -> GrpcTransport:
    return next(t for t in channel._transports() if t.address.authority == address)


async def _until(predicate: object, what: str, timeout: float = 15.0) -> None:
    """Wait (bounded) until ``predicate()`` is true, checking on every loop turn batch."""
    assert callable(predicate)
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def test_default_balancer_is_p2c_peak_ewma(channel: Channel) -> None:
    """A Channel balances with P2C peak-EWMA unless told otherwise."""
    await _stub(channel).Echo(EchoRequest(message="hi"))
    stats = channel.balancer_statistics()
    assert stats is not None and stats.kind == "P2CPeakEwma"


async def test_slow_backend_loses_its_traffic(cluster: FaultCluster, channel: Channel) -> None:
    """A backend 50 ms slower than the others gets a small share of the calls."""
    cluster.backend(0).set(latency=0.05)
    served = await _load(_stub(channel), 200)
    slow = served.count(cluster.backend(0).name)
    assert slow < 0.1 * len(served)
    est = {s.address: s.estimate for s in channel.endpoint_statistics()}
    assert est[cluster.backend(0).address] is not None
    assert est[cluster.backend(0).address] > 5 * est[cluster.backend(1).address]  # type: ignore[operator]


async def test_failing_backend_is_ejected(cluster: FaultCluster, channel: Channel) -> None:
    """An always-UNAVAILABLE backend is ejected after a few failures; every call succeeds."""
    cluster.backend(1).set(error_code=grpc.StatusCode.UNAVAILABLE, error_details="broken")
    served = await _load(_stub(channel), 200)
    assert len(served) == 200
    assert cluster.backend(1).attempts <= 8
    by_address = {s.address: s for s in channel.endpoint_statistics()}
    bad = by_address[cluster.backend(1).address]
    assert bad.breaker == "dead" and bad.ejections == 1 and bad.status == "busy"


async def test_refused_connection_marks_endpoint_down_until_it_listens_again(
    cluster: FaultCluster, channel: Channel
) -> None:
    """Connection refused: BUSY at once, no traffic; back to OPEN once it accepts again."""
    down = cluster.backend(2)
    down.set(refuse_connections=True)
    served = await _load(_stub(channel), 40)
    assert len(served) == 40 and down.name not in served
    transport = _transport(channel, down.address)
    assert transport.status.value == "busy"
    down.set(refuse_connections=False)
    await _until(lambda: transport.status.value == "open", "the endpoint to reconnect")
    served = await _load(_stub(channel), 120)
    assert down.name in served


async def test_stopped_backend_is_found_out_without_a_request(
    cluster: FaultCluster, channel: Channel
) -> None:
    """A connection that drops is re-dialled in the background, so the endpoint goes BUSY."""
    await _load(_stub(channel), 30)
    backend = cluster.backend(0)
    transport = _transport(channel, backend.address)
    assert transport.status.value == "open"
    await asyncio.to_thread(backend.stop)
    await _until(lambda: transport.status.value == "busy", "the endpoint to go down")
    await asyncio.to_thread(backend.start)
    await _until(lambda: transport.status.value == "open", "the endpoint to come back")


async def test_zone_failover(cluster: FaultCluster) -> None:
    """A client prefers its zone and fails over to the other zone when its backends fail."""
    b0, b1, b2 = cluster.backends
    res = Resolution(target="zones")
    res.publish(
        Bound(
            [
                Address("127.0.0.1", b0.port, metadata={"zone": "east"}),
                Address("127.0.0.1", b1.port, metadata={"zone": "east"}),
                Address("127.0.0.1", b2.port, metadata={"zone": "west"}),
            ]
        )
    )
    ch = Channel(res, zone="east", timeout=5.0)
    try:
        stub = _stub(ch)
        served = await _load(stub, 60)
        assert b2.name not in served
        b0.set(error_code=grpc.StatusCode.UNAVAILABLE)
        b1.set(error_code=grpc.StatusCode.UNAVAILABLE)
        served = await _load(stub, 80)
        assert len(served) == 80
        assert served[-20:] == [b2.name] * 20
    finally:
        await ch.close()
        await res.aclose()
