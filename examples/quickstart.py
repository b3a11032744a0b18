"""Quickstart: a generated gRPC stub, load-balanced by finpy over 3 local servers."""

from __future__ import annotations

import asyncio
from collections import Counter

import finpy
from finpy.testing import FaultCluster
from finpy.testing.echo import EchoRequest, EchoStub
from finpy_protocols import grpc as fgrpc


async def run(target: str, calls: int = 9) -> Counter[str]:
    """Make ``calls`` Echo calls through finpy and count which server answered."""
    echo = fgrpc.client(
        EchoStub, target, timeout=1.0, methods={"Echo": finpy.MethodConfig(idempotent=True)}
    )
    answered: Counter[str] = Counter()
    try:
        for i in range(calls):
            reply = await echo.Echo(EchoRequest(message=f"hello {i}"), timeout=0.5)
            answered[reply.server] += 1
    finally:
        await fgrpc.aclose(echo)
    return answered


def main() -> None:
    with FaultCluster(3) as cluster:  # three real gRPC servers on 127.0.0.1
        answered = asyncio.run(run(cluster.target))
    for server, count in sorted(answered.items()):
        print(f"{server}: {count} calls")


if __name__ == "__main__":
    main()
