"""Fault cluster: three real local gRPC backends, one of them made to fail.

Plain ``grpc.aio`` with gRPC's own ``round_robin`` balancing calls over the cluster: once
backend-1 fails every call, about a third of the calls fail, because nothing in plain
gRPC steers around a bad replica. (finpy's client does: see ``examples/quickstart.py``.)

Run it with ``python examples/fault_cluster.py``.
"""

from __future__ import annotations

import asyncio

import grpc
import grpc.aio

from finpy.testing import FaultCluster
from finpy.testing.echo import EchoRequest, EchoStub


async def call(target: str, calls: int) -> int:
    """Make ``calls`` Echo calls with round_robin over ``target``; return how many failed."""
    failed = 0
    options = [("grpc.lb_policy_name", "round_robin")]
    async with grpc.aio.insecure_channel(target, options=options) as channel:
        await asyncio.wait_for(channel.channel_ready(), timeout=5)
        stub = EchoStub(channel)
        for i in range(calls):
            try:
                await stub.Echo(EchoRequest(message=f"call {i}"), timeout=1.0)
            except grpc.aio.AioRpcError:
                failed += 1
    return failed


def main() -> None:
    """Start 3 backends, call them, break one, call again, print attempts per backend."""
    with FaultCluster(3) as cluster:
        target = "ipv4:" + ",".join(cluster.addresses)  # gRPC's own multi-address target
        failed = asyncio.run(call(target, 30))
        print(f"healthy cluster: {failed} of 30 calls failed")

        cluster.reset_counters()
        cluster.backend(1).set(error_code=grpc.StatusCode.UNAVAILABLE, error_details="broken")
        failed = asyncio.run(call(target, 30))
        print(f"backend-1 failing: {failed} of 30 calls failed")
        for stats in cluster.statistics().backends:
            print(
                f"  {stats.name} ({stats.address}): {stats.attempts} attempts, {stats.failed} failed"
            )


if __name__ == "__main__":
    main()
