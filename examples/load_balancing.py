"""Latency-aware load balancing and endpoint health: three scenes on real local backends.

1. A slow replica: backend-0 answers 40 ms late. Round-robin keeps sending it a third of
   the calls; finpy's default balancer (P2C over peak-EWMA latency estimates) moves the
   traffic to the fast replicas within a few calls.
2. A broken replica: backend-1 answers UNAVAILABLE. Failure accrual ejects it after five
   failures in a row (retries hide those from the caller); once it is fixed, a single probe
   revives it after the backoff.
3. Zones: two backends in the client's zone, one elsewhere. Traffic stays local until the
   local backends fail, then spills to the other zone.

Run it with ``python examples/load_balancing.py`` (a few seconds; ``FINPY_EXAMPLE_QUICK=1``
for fewer calls).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from typing import Any

import grpc

import finpy
from finpy.testing import FaultCluster
from finpy.testing.echo import EchoRequest, EchoStub
from finpy_protocols import grpc as fgrpc

QUICK = bool(os.environ.get("FINPY_EXAMPLE_QUICK"))


def stub(channel: fgrpc.Channel) -> Any:
    return EchoStub(channel)  # type: ignore[no-untyped-call]


async def load(
    channel: fgrpc.Channel, calls: int, concurrency: int = 4
) -> tuple[Counter[str], float]:
    """``calls`` Echo calls, ``concurrency`` at a time: (calls per backend, p99 latency)."""
    echo = stub(channel)
    served: Counter[str] = Counter()
    latencies: list[float] = []

    async def worker(n: int) -> None:
        for i in range(n):
            start = time.perf_counter()
            reply = await echo.Echo(EchoRequest(message=f"m{i}"))
            latencies.append(time.perf_counter() - start)
            served[reply.server] += 1

    await asyncio.gather(*(worker(calls // concurrency) for _ in range(concurrency)))
    latencies.sort()
    return served, latencies[int(len(latencies) * 0.99) - 1]


async def slow_replica(cluster: FaultCluster) -> None:
    cluster.backend(0).set(latency=0.04)
    calls = 120 if QUICK else 400
    print("1. slow replica: backend-0 answers 40 ms late")
    for balancer in ("round_robin", "p2c_ewma"):
        async with fgrpc.Channel(cluster.target, timeout=2.0, balancer=balancer) as channel:
            served, p99 = await load(channel, calls)
        share = served["backend-0"] / sum(served.values())
        print(
            f"   {balancer:11s}: backend-0 served {share:5.1%} of calls, p99 {p99 * 1000:5.1f} ms"
        )
    cluster.backend(0).reset()


async def broken_replica(cluster: FaultCluster) -> None:
    broken = cluster.backend(1)
    broken.set(error_code=grpc.StatusCode.UNAVAILABLE, error_details="replica broken")
    # Short backoffs so the revival shows within the example (defaults: 5 s growing to 300 s).
    accrual = finpy.FailureAccrual(backoff_base=0.3, backoff_max=1.0)
    calls = 100 if QUICK else 300
    print("2. broken replica: backend-1 answers UNAVAILABLE")
    async with fgrpc.Channel(cluster.target, timeout=2.0, failure_accrual=accrual) as channel:
        served, _ = await load(channel, calls)
        ep = next(s for s in channel.endpoint_statistics() if s.address == broken.address)
        print(
            f"   {sum(served.values())}/{calls} calls succeeded; backend-1 saw "
            f"{broken.attempts} attempts, then was ejected (breaker {ep.breaker}, "
            f"{ep.ejections} ejection)"
        )
        broken.reset()
        await asyncio.sleep(1.2)  # let the backoff run out: the next request is the probe
        served, _ = await load(channel, calls)
        ep = next(s for s in channel.endpoint_statistics() if s.address == broken.address)
        print(
            f"   fixed: one probe revived it (breaker {ep.breaker}, {ep.revivals} revival), "
            f"it served {served['backend-1']} of the next {calls} calls"
        )


async def zones(cluster: FaultCluster) -> None:
    b0, b1, b2 = cluster.backends
    resolution = finpy.Resolution(
        finpy.Bound(
            [
                finpy.Address("127.0.0.1", b0.port, metadata={"zone": "east"}),
                finpy.Address("127.0.0.1", b1.port, metadata={"zone": "east"}),
                finpy.Address("127.0.0.1", b2.port, metadata={"zone": "west"}),
            ]
        ),
        target="zoned",
    )
    calls = 60 if QUICK else 200
    print("3. zones: backend-0 and backend-1 in 'east' (the client's zone), backend-2 in 'west'")
    async with fgrpc.Channel(resolution, zone="east", timeout=2.0) as channel:
        served, _ = await load(channel, calls)
        print(f"   healthy east: {dict(sorted(served.items()))}")
        b0.set(error_code=grpc.StatusCode.UNAVAILABLE)
        b1.set(error_code=grpc.StatusCode.UNAVAILABLE)
        await load(channel, calls)  # the east backends get ejected
        served, _ = await load(channel, calls)
        print(f"   east broken:  {dict(sorted(served.items()))} (all calls succeeded)")
    await resolution.aclose()


async def run() -> None:
    with FaultCluster(3) as cluster:
        await slow_replica(cluster)
        cluster.reset_counters()
        await broken_replica(cluster)
        for b in cluster.backends:
            b.reset()
        cluster.reset_counters()
        await zones(cluster)


def main() -> None:
    """Run the three scenes and print what the balancer did."""
    asyncio.run(run())


if __name__ == "__main__":
    main()
