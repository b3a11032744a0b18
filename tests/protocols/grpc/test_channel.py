"""The finpy Channel as a drop-in grpc.aio.Channel: shapes, spread, pass-through, errors."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator

import grpc
import grpc.aio
import pytest

import finpy
from finpy.testing import FaultCluster
from finpy.testing.echo import EchoReply, EchoRequest, EchoStub
from finpy_protocols import grpc as fgrpc
from finpy_protocols.grpc import Channel, FinpyRpcError

from .conftest import ProbeServer


@pytest.fixture(scope="module")
def cluster() -> AsyncIterator[FaultCluster]:
    with FaultCluster(3) as c:
        yield c


@pytest.fixture(autouse=True)
def _fresh_cluster(cluster: FaultCluster) -> None:
    for b in cluster.backends:
        b.reset()
    cluster.reset_counters()


async def _requests(n: int) -> AsyncIterator[EchoRequest]:
    for i in range(n):
        yield EchoRequest(message=f"m{i}")


async def test_all_four_call_shapes_work_through_a_generated_stub(cluster: FaultCluster) -> None:
    """Unary, server-, client- and bidi-streaming calls of a generated stub run on a finpy channel."""
    async with Channel(cluster.target, timeout=5) as channel:
        stub = EchoStub(channel)
        reply = await stub.Echo(EchoRequest(message="one"))
        assert reply.message == "one" and reply.server.startswith("backend-")

        expanded = [r async for r in stub.Expand(EchoRequest(message="x", count=3))]
        assert [r.index for r in expanded] == [0, 1, 2]

        collected = await stub.Collect(_requests(3))
        assert "m0" in collected.message and "m2" in collected.message

        chat = [r.message async for r in stub.Chat(_requests(3))]
        assert chat == ["m0", "m1", "m2"]


async def test_streaming_calls_support_the_reader_writer_api(cluster: FaultCluster) -> None:
    """write()/done_writing()/read() work for client- and bidi-streaming calls."""
    async with Channel(cluster.target, timeout=5) as channel:
        stub = EchoStub(channel)
        call = stub.Collect()
        await call.write(EchoRequest(message="a"))
        await call.write(EchoRequest(message="b"))
        await call.done_writing()
        reply = await call
        assert "a" in reply.message and "b" in reply.message

        chat = stub.Chat()
        await chat.write(EchoRequest(message="ping"))
        first = await chat.read()
        assert first.message == "ping"
        await chat.done_writing()
        assert await chat.read() is grpc.aio.EOF
        assert await chat.code() == grpc.StatusCode.OK


async def test_calls_spread_across_all_backends(cluster: FaultCluster) -> None:
    """Concurrent unary calls through finpy's default balancer reach every backend."""
    async with Channel(cluster.target, timeout=5) as channel:
        stub = EchoStub(channel)
        servers: Counter[str] = Counter()
        for _ in range(3):  # rounds of concurrent calls: load, not only latency, decides
            replies = await asyncio.gather(
                *(stub.Echo(EchoRequest(message="s")) for _ in range(20))
            )
            servers.update(r.server for r in replies)
    assert set(servers) == {b.name for b in cluster.backends}
    assert sum(servers.values()) == 60


async def test_removing_a_backend_while_calls_are_in_flight_loses_no_call(
    cluster: FaultCluster,
) -> None:
    """A backend removed from discovery finishes its in-flight calls; later calls avoid it."""
    for b in cluster.backends:
        b.set(latency=0.2)
    addresses = [finpy.Address.parse(a) for a in cluster.addresses]
    resolution = finpy.Resolution(finpy.Bound(addresses))
    async with Channel(resolution, timeout=10) as channel:
        stub = EchoStub(channel)
        in_flight = [
            asyncio.ensure_future(stub.Echo(EchoRequest(message=str(i)))) for i in range(30)
        ]
        for _ in range(1000):  # bounded: wait until every call has reached a server
            if cluster.total_attempts >= 30:
                break
            await asyncio.sleep(0.01)
        assert cluster.total_attempts == 30
        removed = cluster.backend(0)
        resolution.publish(finpy.Bound(addresses[1:]))
        replies = await asyncio.gather(*in_flight)
        assert len(replies) == 30
        assert any(r.server == removed.name for r in replies)  # it had calls in flight

        for b in cluster.backends:
            b.set(latency=0.0)
        later = Counter([(await stub.Echo(EchoRequest(message="z"))).server for _ in range(20)])
        assert removed.name not in later
        stats = channel.client.statistics().endpoints
        assert stats is not None and stats.endpoints == 2 and stats.removed == 1


async def test_server_errors_pass_through_unchanged(probe_server: ProbeServer) -> None:
    """A server's status code, details and metadata reach the caller as they were sent."""
    async with Channel(probe_server.address) as channel:
        call = channel.unary_unary("/t.Probe/Fail")(b"x")
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await call
    err = info.value
    assert not isinstance(err, FinpyRpcError)
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert err.details() == "the server said no"
    assert ("x-trailer", "t") in tuple(err.trailing_metadata())
    assert await call.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert await call.details() == "the server said no"


async def test_metadata_and_deadline_go_on_the_wire(probe_server: ProbeServer) -> None:
    """Per-call metadata is passed through and the remaining time is the gRPC deadline."""
    async with Channel(probe_server.address) as channel:
        echo = channel.unary_unary("/t.Probe/Echo")
        assert await echo(b"a", timeout=2.0, metadata=(("x-user", "u1"),)) == b"a"
        with finpy.deadline_after(0.5):
            await echo(b"b", timeout=10.0)  # the enclosing deadline is earlier
        await echo(b"c")  # no deadline at all
    first, second, third = probe_server.probe.time_remaining
    # the server reports its remaining time with rounding of its own: allow 10 ms
    assert probe_server.probe.metadata[0]["x-user"] == "u1"
    assert first is not None and 1.0 < first <= 2.01
    assert second is not None and second <= 0.51
    assert third is None or third > 1e6


async def test_channel_timeout_and_method_configs_set_the_deadline(
    probe_server: ProbeServer,
) -> None:
    """A channel-wide timeout applies to calls without one; a method config overrides it."""
    methods = {"t.Probe/Echo": finpy.MethodConfig(timeout=0.25)}
    async with Channel(probe_server.address, timeout=3.0, methods=methods) as channel:
        await channel.unary_unary("/t.Probe/Echo")(b"x")
    remaining = probe_server.probe.time_remaining[0]
    assert remaining is not None and remaining <= 0.26


async def test_expired_deadline_fails_locally_without_sending(probe_server: ProbeServer) -> None:
    """A call whose deadline has passed is DEADLINE_EXCEEDED and never reaches the server."""
    async with Channel(probe_server.address) as channel:
        echo = channel.unary_unary("/t.Probe/Echo")
        with finpy.deadline_after(0.0), pytest.raises(grpc.aio.AioRpcError) as info:
            await echo(b"x", timeout=5)
    assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert isinstance(info.value, finpy.DeadlineExceededError)
    assert "not sent" in (info.value.details() or "")
    assert probe_server.probe.calls == 0


async def test_no_endpoints_is_unavailable_and_a_finpy_error() -> None:
    """An empty endpoint set fails with UNAVAILABLE that is also a finpy.NoEndpointsError."""
    async with Channel(finpy.Resolution(finpy.Bound([])), timeout=1) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await channel.unary_unary("/t.Probe/Echo")(b"x")
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    assert isinstance(info.value, finpy.NoEndpointsError)
    assert "finpy" in (info.value.details() or "")


def test_a_target_no_resolver_understands_fails_at_construction() -> None:
    """Unknown schemes and malformed addresses are rejected when the channel is built."""
    with pytest.raises(finpy.TargetError, match="nosuch"):
        Channel("nosuch:///x:1")
    with pytest.raises(finpy.TargetError, match="999999"):
        Channel("static:///127.0.0.1:999999")
    with pytest.raises(finpy.ConfigurationError, match="bogus"):
        Channel("127.0.0.1:1", balancer="bogus")


async def test_cancelling_the_caller_cancels_the_call_on_the_server(
    probe_server: ProbeServer,
) -> None:
    """Cancelling the task awaiting a call cancels the RPC at the server."""
    async with Channel(probe_server.address) as channel:
        task = asyncio.ensure_future(channel.unary_unary("/t.Probe/Hang")(b"x", timeout=20))
        await asyncio.wait_for(probe_server.probe.started.wait(), 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        for _ in range(200):
            if probe_server.probe.cancelled:
                break
            await asyncio.sleep(0.01)
    assert probe_server.probe.cancelled == 1


async def test_call_object_reports_outcome_metadata_and_callbacks(cluster: FaultCluster) -> None:
    """A unary call exposes code, details, metadata, done state and done callbacks."""
    async with Channel(cluster.target) as channel:
        call = EchoStub(channel).Echo(EchoRequest(message="m"), timeout=5)
        seen: list[object] = []
        call.add_done_callback(seen.append)
        assert not call.done()
        reply = await call
        assert isinstance(reply, EchoReply)
        assert call.done() and seen == [call]
        assert await call.code() == grpc.StatusCode.OK
        assert await call.details() in ("", None)
        assert await call.initial_metadata() is not None
        assert await call.trailing_metadata() is not None
        assert await call == reply  # awaiting again gives the same answer


async def test_client_factory_and_stub_decorator_build_finpy_stubs(cluster: FaultCluster) -> None:
    """fgrpc.client() and @fgrpc.stub() give working stubs with merged per-method configs."""
    echo = fgrpc.client(EchoStub, cluster.target, timeout=5)
    try:
        assert (await echo.Echo(EchoRequest(message="f"))).message == "f"
        assert isinstance(fgrpc.channel_of(echo), Channel)
    finally:
        await fgrpc.aclose(echo)

    @fgrpc.stub(timeout=5, methods={"Echo": finpy.MethodConfig(idempotent=True, timeout=1.0)})
    class Echo(EchoStub):  # type: ignore[misc]
        pass

    stub = Echo(cluster.target, methods={"Echo": finpy.MethodConfig(timeout=0.5)})
    try:
        config = fgrpc.channel_of(stub).method_config("/finpy.testing.echo.Echo/Echo")
        assert config.timeout == 0.5 and config.idempotent is True
        assert (await stub.Echo(EchoRequest(message="d"))).message == "d"
    finally:
        await fgrpc.aclose(stub)

    plain = grpc.aio.insecure_channel(cluster.addresses[0])
    try:
        assert (await Echo(plain).Echo(EchoRequest(message="p"), timeout=5)).message == "p"
    finally:
        await plain.close()


async def test_closing_the_channel_closes_every_endpoint_channel(cluster: FaultCluster) -> None:
    """close() releases every per-endpoint grpc channel and later calls fail as closed."""
    channel = Channel(cluster.target, timeout=5)
    stub = EchoStub(channel)
    for _ in range(10):
        await stub.Echo(EchoRequest(message="x"))
    transports = channel._transports()
    assert transports and all(t._channel is not None for t in transports)
    await channel.close()
    assert all(t.status is finpy.Status.CLOSED for t in transports)
    assert channel.get_state() == grpc.ChannelConnectivity.SHUTDOWN
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.Echo(EchoRequest(message="late"))
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_channel_ready_waits_for_a_ready_endpoint(cluster: FaultCluster) -> None:
    """channel_ready() returns once an endpoint channel is READY."""
    async with Channel(cluster.target) as channel:
        await asyncio.wait_for(channel.channel_ready(), 10)
        assert channel.get_state() == grpc.ChannelConnectivity.READY


async def test_waiting_for_a_state_change_of_a_closed_channel_returns() -> None:
    """wait_for_state_change on a closed channel returns instead of spinning or hanging."""
    channel = Channel("127.0.0.1:1")
    await channel.close()
    await asyncio.wait_for(channel.wait_for_state_change(channel.get_state()), 1)


async def test_a_failed_call_keeps_no_reference_cycle_to_its_frames(
    probe_server: ProbeServer,
) -> None:
    """A failed call is freed by reference counting: its stored failure holds no traceback."""
    import gc
    import weakref

    async with Channel(probe_server.address, max_attempts=1) as channel:
        call = channel.unary_unary("/t.Probe/Fail")(b"x")
        with pytest.raises(grpc.aio.AioRpcError):
            await call
        with pytest.raises(grpc.aio.AioRpcError):  # a second await raises again
            await call
        assert await call.code() == grpc.StatusCode.FAILED_PRECONDITION
        ref = weakref.ref(call)
        gc.disable()
        try:
            del call
            assert ref() is None, gc.get_referrers(ref())
        finally:
            gc.enable()
