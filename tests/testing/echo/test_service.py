"""The Echo service: four call shapes, each reply naming the backend that answered."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import grpc
import grpc.aio
import pytest

from finpy.testing import FaultCluster
from finpy.testing.echo import EchoRequest, EchoService, EchoStub


@pytest.fixture(scope="module")
def cluster() -> Iterator[FaultCluster]:
    with FaultCluster(1) as c:
        yield c


async def _requests(*messages: str) -> AsyncIterator[EchoRequest]:
    for message in messages:
        yield EchoRequest(message=message)


async def test_all_four_call_shapes_answer_and_name_their_server(cluster: FaultCluster) -> None:
    """Echo, Expand, Collect and Chat answer over a grpc.aio channel with server="backend-0"."""
    async with grpc.aio.insecure_channel(cluster.backend(0).address) as channel:
        stub = EchoStub(channel)

        reply = await stub.Echo(EchoRequest(message="one"), timeout=10)
        assert (reply.message, reply.server, reply.index) == ("one", "backend-0", 0)

        expanded = [r async for r in stub.Expand(EchoRequest(message="x", count=3), timeout=10)]
        assert [(r.message, r.server, r.index) for r in expanded] == [
            ("x", "backend-0", 0),
            ("x", "backend-0", 1),
            ("x", "backend-0", 2),
        ]

        collected = await stub.Collect(_requests("a", "b", "c"), timeout=10)
        assert (collected.message, collected.server, collected.index) == ("a,b,c", "backend-0", 3)

        chat = [r async for r in stub.Chat(_requests("p", "q"), timeout=10)]
        assert [(r.message, r.server, r.index) for r in chat] == [
            ("p", "backend-0", 0),
            ("q", "backend-0", 1),
        ]


def test_sync_channels_are_served(cluster: FaultCluster) -> None:
    """A plain synchronous grpc channel reaches the cluster from a sync test."""
    with grpc.insecure_channel(cluster.backend(0).address) as channel:
        stub = EchoStub(channel)
        assert stub.Echo(EchoRequest(message="sync"), timeout=10).server == "backend-0"
        assert [r.index for r in stub.Expand(EchoRequest(count=2), timeout=10)] == [0, 1]


def test_echo_service_knows_its_backend_name() -> None:
    """EchoService is made from the backend name it reports."""
    assert EchoService("backend-7").server == "backend-7"
    assert repr(EchoService("b")) == "EchoService('b')"
