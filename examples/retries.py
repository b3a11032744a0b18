"""Retries that cannot become a retry storm: three scenes on three real local backends.

1. A failing replica: one backend answers every call with UNAVAILABLE. finpy retries each
   failed call on another backend, so every call succeeds.
2. An outage: every backend fails. Each call could make 3 attempts, but the retry budget
   (20% of requests + a small reserve) keeps the extra load near 20%, and calls fail fast
   with the server's own status and details.
3. A heavy tail: 3% of calls take 300 ms longer. With hedging on, a backup request goes to
   another backend after the recent p95 latency; the first answer wins.

Run it with ``python examples/retries.py`` (a few seconds; ``FINPY_EXAMPLE_QUICK=1`` for
fewer calls).
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import grpc
import grpc.aio

import finpy
from finpy.testing import Behavior, FaultCluster
from finpy.testing.echo import EchoRequest, EchoStub
from finpy_protocols import grpc as fgrpc

QUICK = bool(os.environ.get("FINPY_EXAMPLE_QUICK"))
ECHO = "finpy.testing.echo.Echo/Echo"


def stub(channel: fgrpc.Channel) -> Any:
    return EchoStub(channel)  # type: ignore[no-untyped-call]


async def failing_replica(cluster: FaultCluster) -> None:
    cluster.backend(1).set(error_code=grpc.StatusCode.UNAVAILABLE, error_details="replica broken")
    calls = 30
    async with fgrpc.Channel(cluster.target, timeout=2.0) as channel:
        echo = stub(channel)
        servers = [(await echo.Echo(EchoRequest(message=f"m{i}"))).server for i in range(calls)]
        stats = channel.retry_statistics()
    print("1. failing replica: backend-1 answers UNAVAILABLE to every call")
    print(
        f"   {len(servers)}/{calls} calls succeeded, none answered by backend-1; "
        f"{stats.retries} retries, {cluster.backend(1).attempts} attempts reached backend-1"
    )


async def outage(cluster: FaultCluster) -> None:
    for backend in cluster.backends:
        backend.set(error_code=grpc.StatusCode.UNAVAILABLE, error_details="backend down")
    calls = 150 if QUICK else 400
    # A small reserve (1 retry/s for 10 s) so the 20% share shows within a few calls.
    budget = finpy.RetryBudget(min_retries_per_sec=1.0)
    last: grpc.aio.AioRpcError | None = None
    start = time.monotonic()
    async with fgrpc.Channel(cluster.target, timeout=2.0, retry_budget=budget) as channel:
        echo = stub(channel)
        for i in range(calls):
            try:
                await echo.Echo(EchoRequest(message=f"m{i}"))
            except grpc.aio.AioRpcError as e:
                last = e
        stats = channel.retry_statistics()
    elapsed = time.monotonic() - start
    attempts = cluster.total_attempts
    print("2. outage: every backend answers UNAVAILABLE")
    print(
        f"   {calls} calls failed in {elapsed:.2f} s; {attempts / calls:.2f} attempts per call "
        f"(max_attempts would allow 3); the budget refused {stats.budget_exhausted} retries"
    )
    if last is not None:
        print(f"   the caller sees {last.code().name}: {last.details()!r}")
        print(f"   and the note: {getattr(last, 'finpy_note', '')}")


async def tail_latencies(target: str, calls: int, hedge: bool) -> tuple[list[float], Any]:
    """Latencies (seconds) of ``calls`` Echo calls after a 30-call warm-up, and the statistics."""
    methods = {ECHO: finpy.MethodConfig(idempotent=True, hedge=hedge)}
    latencies = []
    async with fgrpc.Channel(target, timeout=2.0, methods=methods) as channel:
        echo = stub(channel)
        for i in range(30 + calls):  # the warm-up teaches the hedge its delay
            start = time.monotonic()
            await echo.Echo(EchoRequest(message=f"m{i}"))
            if i >= 30:
                latencies.append(time.monotonic() - start)
        return latencies, channel.retry_statistics()


async def heavy_tail(cluster: FaultCluster) -> None:
    calls = 150 if QUICK else 400
    for i, backend in enumerate(cluster.backends):
        backend.behavior = Behavior(tail_latency=0.3, tail_probability=0.03, seed=i)
    plain, _ = await tail_latencies(cluster.target, calls, hedge=False)
    hedged, stats = await tail_latencies(cluster.target, calls, hedge=True)
    print("3. heavy tail: 3% of calls take 300 ms longer")
    for name, latencies in (("without hedging", plain), ("with hedging   ", hedged)):
        slow = sum(1 for t in latencies if t > 0.1)
        p99 = sorted(latencies)[int(0.99 * len(latencies)) - 1]
        print(f"   {name}: {slow:2d} of {calls} calls over 100 ms, p99 {p99 * 1000:5.1f} ms")
    print(
        f"   hedging sent {stats.hedges_sent} backup requests ({stats.hedges_sent / calls:.1%} "
        f"extra, bounded by max_extra_load=5%), {stats.hedges_won} of them answered first"
    )


async def scenes(clusters: list[FaultCluster]) -> None:
    await failing_replica(clusters[0])
    await outage(clusters[1])
    await heavy_tail(clusters[2])


def main() -> None:
    """Run the three scenes, each on its own cluster of three local backends."""
    with FaultCluster(3) as a, FaultCluster(3) as b, FaultCluster(3) as c:
        asyncio.run(scenes([a, b, c]))


if __name__ == "__main__":
    main()
