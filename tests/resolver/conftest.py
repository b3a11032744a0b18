"""Shared helpers of the resolver tests: real discovery servers, gRPC backends, traffic."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import grpc
import grpc.aio
import pytest

from finpy.testing.servers.fixtures import (  # noqa: F401  (fixtures)
    _finpy_dnsmasq_session,
    _finpy_etcd_session,
    _finpy_zookeeper_session,
    consul_fake,
    dnsmasq_server,
    etcd_server,
    kubernetes_fake,
    zookeeper_server,
)
from finpy_protocols.grpc import Channel

METHOD = "/finpy.test.Who/Am"


@dataclass
class Backend:
    """One gRPC server on 127.0.0.1 that answers ``METHOD`` with its name."""

    name: str
    port: int
    server: grpc.aio.Server
    calls: int = 0

    host: str = "127.0.0.1"

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass
class Backends:
    items: list[Backend] = field(default_factory=list)

    def __getitem__(self, i: int) -> Backend:
        return self.items[i]

    def by_name(self) -> dict[str, Backend]:
        return {b.name: b for b in self.items}


async def start_backend(name: str, host: str = "127.0.0.1", port: int = 0) -> Backend:
    """Start a backend on ``host:port`` (0: a free port)."""
    server = grpc.aio.server()
    backend = Backend(name, 0, server, host=host)

    async def who(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
        backend.calls += 1
        return name.encode()

    handler = grpc.method_handlers_generic_handler(
        "finpy.test.Who", {"Am": grpc.unary_unary_rpc_method_handler(who)}
    )
    server.add_generic_rpc_handlers((handler,))
    backend.port = server.add_insecure_port(f"{host}:{port}")
    await server.start()
    return backend


@pytest.fixture
async def backends() -> AsyncIterator[Backends]:
    """Three real gRPC backends on 127.0.0.1 named b0..b2."""
    bs = Backends([await start_backend(f"b{i}") for i in range(3)])
    yield bs
    await asyncio.gather(*(b.server.stop(None) for b in bs.items))


async def call(channel: Channel, timeout: float = 2.0) -> str:
    """One call through the finpy channel; the name of the backend that answered."""
    rpc = channel.unary_unary(METHOD)
    reply: bytes = await rpc(b"", timeout=timeout)
    return reply.decode()


@dataclass
class Traffic:
    """Calls made in a loop while a test breaks discovery."""

    ok: int = 0
    failed: list[BaseException] = field(default_factory=list)
    served_by: set[str] = field(default_factory=set)


async def run_traffic(channel: Channel, stop: asyncio.Event, traffic: Traffic) -> None:
    """Call the channel back to back (with a tiny pause) until ``stop`` is set."""
    while not stop.is_set():
        try:
            traffic.served_by.add(await call(channel))
            traffic.ok += 1
        except Exception as e:
            traffic.failed.append(e)
        await asyncio.sleep(0.01)


async def eventually(
    predicate: Callable[[], bool], timeout: float = 20.0, what: str = "condition"
) -> None:
    """Poll ``predicate`` (bounded) until it holds; fail the test naming ``what``."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.05)


def bound_to(expected: set[str]) -> Callable[[object], bool]:
    """A predicate: the state is Bound to exactly these ``host:port`` authorities."""
    from finpy.resolver.state import Bound

    def check(state: object) -> bool:
        return isinstance(state, Bound) and {a.authority for a in state.addresses} == expected

    return check
