"""End to end over three real gRPC hops, A -> B -> C, each using finpy.

A is a finpy Channel; B and C are ``grpc.aio`` servers with finpy's server interceptor,
and B serves by calling C through a finpy Channel.  Each hop has its own tracer
provider, as three processes would, so only what travels on the wire links them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import grpc
import grpc.aio
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import finpy
from finpy.testing import echo
from finpy.testing.echo import EchoReply, EchoRequest
from finpy.testing.echo.echo_pb2_grpc import EchoServicer
from finpy_protocols.grpc import Channel, ServerInterceptor

# the generated code is untyped: call it through Any
EchoStub: Any = echo.EchoStub
add_EchoServicer_to_server: Any = echo.add_EchoServicer_to_server

TIMEOUT = 3.0


class Hop:
    """One hop's tracer provider and the spans it finished."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider()
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())


@dataclass
class Seen:
    """What C saw."""

    time_remaining: list[float | None] = field(default_factory=list)
    finpy_remaining: list[float | None] = field(default_factory=list)
    arrived_at: list[float] = field(default_factory=list)
    trace_ids: list[int] = field(default_factory=list)
    started: asyncio.Event = field(default_factory=asyncio.Event)
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)


class C(EchoServicer):
    """The last hop: records the deadline and trace it got; 'hang' waits to be cancelled."""

    def __init__(self, seen: Seen) -> None:
        self.seen = seen

    async def Echo(self, request: EchoRequest, context: Any) -> EchoReply:
        from opentelemetry import trace

        self.seen.arrived_at.append(time.monotonic())
        self.seen.time_remaining.append(context.time_remaining())
        self.seen.finpy_remaining.append(finpy.time_remaining())
        self.seen.trace_ids.append(trace.get_current_span().get_span_context().trace_id)
        if request.message == "hang":
            self.seen.started.set()
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                self.seen.cancelled.set()
                raise
        return EchoReply(message=request.message, server="C")


class B(EchoServicer):
    """The middle hop: serves by calling C through finpy (no timeout of its own)."""

    def __init__(self, to_c: Any) -> None:
        self.to_c = to_c

    async def Echo(self, request: EchoRequest, context: Any) -> EchoReply:
        reply = await self.to_c.Echo(request)
        return EchoReply(message=reply.message, server="B>" + reply.server)


@dataclass
class Hops:
    a: Hop
    b: Hop
    c: Hop
    seen: Seen
    to_b: Any


async def _server(servicer: Any, interceptor: ServerInterceptor) -> tuple[grpc.aio.Server, int]:
    server = grpc.aio.server(interceptors=[interceptor])
    add_EchoServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, port


@pytest.fixture
async def hops() -> AsyncIterator[Hops]:
    """C and B running with finpy's interceptor; A a finpy channel to B."""
    a, b, c, seen = Hop(), Hop(), Hop(), Seen()
    server_c, port_c = await _server(C(seen), ServerInterceptor(tracer_provider=c.provider))
    channel_bc = Channel(f"static:///127.0.0.1:{port_c}", tracer_provider=b.provider)
    server_b, port_b = await _server(
        B(EchoStub(channel_bc)), ServerInterceptor(tracer_provider=b.provider)
    )
    channel_ab = Channel(f"static:///127.0.0.1:{port_b}", tracer_provider=a.provider)
    try:
        yield Hops(a, b, c, seen, EchoStub(channel_ab))
    finally:
        await channel_ab.close()
        await server_b.stop(None)
        await channel_bc.close()
        await server_c.stop(None)
        for hop in (a, b, c):
            hop.provider.shutdown()


async def test_c_sees_the_deadline_a_set_minus_the_time_spent(hops: Hops) -> None:
    """C's deadline is A's timeout less what the hops took, though B set no timeout."""
    start = time.monotonic()
    reply = await hops.to_b.Echo(EchoRequest(message="hi"), timeout=TIMEOUT)
    assert (reply.message, reply.server) == ("hi", "B>C")
    (remaining,) = hops.seen.time_remaining
    assert remaining is not None
    spent = hops.seen.arrived_at[0] - start
    assert remaining <= TIMEOUT - spent + 0.05  # gRPC rounds the timeout up a little
    assert remaining > TIMEOUT - spent - 0.5
    (finpy_remaining,) = hops.seen.finpy_remaining  # and finpy's context in C knows it too
    assert finpy_remaining is not None and abs(finpy_remaining - remaining) < 0.05


async def test_one_trace_links_all_three_hops(hops: Hops) -> None:
    """A's call, B's server and client spans and C's server span form one tree in one trace."""
    await hops.to_b.Echo(EchoRequest(message="hi"), timeout=TIMEOUT)
    spans = hops.a.spans() + hops.b.spans() + hops.c.spans()
    assert len({s.context.trace_id for s in spans}) == 1
    assert hops.seen.trace_ids == [spans[0].context.trace_id]
    by_id = {s.context.span_id: s for s in spans}

    def chain(span: ReadableSpan) -> list[str]:
        names = []
        current: ReadableSpan | None = span
        while current is not None:
            names.append(f"{current.kind.name}:{current.name}")
            current = by_id.get(current.parent.span_id) if current.parent else None
        return names

    (c_server,) = hops.c.spans()
    assert chain(c_server) == [
        "SERVER:finpy.testing.echo.Echo/Echo",  # C
        "INTERNAL:finpy.testing.echo.Echo/Echo attempt",  # B's attempt
        "CLIENT:finpy.testing.echo.Echo/Echo",  # B's logical call
        "SERVER:finpy.testing.echo.Echo/Echo",  # B
        "INTERNAL:finpy.testing.echo.Echo/Echo attempt",  # A's attempt
        "CLIENT:finpy.testing.echo.Echo/Echo",  # A's logical call
    ]
    assert c_server.parent is not None and c_server.parent.is_remote


async def test_cancelling_at_a_stops_the_work_at_c(hops: Hops) -> None:
    """Cancelling A's call cancels B's handler, B's finpy call, and C's handler."""
    call = asyncio.ensure_future(hops.to_b.Echo(EchoRequest(message="hang"), timeout=30))
    await asyncio.wait_for(hops.seen.started.wait(), 10)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    await asyncio.wait_for(hops.seen.cancelled.wait(), 10)


async def test_a_deadline_expiring_stops_the_work_at_c(hops: Hops) -> None:
    """When A's deadline passes, C's handler is cancelled too (not left running to 30 s)."""
    start = time.monotonic()
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await hops.to_b.Echo(EchoRequest(message="hang"), timeout=0.5)
    assert info.value.code() is grpc.StatusCode.DEADLINE_EXCEEDED
    await asyncio.wait_for(hops.seen.cancelled.wait(), 10)
    assert time.monotonic() - start < 5
