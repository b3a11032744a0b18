"""Retries, requeues, pushback and hedging through a finpy Channel against real local backends."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import grpc
import grpc.aio
import pytest

from finpy import Hedge, MethodConfig, RetryBudget
from finpy.retry import Backoff, is_marked_non_retryable
from finpy.testing import EchoReply, EchoRequest, EchoService, EchoStub, FaultCluster
from finpy_protocols.grpc import Channel

ECHO = "finpy.testing.echo.Echo/Echo"
C = grpc.StatusCode


def echo_stub(channel: Channel) -> Any:
    """A generated Echo stub on a finpy channel (the generated code is untyped)."""
    return EchoStub(channel)  # type: ignore[no-untyped-call]


@pytest.fixture(scope="module")
def cluster() -> Iterator[FaultCluster]:
    with FaultCluster(3) as c:
        yield c


@pytest.fixture(autouse=True)
def _fresh_cluster(cluster: FaultCluster) -> None:
    for b in cluster.backends:
        b.reset()
    cluster.reset_counters()


async def test_a_failing_replica_is_hidden_by_retries(cluster: FaultCluster) -> None:
    """One backend always UNAVAILABLE: every call succeeds; each failed attempt was retried once."""
    cluster.backend(0).set(error_code=C.UNAVAILABLE)
    # round robin: a retry surely goes to a backend the call has not tried
    async with Channel(cluster.target, timeout=5, balancer="round_robin") as channel:
        stub = echo_stub(channel)
        replies = [await stub.Echo(EchoRequest(message=f"m{i}")) for i in range(60)]
        stats = channel.retry_statistics()
    assert all(r.server in ("backend-1", "backend-2") for r in replies)
    seen = cluster.statistics()
    failed = seen.failures.get(C.UNAVAILABLE, 0)
    assert failed == cluster.backend(0).attempts
    assert seen.attempts == 60 + stats.retries + stats.requeues
    assert stats.retries == failed and stats.requests == 60


async def test_an_outage_costs_at_most_the_budget_not_max_attempts(cluster: FaultCluster) -> None:
    """All backends fail: attempts per call stay near 1.2 (the budget), not 3; the server error is kept."""
    for b in cluster.backends:
        b.set(error_code=C.UNAVAILABLE, error_details="backend down")
    budget = RetryBudget(min_retries_per_sec=0.5)  # a reserve of 5 retries, so 20% shows quickly
    calls = 300
    errors: list[grpc.aio.AioRpcError] = []
    async with Channel(cluster.target, timeout=5, retry_budget=budget) as channel:
        assert channel.retry_budget is budget
        stub = echo_stub(channel)
        for i in range(calls):
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await stub.Echo(EchoRequest(message=f"m{i}"))
            errors.append(info.value)
        stats = channel.retry_statistics()
    attempts = cluster.total_attempts
    assert calls <= attempts <= calls * 1.2 + 5
    assert attempts / calls < 1.25
    assert stats.budget_exhausted > 0
    assert all(e.code() == C.UNAVAILABLE and e.details() == "backend down" for e in errors)
    assert sum(is_marked_non_retryable(e) for e in errors) == stats.budget_exhausted


async def test_a_non_idempotent_call_that_timed_out_is_not_retried(cluster: FaultCluster) -> None:
    """DEADLINE_EXCEEDED on an attempt of a method not declared idempotent: exactly one attempt."""
    for b in cluster.backends:
        b.set(latency=1.0)
    async with Channel(cluster.target, timeout=5, attempt_timeout=0.05) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await echo_stub(channel).Echo(EchoRequest(message="once"))
    assert info.value.code() == C.DEADLINE_EXCEEDED
    assert cluster.total_attempts == 1


async def test_an_idempotent_call_that_timed_out_is_retried_elsewhere(
    cluster: FaultCluster,
) -> None:
    """The same timeout on an idempotent method is retried, up to max_attempts, on other backends."""
    for b in cluster.backends:
        b.set(latency=1.0)
    async with Channel(
        cluster.target,
        timeout=5,
        attempt_timeout=0.05,
        methods={ECHO: MethodConfig(idempotent=True)},
    ) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await echo_stub(channel).Echo(EchoRequest(message="thrice"))
    assert info.value.code() == C.DEADLINE_EXCEEDED
    assert cluster.total_attempts == 3
    assert "3 attempts" in info.value.finpy_note  # type: ignore[attr-defined]


async def test_server_pushback_is_waited_before_the_retry(cluster: FaultCluster) -> None:
    """RESOURCE_EXHAUSTED with grpc-retry-pushback-ms: 200 -> the retry goes no sooner than 200 ms later."""
    for b in cluster.backends:
        b.set(
            error_code=C.RESOURCE_EXHAUSTED,
            trailing_metadata=(("grpc-retry-pushback-ms", "200"),),
        )
    async with Channel(
        cluster.target,
        timeout=5,
        max_attempts=2,
        methods={ECHO: MethodConfig(idempotent=True)},
    ) as channel:
        start = time.monotonic()
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await echo_stub(channel).Echo(EchoRequest(message="later"))
        elapsed = time.monotonic() - start
    assert info.value.code() == C.RESOURCE_EXHAUSTED
    assert cluster.total_attempts == 2
    assert elapsed >= 0.2


@pytest.mark.parametrize("value", ["-1", "soon"])
async def test_negative_or_malformed_pushback_stops_retries(
    cluster: FaultCluster, value: str
) -> None:
    """A pushback of -1 or garbage means "do not retry", even for UNAVAILABLE on an idempotent method."""
    for b in cluster.backends:
        b.set(error_code=C.UNAVAILABLE, trailing_metadata=(("grpc-retry-pushback-ms", value),))
    async with Channel(
        cluster.target, timeout=5, methods={ECHO: MethodConfig(idempotent=True)}
    ) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await echo_stub(channel).Echo(EchoRequest(message="no"))
        assert channel.retry_statistics().retries == 0
    assert info.value.code() == C.UNAVAILABLE
    assert cluster.total_attempts == 1


async def test_a_refused_connection_is_requeued_for_a_non_idempotent_method(
    cluster: FaultCluster,
) -> None:
    """A backend that refuses connections never sees the call: it is requeued elsewhere, all succeed."""
    cluster.backend(0).set(refuse_connections=True)
    async with Channel(cluster.target, timeout=5, backoff=Backoff.constant(10.0)) as channel:
        stub = echo_stub(channel)
        replies = [await stub.Echo(EchoRequest(message=f"m{i}")) for i in range(30)]
        stats = channel.retry_statistics()
    assert {r.server for r in replies} <= {"backend-1", "backend-2"}
    assert stats.requeues >= 1 and stats.retries == 0
    assert cluster.backend(0).attempts == 0


async def test_a_stream_failing_before_its_first_message_is_retried(cluster: FaultCluster) -> None:
    """A server stream that fails before any response is retried like a unary call."""
    cluster.backend(0).set(error_code=C.UNAVAILABLE)
    cluster.backend(1).set(error_code=C.UNAVAILABLE)
    # round robin: each attempt of a call surely goes to a backend it has not tried
    async with Channel(cluster.target, timeout=5, balancer="round_robin") as channel:
        stub = echo_stub(channel)
        for _ in range(10):
            replies = [r async for r in stub.Expand(EchoRequest(message="s", count=3))]
            assert [r.server for r in replies] == ["backend-2"] * 3
        assert channel.retry_statistics().retries == cluster.statistics().failures.get(
            C.UNAVAILABLE, 0
        )


class HalfStream(EchoService):
    """Expand sends two replies, then fails: a partial stream."""

    async def Expand(self, request: EchoRequest, context: Any) -> AsyncIterator[EchoReply]:
        yield EchoReply(message=request.message, server=self.server, index=0)
        yield EchoReply(message=request.message, server=self.server, index=1)
        await context.abort(C.UNAVAILABLE, "gone mid-stream")


async def test_no_retry_after_a_partial_stream() -> None:
    """Two messages then UNAVAILABLE: the caller gets both and the error; the server saw one attempt."""
    with FaultCluster(2, servicer_factory=HalfStream) as partial:
        async with Channel(partial.target, timeout=5) as channel:
            call = echo_stub(channel).Expand(EchoRequest(message="p", count=5))
            got = []
            with pytest.raises(grpc.aio.AioRpcError) as info:
                async for reply in call:
                    got.append(reply.index)
            assert info.value.code() == C.UNAVAILABLE
            assert info.value.details() == "gone mid-stream"
            assert got == [0, 1]
            assert channel.retry_statistics().retries == 0
        assert partial.total_attempts == 1


async def _until(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Wait (bounded) for something another thread will make true."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


async def test_a_hedge_wins_against_a_slow_backend_and_the_loser_is_cancelled(
    cluster: FaultCluster,
) -> None:
    """After warm-up, calls stuck on a slow backend are answered by a backup; the server sees the cancel."""
    hedged = MethodConfig(idempotent=True, hedge=Hedge(min_delay=0.02))
    # round robin keeps sending every third first attempt to the slow backend (a
    # latency-aware balancer would rightly avoid it, and there would be nothing to hedge)
    async with Channel(
        cluster.target, timeout=10, methods={ECHO: hedged}, balancer="round_robin"
    ) as channel:
        stub = echo_stub(channel)
        for i in range(60):  # latencies for the histogram, credit for the hedge budget
            await stub.Echo(EchoRequest(message=f"w{i}"))
        cluster.backend(0).set(latency=5.0)
        replies = []
        for i in range(40):  # until some call's first attempt went to the slow backend
            replies.append(await stub.Echo(EchoRequest(message=f"m{i}")))
            if channel.retry_statistics().hedges_won >= 2:
                break
        stats = channel.retry_statistics()
    # no call waited for the slow backend: every answer came from another one (timing is the
    # bench's business, not a test's)
    assert all(r.server != "backend-0" for r in replies)
    assert stats.hedges_sent >= 1 and stats.hedges_won == stats.hedges_sent

    def losers_cancelled() -> bool:
        return cluster.backend(0).statistics().failures.get(C.CANCELLED, 0) >= stats.hedges_won

    assert await _until(losers_cancelled)
