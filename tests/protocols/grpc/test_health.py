"""Active health checks (``grpc.health.v1``) of each endpoint of a gRPC Channel."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import grpc
import grpc.aio
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio  # type: ignore[attr-defined]

from finpy import ConfigurationError, Endpoint
from finpy_protocols.grpc import Channel, HealthCheck
from finpy_protocols.grpc.health import HealthCheckedService

pytestmark = pytest.mark.timeout(60)

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


@dataclass
class Server:
    name: str
    address: str
    health: Any  # the aio HealthServicer, or None
    server: grpc.aio.Server


async def _serve(name: str, *, with_health: bool = True) -> Server:
    async def echo(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
        return name.encode()

    server = grpc.aio.server()
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                "t.Echo", {"Echo": grpc.unary_unary_rpc_method_handler(echo)}
            ),
        )
    )
    servicer = health_aio.HealthServicer() if with_health else None
    if servicer is not None:
        health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return Server(name, f"127.0.0.1:{port}", servicer, server)


@pytest.fixture
async def servers() -> AsyncIterator[list[Server]]:
    """Two servers with an Echo method and the standard health service."""
    made = [await _serve("s0"), await _serve("s1")]
    yield made
    for s in made:
        await s.server.stop(None)


async def _calls(channel: Channel, n: int) -> list[str]:
    echo = channel.unary_unary("/t.Echo/Echo")
    return [(await echo(b"x")).decode() for _ in range(n)]


def _checked(channel: Channel, address: str) -> HealthCheckedService[Any, Any]:
    eps = channel.client.endpoint_set
    assert eps is not None
    ep: Endpoint[Any, Any] = next(e for e in eps.endpoints if e.address.authority == address)
    svc: Any = ep.service
    while not isinstance(svc, HealthCheckedService):
        svc = svc.service
    return svc


async def _until(predicate: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Wait (bounded) until ``predicate()`` holds."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


@pytest.mark.parametrize("mode", ["watch", "check"])
async def test_not_serving_endpoint_gets_no_traffic_until_it_serves_again(
    servers: list[Server], mode: str
) -> None:
    """NOT_SERVING makes the endpoint BUSY (no requests); SERVING brings it back."""
    s0, s1 = servers
    target = f"static:///{s0.address},{s1.address}"
    cfg = HealthCheck(enabled=True, mode=mode, interval=0.05)  # type: ignore[arg-type]
    async with Channel(target, health_check=cfg, timeout=5.0) as channel:
        assert set(await _calls(channel, 30)) == {"s0", "s1"}
        checked = _checked(channel, s0.address)
        await _until(lambda: checked.checks > 0, "the first health answer")
        await s0.health.set("", NOT_SERVING)
        await _until(lambda: checked.status.value == "busy", "s0 to be marked unhealthy")
        assert set(await _calls(channel, 30)) == {"s1"}
        await s0.health.set("", SERVING)
        await _until(lambda: checked.status.value == "open", "s0 to be healthy again")
        echo = channel.unary_unary("/t.Echo/Echo")
        burst = await asyncio.gather(*(echo(b"x") for _ in range(60)))  # load spreads
        assert b"s0" in burst
        assert checked.transitions == 2


async def test_server_without_health_service_is_assumed_healthy(servers: list[Server]) -> None:
    """UNIMPLEMENTED: the endpoint stays OPEN and is not asked again."""
    plain = await _serve("plain", with_health=False)
    try:
        async with Channel(f"static:///{plain.address}", health_check=True) as channel:
            assert await _calls(channel, 3) == ["plain"] * 3
            checked = _checked(channel, plain.address)
            assert checked._task is not None
            await asyncio.wait_for(checked._task, 10)
            assert checked.healthy and checked.status.value == "open"
    finally:
        await plain.server.stop(None)


async def test_unknown_service_name_is_unhealthy(servers: list[Server]) -> None:
    """Asking about a service the server does not know marks the endpoint not serving."""
    s0, _ = servers
    cfg = HealthCheck(enabled=True, service="no.such.Service", mode="check", interval=0.05)
    async with Channel(f"static:///{s0.address}", health_check=cfg) as channel:
        await _calls(channel, 1)
        checked = _checked(channel, s0.address)
        await _until(lambda: not checked.healthy, "the check to fail")
        assert await _calls(channel, 2) == ["s0", "s0"]  # fail open: the only endpoint


async def test_health_checks_are_off_by_default(servers: list[Server]) -> None:
    """Without health_check=, no endpoint runs checks."""
    s0, _ = servers
    async with Channel(f"static:///{s0.address}") as channel:
        await _calls(channel, 2)
        eps = channel.client.endpoint_set
        assert eps is not None
        svc: Any = eps.endpoints[0].service
        while svc is not None:
            assert not isinstance(svc, HealthCheckedService)
            svc = getattr(svc, "service", None)


def test_settings() -> None:
    """HealthCheck.of accepts True, a service name or settings; bad values name themselves."""
    assert HealthCheck.of(True).enabled
    assert HealthCheck.of("users.Users").service == "users.Users"
    assert not HealthCheck.of(None).enabled and not HealthCheck.of(False).enabled
    with pytest.raises(ConfigurationError, match="'sometimes'"):
        HealthCheck(enabled=True, mode="sometimes")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="interval"):
        HealthCheck(enabled=True, interval=0)
    with pytest.raises(ConfigurationError, match="3"):
        HealthCheck.of(3)  # type: ignore[arg-type]
