"""Helpers for gRPC adapter tests: a tiny programmable server on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
import grpc.aio
import pytest

Handler = Callable[[bytes, grpc.aio.ServicerContext], Awaitable[bytes]]


@dataclass
class Probe:
    """What the probe server saw: metadata, deadlines, cancellations."""

    metadata: list[dict[str, str]] = field(default_factory=list)
    time_remaining: list[float | None] = field(default_factory=list)
    cancelled: int = 0
    calls: int = 0
    started: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class ProbeServer:
    address: str
    probe: Probe
    server: grpc.aio.Server


@pytest.fixture
async def probe_server() -> AsyncIterator[ProbeServer]:
    """A server whose /t.Probe/Echo records metadata and deadline, /Hang waits to be cancelled."""
    probe = Probe()

    async def echo(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        probe.calls += 1
        probe.metadata.append({k: v for k, v in context.invocation_metadata() or ()})
        probe.time_remaining.append(context.time_remaining())
        return request

    async def hang(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        probe.calls += 1
        probe.started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            probe.cancelled += 1
            raise
        return request

    async def fail(request: bytes, context: grpc.aio.ServicerContext) -> Any:
        probe.calls += 1
        await context.send_initial_metadata((("x-initial", "i"),))
        context.set_trailing_metadata((("x-trailer", "t"),))
        await context.abort(grpc.StatusCode.FAILED_PRECONDITION, "the server said no")

    handler = grpc.method_handlers_generic_handler(
        "t.Probe",
        {
            "Echo": grpc.unary_unary_rpc_method_handler(echo),
            "Hang": grpc.unary_unary_rpc_method_handler(hang),
            "Fail": grpc.unary_unary_rpc_method_handler(fail),
        },
    )
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield ProbeServer(f"127.0.0.1:{port}", probe, server)
    await server.stop(None)
