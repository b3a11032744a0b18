"""Tests of ``finpy_protocols.grpc.server``: incoming deadline, trace context and cancellation.

Real ``grpc.aio`` and ``grpc`` (thread pool) servers on 127.0.0.1 with finpy's
interceptors; handlers make real finpy calls to a recording backend.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

import grpc
import grpc.aio
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import finpy
from finpy.testing import echo
from finpy.testing.echo import EchoReply, EchoRequest
from finpy.testing.echo.echo_pb2_grpc import EchoServicer
from finpy_protocols.grpc import (
    Channel,
    IncomingCall,
    ServerInterceptor,
    SyncServerInterceptor,
    current_incoming_call,
    run_async,
)

# the generated code is untyped: call it through Any
EchoStub: Any = echo.EchoStub
add_EchoServicer_to_server: Any = echo.add_EchoServicer_to_server

TRACE_ID = 0x0AF7651916CD43DD8448EB211C80319C
PARENT_ID = 0xB7AD6B7169203331
TRACEPARENT = f"00-{TRACE_ID:032x}-{PARENT_ID:016x}-01"


@dataclass
class Backend:
    """A recording Echo backend: deadline and metadata of each call; 'hang' waits."""

    port: int = 0
    time_remaining: list[float | None] = field(default_factory=list)
    metadata: list[dict[str, Any]] = field(default_factory=list)
    started: asyncio.Event = field(default_factory=asyncio.Event)
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def target(self) -> str:
        return f"static:///127.0.0.1:{self.port}"


class Recording(EchoServicer):
    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    async def Echo(self, request: EchoRequest, context: Any) -> EchoReply:
        self.backend.time_remaining.append(context.time_remaining())
        self.backend.metadata.append(dict(context.invocation_metadata() or ()))
        if request.message == "hang":
            self.backend.started.set()
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                self.backend.cancelled.set()
                raise
        return EchoReply(message=request.message, server="backend")


@pytest.fixture
async def backend() -> AsyncIterator[Backend]:
    """The recording backend, a plain grpc.aio server (no finpy) on 127.0.0.1."""
    b = Backend()
    server = grpc.aio.server()
    add_EchoServicer_to_server(Recording(b), server)
    b.port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield b
    await server.stop(None)


@dataclass
class Observed:
    """What a handler behind the interceptor saw."""

    deadline_left: list[float | None] = field(default_factory=list)
    incoming: list[IncomingCall | None] = field(default_factory=list)
    trace_ids: list[int] = field(default_factory=list)
    replies: list[str] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    failed: threading.Event = field(default_factory=threading.Event)


class Middle(EchoServicer):
    """A handler that records its context and calls the backend through finpy."""

    def __init__(self, observed: Observed, to_backend: Any, own_timeout: float | None):
        self.observed = observed
        self.to_backend = to_backend
        self.own_timeout = own_timeout

    async def Echo(self, request: EchoRequest, context: Any) -> EchoReply:
        self.observed.deadline_left.append(finpy.time_remaining())
        self.observed.incoming.append(current_incoming_call())
        self.observed.trace_ids.append(trace.get_current_span().get_span_context().trace_id)
        if request.message == "abort":
            await context.abort(grpc.StatusCode.NOT_FOUND, "no such user")
        reply = await self.to_backend.Echo(request, timeout=self.own_timeout)
        return EchoReply(message=reply.message, server="middle")


async def serve(servicer: Any, interceptor: Any) -> tuple[grpc.aio.Server, Any, Any]:
    server = grpc.aio.server(interceptors=[interceptor])
    add_EchoServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    return server, EchoStub(channel), channel


@pytest.fixture
def spans() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    """An SDK tracer provider recording into memory."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider, exporter
    provider.shutdown()


@pytest.mark.parametrize(
    ("incoming", "own", "bound"),
    [(2.0, None, 2.0), (5.0, 0.5, 0.5), (0.8, 10.0, 0.8)],
    ids=["inherited", "own-is-earlier", "incoming-is-earlier"],
)
async def test_outgoing_deadline_is_the_earlier_of_own_timeout_and_incoming(
    backend: Backend, incoming: float, own: float | None, bound: float
) -> None:
    """A finpy call made while serving gets min(own timeout, what is left of the incoming one)."""
    observed = Observed()
    to_backend = Channel(backend.target)
    server, stub, channel = await serve(
        Middle(observed, EchoStub(to_backend), own), ServerInterceptor()
    )
    try:
        await stub.Echo(EchoRequest(message="hi"), timeout=incoming)
    finally:
        await channel.close()
        await server.stop(None)
        await to_backend.close()
    (left,) = observed.deadline_left
    assert left is not None and incoming - 0.5 < left <= incoming + 0.05
    (seen,) = backend.time_remaining
    assert seen is not None and bound - 0.5 < seen <= bound + 0.05


async def test_no_incoming_deadline_means_none_is_imposed(backend: Backend) -> None:
    """A call without a deadline leaves the handler unbounded (no finpy deadline at all)."""
    observed = Observed()
    to_backend = Channel(backend.target)
    server, stub, channel = await serve(
        Middle(observed, EchoStub(to_backend), None), ServerInterceptor()
    )
    try:
        await stub.Echo(EchoRequest(message="hi"))
    finally:
        await channel.close()
        await server.stop(None)
        await to_backend.close()
    assert observed.deadline_left == [None]
    assert backend.time_remaining == [None]
    incoming = observed.incoming[0]
    assert incoming is not None and incoming.method == "/finpy.testing.echo.Echo/Echo"
    assert incoming.deadline is None and not incoming.cancelled


class _Details:
    """The two attributes of grpc.HandlerCallDetails an interceptor reads."""

    def __init__(self, method: str, metadata: tuple[tuple[str, str], ...] = ()) -> None:
        self.method = method
        self.invocation_metadata = metadata


class _ExpiredContext:
    """A servicer context whose caller's deadline has just passed."""

    def time_remaining(self) -> float:
        return 0.0


async def test_expired_incoming_deadline_fails_locally_without_sending(backend: Backend) -> None:
    """With the incoming deadline gone, a nested finpy call fails DEADLINE_EXCEEDED, unsent."""
    to_backend = EchoStub(Channel(backend.target))
    failures: list[BaseException] = []

    async def handler(request: EchoRequest, context: Any) -> Any:
        try:
            return await to_backend.Echo(request)
        except grpc.aio.AioRpcError as e:
            failures.append(e)
            raise

    async def continuation(details: Any) -> Any:
        return grpc.unary_unary_rpc_method_handler(handler)

    details: Any = _Details("/finpy.testing.echo.Echo/Echo")
    wrapped = await ServerInterceptor().intercept_service(continuation, details)
    with pytest.raises(grpc.aio.AioRpcError):
        await wrapped.unary_unary(EchoRequest(message="late"), _ExpiredContext())
    (error,) = failures
    assert isinstance(error, grpc.aio.AioRpcError)
    assert error.code() is grpc.StatusCode.DEADLINE_EXCEEDED
    assert "not sent" in (error.details() or "")
    assert backend.time_remaining == []  # nothing reached the backend


async def test_incoming_trace_context_is_current_and_continued_on_the_wire(
    backend: Backend, spans: tuple[TracerProvider, InMemorySpanExporter]
) -> None:
    """The caller's traceparent becomes the handler's context, a SERVER span, and goes on."""
    provider, exporter = spans
    observed = Observed()
    to_backend = Channel(backend.target)
    server, stub, channel = await serve(
        Middle(observed, EchoStub(to_backend), None), ServerInterceptor(tracer_provider=provider)
    )
    try:
        await stub.Echo(EchoRequest(message="hi"), metadata=(("traceparent", TRACEPARENT),))
    finally:
        await channel.close()
        await server.stop(None)
        await to_backend.close()
    assert observed.trace_ids == [TRACE_ID]
    (span,) = exporter.get_finished_spans()
    assert span.kind is SpanKind.SERVER and span.name == "finpy.testing.echo.Echo/Echo"
    assert span.context.trace_id == TRACE_ID
    assert span.parent is not None and span.parent.span_id == PARENT_ID
    assert dict(span.attributes or {}) == {
        "rpc.system": "grpc",
        "rpc.service": "finpy.testing.echo.Echo",
        "rpc.method": "Echo",
        "rpc.grpc.status_code": 0,
    }
    # the nested call (no tracer of its own) still carries the trace to the backend
    sent = backend.metadata[0]["traceparent"]
    assert sent.split("-")[1] == f"{TRACE_ID:032x}"
    assert sent.split("-")[2] == f"{span.context.span_id:016x}"


async def test_aborted_call_marks_the_server_span_with_its_status(
    backend: Backend, spans: tuple[TracerProvider, InMemorySpanExporter]
) -> None:
    """context.abort(NOT_FOUND) ends the SERVER span with status 5 and error.type NOT_FOUND."""
    provider, exporter = spans
    observed = Observed()
    to_backend = Channel(backend.target)
    server, stub, channel = await serve(
        Middle(observed, EchoStub(to_backend), None), ServerInterceptor(tracer_provider=provider)
    )
    try:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.Echo(EchoRequest(message="abort"))
    finally:
        await channel.close()
        await server.stop(None)
        await to_backend.close()
    assert info.value.code() is grpc.StatusCode.NOT_FOUND
    (span,) = exporter.get_finished_spans()
    attributes = dict(span.attributes or {})
    assert attributes["rpc.grpc.status_code"] == 5
    assert attributes["error.type"] == "NOT_FOUND"
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "no such user"  # the details the handler gave


async def test_server_spans_can_be_left_to_another_instrumentation(
    backend: Backend, spans: tuple[TracerProvider, InMemorySpanExporter]
) -> None:
    """server_spans=False records no span but still makes the caller's trace current."""
    provider, exporter = spans
    observed = Observed()
    to_backend = Channel(backend.target)
    server, stub, channel = await serve(
        Middle(observed, EchoStub(to_backend), None),
        ServerInterceptor(tracer_provider=provider, server_spans=False),
    )
    try:
        await stub.Echo(EchoRequest(message="hi"), metadata=(("traceparent", TRACEPARENT),))
    finally:
        await channel.close()
        await server.stop(None)
        await to_backend.close()
    assert exporter.get_finished_spans() == ()
    assert observed.trace_ids == [TRACE_ID]
    assert backend.metadata[0]["traceparent"].split("-")[2] == f"{PARENT_ID:016x}"


async def test_cancelled_incoming_call_cancels_the_nested_finpy_call(backend: Backend) -> None:
    """The caller cancelling its call cancels the handler's finpy call down to the backend."""
    observed = Observed()
    to_backend = Channel(backend.target)
    server, stub, channel = await serve(
        Middle(observed, EchoStub(to_backend), None), ServerInterceptor()
    )
    try:
        call = stub.Echo(EchoRequest(message="hang"), timeout=30)
        await asyncio.wait_for(backend.started.wait(), 10)
        call.cancel()
        await asyncio.wait_for(backend.cancelled.wait(), 10)
    finally:
        await channel.close()
        await server.stop(None)
        await to_backend.close()
    incoming = observed.incoming[0]
    assert incoming is not None and incoming.cancelled


# -- sync (thread pool) servers ----------------------------------------------------------------


class SyncMiddle(EchoServicer):
    """A sync handler that runs its finpy call on the test's loop with run_async."""

    def __init__(
        self, observed: Observed, loop: asyncio.AbstractEventLoop, to_backend: Any
    ) -> None:
        self.observed = observed
        self.loop = loop
        self.to_backend = to_backend

    def Echo(self, request: EchoRequest, context: Any) -> EchoReply:
        self.observed.deadline_left.append(finpy.time_remaining())
        self.observed.incoming.append(current_incoming_call())
        self.observed.trace_ids.append(trace.get_current_span().get_span_context().trace_id)

        async def nested() -> str:
            reply = await self.to_backend.Echo(request)
            return str(reply.message)

        try:
            message = run_async(nested(), loop=self.loop)
        except BaseException as e:
            self.observed.errors.append(e)
            self.observed.failed.set()
            raise
        self.observed.replies.append(message)
        return EchoReply(message=message, server="sync-middle")


@pytest.fixture
async def sync_server(backend: Backend) -> AsyncIterator[tuple[Observed, Any, Backend]]:
    """A thread-pool grpc server with SyncServerInterceptor, calling the backend via finpy."""
    observed = Observed()
    to_backend = Channel(backend.target)
    pool = futures.ThreadPoolExecutor(max_workers=2)
    server = grpc.server(pool, interceptors=[SyncServerInterceptor()])
    add_EchoServicer_to_server(
        SyncMiddle(observed, asyncio.get_running_loop(), EchoStub(to_backend)), server
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield observed, EchoStub(channel), backend
    finally:
        await channel.close(None)
        await asyncio.to_thread(lambda: server.stop(None).wait())
        pool.shutdown(wait=False)
        await to_backend.close()


async def test_sync_handler_gets_deadline_and_trace_and_passes_them_on(
    sync_server: tuple[Observed, Any, Backend],
) -> None:
    """A sync handler sees the deadline and trace; its run_async call carries both on."""
    observed, stub, backend = sync_server
    await stub.Echo(
        EchoRequest(message="hi"), timeout=2.0, metadata=(("traceparent", TRACEPARENT),)
    )
    assert observed.replies == ["hi"]
    (left,) = observed.deadline_left
    assert left is not None and 1.5 < left <= 2.05
    assert observed.trace_ids == [TRACE_ID]
    (seen,) = backend.time_remaining
    assert seen is not None and 1.0 < seen <= 2.05
    assert backend.metadata[0]["traceparent"].split("-")[1] == f"{TRACE_ID:032x}"


async def test_sync_handler_call_is_cancelled_with_the_incoming_call(
    sync_server: tuple[Observed, Any, Backend],
) -> None:
    """Cancelling the incoming call cancels the coroutine run_async is waiting for."""
    observed, stub, backend = sync_server
    call = stub.Echo(EchoRequest(message="hang"), timeout=30)
    await asyncio.wait_for(backend.started.wait(), 10)
    call.cancel()
    await asyncio.wait_for(backend.cancelled.wait(), 10)
    assert await asyncio.to_thread(observed.failed.wait, 10)  # the handler thread notices
    assert [type(e).__name__ for e in observed.errors] == ["CancelledError"]
    incoming = observed.incoming[0]
    assert incoming is not None and incoming.cancelled


def test_run_async_without_a_loop_runs_in_the_incoming_context() -> None:
    """run_async on its own loop sees the caller's finpy deadline (set as a handler would)."""

    async def left() -> float | None:
        return finpy.time_remaining()

    with finpy.deadline_after(5.0):
        remaining = run_async(left())
    assert remaining is not None and 4.0 < remaining <= 5.0


def test_cancel_callbacks_run_once_and_late_ones_run_at_once() -> None:
    """An IncomingCall runs its cancel callbacks when it ends early; added later: immediately."""
    call = IncomingCall("/s/M", None)
    hits: list[str] = []
    call.add_cancel_callback(lambda: hits.append("a"))
    remove = call.add_cancel_callback(lambda: hits.append("removed"))
    remove()
    call._terminated()
    call._terminated()
    call.add_cancel_callback(lambda: hits.append("late"))
    assert hits == ["a", "late"] and call.cancelled
    done = IncomingCall("/s/M", time.monotonic() + 1)
    done._handler_done()
    done._terminated()  # the RPC ending after its handler returned is not a cancellation
    assert not done.cancelled


@pytest.mark.parametrize("make", [ServerInterceptor, SyncServerInterceptor])
def test_bad_interceptor_arguments_name_the_value(make: Any) -> None:
    """A non-bool server_spans or a tracer_provider that is not one: ConfigurationError."""
    with pytest.raises(finpy.ConfigurationError, match=r"server_spans.*'yes'"):
        make(server_spans="yes")
    with pytest.raises(finpy.ConfigurationError, match=r"tracer_provider.*'jaeger'"):
        make(tracer_provider="jaeger")
