"""Aperture through a real gRPC Channel: 1,000 endpoints, connections only to the aperture."""

from __future__ import annotations

import functools
import socket
from typing import Any

import grpc
import grpc.aio
import pytest

from finpy import Address, Bound, Endpoint, FunctionService, Resolution
from finpy.balancer import Aperture
from finpy_protocols.grpc import Channel

pytestmark = pytest.mark.timeout(60)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def test_aperture_over_1000_endpoints_connects_only_to_its_aperture() -> None:
    """Client 3 of 100 over 1,000 loopback addresses opens at most its 20 connections."""
    port = _free_port()
    addresses = [Address(f"127.0.{k // 250}.{k % 250 + 1}", port) for k in range(1000)]
    make = functools.partial(Aperture, peer_index=3, peer_count=100)

    async def nothing(request: Any) -> Any:
        return request

    # The subset is a pure function of the addresses and the coordinate: only it listens,
    # so a connection attempt anywhere else would fail the calls.
    preview: Aperture[Any, Any] = make()
    preview.update([Endpoint(a, FunctionService(nothing)) for a in addresses])
    subset = [e.address for e in preview.subset]
    assert len(subset) == 20

    async def echo(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
        return request

    server = grpc.aio.server()
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                "t.E", {"E": grpc.unary_unary_rpc_method_handler(echo)}
            ),
        )
    )
    for a in subset:
        server.add_insecure_port(a.authority)
    await server.start()
    res = Resolution(Bound(addresses), target="aperture-1000")
    channel = Channel(res, balancer=make, timeout=5.0)
    try:
        call = channel.unary_unary("/t.E/E")
        for i in range(300):
            assert await call(str(i).encode()) == str(i).encode()
        opened = [t for t in channel._transports() if t._channel is not None]
        assert 0 < len(opened) <= len(subset)
        assert {t.address for t in opened} <= set(subset)
        stats = channel.balancer_statistics()
        assert stats is not None and stats.endpoints == 1000
    finally:
        await channel.close()
        await res.aclose()
        await server.stop(None)
