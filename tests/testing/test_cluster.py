"""FaultCluster and Backend: real gRPC servers whose faults a test controls while calls run."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import grpc
import grpc.aio
import pytest

from finpy.testing import Backend, Behavior, FaultCluster
from finpy.testing.echo import EchoReply, EchoRequest, EchoStub

ECHO = "/finpy.testing.echo.Echo/Echo"
EXPAND = "/finpy.testing.echo.Echo/Expand"
REQUEST = EchoRequest(message="hi")


@pytest.fixture(scope="module")
def cluster() -> Iterator[FaultCluster]:
    with FaultCluster(2) as c:
        yield c


@pytest.fixture(autouse=True)
def _fresh(cluster: FaultCluster) -> None:
    for backend in cluster.backends:
        backend.reset()
        backend.start()
    cluster.reset_counters()


async def _until(predicate: Callable[[], bool], what: str) -> None:
    """Poll ``predicate`` a bounded number of times (the servers run on another thread)."""
    for _ in range(1000):
        if predicate():
            return
        await asyncio.sleep(0.005)
    pytest.fail(f"gave up waiting for {what}")


async def _echo(address: str, timeout: float = 10.0) -> EchoReply:
    """One Echo call on a fresh channel (no reconnect backoff left from earlier tests)."""
    async with grpc.aio.insecure_channel(address) as channel:
        reply: EchoReply = await EchoStub(channel).Echo(REQUEST, timeout=timeout)
        return reply


async def _echo_code(address: str, timeout: float = 10.0) -> grpc.StatusCode:
    try:
        await _echo(address, timeout)
    except grpc.aio.AioRpcError as err:
        return err.code()
    return grpc.StatusCode.OK


async def _requests(n: int) -> AsyncIterator[EchoRequest]:
    for i in range(n):
        yield EchoRequest(message=f"m{i}")


def test_backends_are_named_and_listen_on_distinct_local_ports(cluster: FaultCluster) -> None:
    """Backends are backend-0.. on 127.0.0.1 free ports; target lists them all."""
    names = [b.name for b in cluster.backends]
    assert names == ["backend-0", "backend-1"]
    ports = [b.port for b in cluster.backends]
    assert len(set(ports)) == 2 and all(p > 0 for p in ports)
    assert cluster.addresses == [f"127.0.0.1:{p}" for p in ports]
    assert cluster.target == f"static:///127.0.0.1:{ports[0]},127.0.0.1:{ports[1]}"
    assert cluster.backend(1) is cluster.backends[1]
    assert all(b.listening for b in cluster.backends)


@pytest.mark.parametrize(
    "slow",
    [{"latency": 0.3}, {"tail_latency": 0.3, "tail_probability": 1.0}],
    ids=["latency", "tail_latency"],
)
async def test_latency_is_added_to_every_call(cluster: FaultCluster, slow: dict[str, Any]) -> None:
    """A timeout below the latency gets DEADLINE_EXCEEDED; a longer one succeeds."""
    backend = cluster.backend(0)
    backend.set(**slow)
    assert await _echo_code(backend.address, timeout=0.05) == grpc.StatusCode.DEADLINE_EXCEEDED
    assert (await _echo(backend.address, timeout=10)).server == backend.name
    await _until(lambda: backend.statistics().in_flight == 0, "the expired call to end")
    stats = backend.statistics()
    assert stats.successes == 1
    assert stats.failures == {grpc.StatusCode.DEADLINE_EXCEEDED: 1}


async def test_streaming_calls_get_the_latency_before_the_first_message(
    cluster: FaultCluster,
) -> None:
    """Expand and Chat with a timeout below the latency fail without any message."""
    backend = cluster.backend(0)
    backend.set(latency=0.3)
    async with grpc.aio.insecure_channel(backend.address) as channel:
        stub = EchoStub(channel)
        got: list[EchoReply] = []
        with pytest.raises(grpc.aio.AioRpcError) as info:
            async for reply in stub.Expand(EchoRequest(count=3), timeout=0.05):
                got.append(reply)
        assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED and got == []
        chat = [r.index async for r in stub.Chat(_requests(2), timeout=10)]
        assert chat == [0, 1]


async def test_injected_error_carries_code_details_and_trailing_metadata(
    cluster: FaultCluster,
) -> None:
    """error_code with probability 1 fails every call with that status, details and trailers."""
    backend = cluster.backend(0)
    backend.set(
        error_code=grpc.StatusCode.UNAVAILABLE,
        error_details="backend-0 is draining",
        trailing_metadata=(("grpc-retry-pushback-ms", "250"), ("x-fault", "yes")),
    )
    async with grpc.aio.insecure_channel(backend.address) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await EchoStub(channel).Echo(REQUEST, timeout=10)
    err = info.value
    assert err.code() == grpc.StatusCode.UNAVAILABLE
    assert err.details() == "backend-0 is draining"
    trailers = dict(err.trailing_metadata() or ())
    assert trailers["grpc-retry-pushback-ms"] == "250" and trailers["x-fault"] == "yes"
    stats = backend.statistics()
    assert stats.injected_errors == 1 and stats.failures == {grpc.StatusCode.UNAVAILABLE: 1}


async def test_streaming_calls_fail_before_their_first_message(cluster: FaultCluster) -> None:
    """An injected error ends Expand, Collect and Chat before any reply."""
    backend = cluster.backend(0)
    backend.set(error_code=grpc.StatusCode.INTERNAL)
    async with grpc.aio.insecure_channel(backend.address) as channel:
        stub = EchoStub(channel)
        for call in (
            lambda: stub.Expand(EchoRequest(count=3), timeout=10),
            lambda: stub.Chat(_requests(2), timeout=10),
        ):
            got: list[EchoReply] = []
            with pytest.raises(grpc.aio.AioRpcError) as info:
                async for reply in call():
                    got.append(reply)
            assert info.value.code() == grpc.StatusCode.INTERNAL and got == []
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.Collect(_requests(2), timeout=10)
        assert info.value.code() == grpc.StatusCode.INTERNAL


async def test_seeded_error_probability_gives_the_same_outcomes_every_run(
    cluster: FaultCluster,
) -> None:
    """With a seed, N calls fail at the same positions each time the seed is set."""
    backend = cluster.backend(0)

    async def outcomes() -> list[bool]:
        result = []
        async with grpc.aio.insecure_channel(backend.address) as channel:
            stub = EchoStub(channel)
            for _ in range(30):
                try:
                    await stub.Echo(REQUEST, timeout=10)
                    result.append(True)
                except grpc.aio.AioRpcError as err:
                    assert err.code() == grpc.StatusCode.ABORTED
                    result.append(False)
        return result

    backend.set(error_code=grpc.StatusCode.ABORTED, error_probability=0.5, seed=1234)
    first = await outcomes()
    backend.set(seed=1234)
    assert await outcomes() == first
    failed = first.count(False)
    assert 0 < failed < 30
    assert backend.statistics().injected_errors == 2 * failed


async def test_capacity_rejects_the_call_over_it_at_once(cluster: FaultCluster) -> None:
    """With capacity=2 and 2 calls in flight, a 3rd fails RESOURCE_EXHAUSTED without waiting."""
    backend = cluster.backend(0)
    backend.set(capacity=2, latency=60)
    async with grpc.aio.insecure_channel(backend.address) as channel:
        stub = EchoStub(channel)
        held = [stub.Echo(REQUEST, timeout=120) for _ in range(2)]
        await _until(lambda: backend.statistics().in_flight == 2, "2 calls in flight")
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.Echo(REQUEST, timeout=30)  # would expire if it waited the latency
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "over capacity" in (info.value.details() or "")
        for call in held:
            call.cancel()
        await asyncio.gather(*held, return_exceptions=True)
    await _until(lambda: backend.statistics().in_flight == 0, "held calls to be cancelled")
    stats = backend.statistics()
    assert stats.rejected_over_capacity == 1 and stats.max_in_flight == 2
    assert stats.failures == {
        grpc.StatusCode.RESOURCE_EXHAUSTED: 1,
        grpc.StatusCode.CANCELLED: 2,
    }


async def test_refuse_connections_stops_listening_and_clearing_it_serves_the_same_port(
    cluster: FaultCluster,
) -> None:
    """refuse_connections makes fresh channels fail UNAVAILABLE; clearing re-listens on the port."""
    backend = cluster.backend(1)
    port = backend.port
    backend.set(refuse_connections=True)
    assert not backend.listening
    assert await _echo_code(backend.address) == grpc.StatusCode.UNAVAILABLE
    assert backend.attempts == 0

    backend.set(refuse_connections=False)
    assert backend.listening and backend.port == port
    assert (await _echo(backend.address)).server == "backend-1"


async def test_assigning_refuse_connections_on_the_live_behavior_takes_effect(
    cluster: FaultCluster,
) -> None:
    """backend.behavior.refuse_connections = True/False acts like set()."""
    backend = cluster.backend(1)
    backend.behavior.refuse_connections = True
    assert not backend.listening
    assert await _echo_code(backend.address) == grpc.StatusCode.UNAVAILABLE
    backend.behavior.refuse_connections = False
    assert (await _echo(backend.address)).server == "backend-1"


async def test_stop_and_start_keep_the_port(cluster: FaultCluster) -> None:
    """A stopped backend refuses calls; start() and restart() serve on the same port again."""
    backend = cluster.backend(0)
    port = backend.port
    backend.stop()
    assert not backend.listening
    assert await _echo_code(backend.address) == grpc.StatusCode.UNAVAILABLE
    backend.start()
    assert backend.port == port
    assert (await _echo(backend.address)).server == "backend-0"
    backend.restart()
    assert backend.port == port and backend.listening
    assert (await _echo(backend.address)).server == "backend-0"


async def test_graceful_stop_lets_calls_in_flight_finish(cluster: FaultCluster) -> None:
    """stop(grace) waits for the call in flight, which succeeds."""
    backend = cluster.backend(0)
    backend.set(latency=0.3)
    async with grpc.aio.insecure_channel(backend.address) as channel:
        call = EchoStub(channel).Echo(REQUEST, timeout=30)
        await _until(lambda: backend.statistics().in_flight == 1, "the call to arrive")
        await asyncio.to_thread(backend.stop, 30.0)
        assert not backend.listening
        assert (await call).server == "backend-0"
    assert backend.statistics().successes == 1


async def test_abrupt_stop_cancels_calls_in_flight(cluster: FaultCluster) -> None:
    """stop(grace=0) ends the call in flight at once with UNAVAILABLE, as a crash would."""
    backend = cluster.backend(0)
    backend.set(latency=60)
    async with grpc.aio.insecure_channel(backend.address) as channel:
        call = EchoStub(channel).Echo(REQUEST, timeout=120)
        await _until(lambda: backend.statistics().in_flight == 1, "the call to arrive")
        backend.stop(grace=0)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await call
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    await _until(lambda: backend.statistics().in_flight == 0, "the call to be cancelled")


async def test_counters_count_attempts_per_backend_and_method(cluster: FaultCluster) -> None:
    """attempts, attempts_by_method and the cluster totals count every call received."""
    b0, b1 = cluster.backends
    async with (
        grpc.aio.insecure_channel(b0.address) as c0,
        grpc.aio.insecure_channel(b1.address) as c1,
    ):
        for _ in range(3):
            await EchoStub(c0).Echo(REQUEST, timeout=10)
        assert [r.index async for r in EchoStub(c0).Expand(EchoRequest(count=2), timeout=10)]
        await EchoStub(c1).Echo(REQUEST, timeout=10)
    assert b0.attempts == 4 and b1.attempts == 1
    assert cluster.attempts_by_backend() == {"backend-0": 4, "backend-1": 1}
    assert cluster.total_attempts == 5
    await _until(lambda: cluster.statistics().successes == 5, "the stream to be counted")
    stats = b0.statistics()
    assert stats.attempts_by_method == {ECHO: 3, EXPAND: 1}
    assert (stats.successes, stats.failed, stats.in_flight) == (4, 0, 0)
    total = cluster.statistics()
    assert total.attempts == 5 and total.attempts_by_backend == {"backend-0": 4, "backend-1": 1}
    with pytest.raises(dataclasses.FrozenInstanceError):
        stats.attempts = 0  # type: ignore[misc]

    cluster.reset_counters()
    assert cluster.total_attempts == 0 and b0.statistics().attempts_by_method == {}


def test_set_validates_and_changes_nothing_on_a_bad_value(cluster: FaultCluster) -> None:
    """set() rejects bad values and unknown fields with ValueError; a whole Behavior may be assigned."""
    backend = cluster.backend(0)
    backend.set(latency=0.01)
    with pytest.raises(ValueError, match="-1"):
        backend.set(latency=0.02, capacity=-1)
    with pytest.raises(ValueError, match="latnecy"):
        backend.set(latnecy=1)
    assert backend.behavior == Behavior(latency=0.01)
    backend.behavior = Behavior(capacity=3)
    assert backend.behavior == Behavior(capacity=3)
    backend.reset()
    assert backend.behavior == Behavior()


def test_cluster_behavior_is_the_initial_and_reset_behavior_of_every_backend() -> None:
    """FaultCluster(behavior=...) applies to each backend and is what reset() returns to."""
    initial = Behavior(latency=0.01, seed=3)
    with FaultCluster(2, behavior=initial) as cluster:
        for backend in cluster.backends:
            assert backend.behavior == initial and backend.behavior is not initial
        cluster.backend(0).set(latency=0.5)
        cluster.backend(0).reset()
        assert cluster.backend(0).behavior == initial


async def test_faults_apply_to_a_user_servicer() -> None:
    """A servicer_factory's service gets the fault layer: its calls are counted and faulted."""

    def factory(name: str) -> grpc.GenericRpcHandler:
        async def whoami(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
            return name.encode()

        return grpc.method_handlers_generic_handler(
            "t.Who", {"Am": grpc.unary_unary_rpc_method_handler(whoami)}
        )

    with FaultCluster(1, servicer_factory=factory) as cluster:
        backend = cluster.backend(0)
        async with grpc.aio.insecure_channel(backend.address) as channel:
            whoami = channel.unary_unary("/t.Who/Am")
            assert await whoami(b"", timeout=10) == b"backend-0"
            backend.set(error_code=grpc.StatusCode.PERMISSION_DENIED)
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await whoami(b"", timeout=10)
        assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert backend.statistics().attempts_by_method == {"/t.Who/Am": 2}


def test_servicer_factory_must_return_a_servicer() -> None:
    """A factory returning something unregistrable fails start() with TypeError, leaving no thread."""
    before = set(threading.enumerate())
    with pytest.raises(TypeError, match="servicer_factory returned 42"):
        FaultCluster(1, servicer_factory=lambda name: 42).start()
    assert not [t for t in set(threading.enumerate()) - before if t.is_alive()]


@pytest.mark.parametrize("size", [0, -1, 1.5, True])
def test_cluster_size_must_be_a_positive_int(size: Any) -> None:
    """FaultCluster(size) names a bad size in a ValueError."""
    with pytest.raises(ValueError, match=repr(size)):
        FaultCluster(size)


def test_close_stops_servers_joins_the_thread_and_is_idempotent() -> None:
    """close() stops every server and the loop thread; a second close() is a no-op."""
    before = set(threading.enumerate())
    cluster = FaultCluster(1).start()
    loop_threads = [t for t in set(threading.enumerate()) - before if "fault-cluster" in t.name]
    assert len(loop_threads) == 1
    address = cluster.backend(0).address
    cluster.close()
    cluster.close()
    assert not loop_threads[0].is_alive()
    assert not cluster.backend(0).listening
    with grpc.insecure_channel(address) as channel, pytest.raises(grpc.RpcError) as info:
        EchoStub(channel).Echo(REQUEST, timeout=10)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE  # type: ignore[attr-defined]
    with pytest.raises(RuntimeError, match="not running"):
        cluster.backend(0).start()
    with pytest.raises(RuntimeError, match="closed"):
        cluster.start()


def test_a_cluster_must_be_started_before_use() -> None:
    """Asking an unstarted cluster for its backends raises RuntimeError saying so."""
    cluster = FaultCluster(1)
    with pytest.raises(RuntimeError, match="not been started"):
        _ = cluster.target
    cluster.close()


def test_control_calls_from_the_cluster_loop_raise_instead_of_deadlocking() -> None:
    """stop() called from inside a servicer raises RuntimeError instead of hanging."""
    seen: list[BaseException] = []

    def factory(name: str) -> grpc.GenericRpcHandler:
        async def stop_myself(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
            try:
                holder[0].stop()
            except RuntimeError as exc:
                seen.append(exc)
            return b""

        return grpc.method_handlers_generic_handler(
            "t.Stop", {"Me": grpc.unary_unary_rpc_method_handler(stop_myself)}
        )

    holder: list[Backend] = []
    with FaultCluster(1, servicer_factory=factory) as cluster:
        holder.append(cluster.backend(0))
        with grpc.insecure_channel(cluster.backend(0).address) as channel:
            channel.unary_unary("/t.Stop/Me")(b"", timeout=10)
    assert len(seen) == 1 and "deadlock" in str(seen[0])


def test_reprs_say_what_runs_where(cluster: FaultCluster) -> None:
    """Cluster and backend reprs show target, state, attempts and non-default behavior."""
    backend = cluster.backend(0)
    backend.set(latency=0.25)
    assert repr(backend) == (
        f"<Backend backend-0 {backend.address} listening attempts=0 Behavior(latency=0.25)>"
    )
    assert repr(cluster) == f"<FaultCluster size=2 target={cluster.target!r} attempts=0>"
    assert repr(FaultCluster(4)) == "<FaultCluster size=4 not started>"
