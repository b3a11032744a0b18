"""Tests of ``finpy.observe.dump``: the text snapshot of every live client."""

from __future__ import annotations

import io
from typing import Any

from finpy import Address, Client, ClockParam, ManualClock, MethodConfig, Params, Service
from finpy.client import Label
from finpy.observe import client_snapshot, dump, format_snapshot
from finpy.resolver import Failed


class Request:
    method = "/demo.Users/GetUser"
    metadata = None
    method_config = MethodConfig()


class Ok(Service[Any, Any]):
    async def __call__(self, request: Any, /) -> Any:
        return "ok"


def transports(address: Address, params: Params) -> Service[Any, Any]:
    return Ok()


async def test_snapshot_text_shows_endpoints_budget_and_discovery() -> None:
    """The dump names the client, its discovery state, budget and each endpoint with its load."""
    clock = ManualClock()
    c: Client[Any, Any] = Client(
        "static:///10.0.0.1:1,10.0.0.2:2",
        transports,
        params=Params(Label("users"), ClockParam(clock)),
    )
    await c(Request())
    text = format_snapshot([client_snapshot(c)])
    lines = text.splitlines()
    assert lines[0] == "finpy: 1 live client"
    assert lines[1] == "client 'users' (open): static:///10.0.0.1:1,10.0.0.2:2, 1 request"
    assert lines[2].split() == [
        "discovery",
        "Bound,",
        "2",
        "addresses,",
        "healthy,",
        "last",
        "good",
        "update",
        "0.0",
        "s",
        "ago",
    ]
    assert "budget balance 100;" in lines[3]
    assert lines[5].split() == ["endpoint", "status", "load", "estimate", "breaker", "ejections"]
    rows = sorted(line.split() for line in lines[6:])
    assert [r[0] for r in rows] == ["10.0.0.1:1", "10.0.0.2:2"]
    assert all(r[1] == "open" and r[2] == "0" and r[4] == "alive" for r in rows)
    resolution: Any = c.resolution
    resolution.source.publish(Failed(OSError("registry unreachable")))
    clock.advance(12.5)
    stale = format_snapshot([client_snapshot(c)])
    assert "STALE for 12.5 s" in stale
    assert "last error: OSError: registry unreachable" in stale
    await c.aclose()


async def test_dump_prints_every_live_client_and_skips_closed_ones() -> None:
    """dump() writes the live clients (a client not started yet says so); closed ones vanish."""
    started: Client[Any, Any] = Client(
        "static:///10.0.0.1:1", transports, params=Params(Label("a-started"))
    )
    idle: Client[Any, Any] = Client(
        "static:///10.0.0.1:1", transports, params=Params(Label("b-idle"))
    )
    await started(Request())
    out = io.StringIO()
    dump(out)
    text = out.getvalue()
    assert "client 'a-started' (open)" in text
    assert "client 'b-idle' (open)" in text
    assert "not started (resolves at its first request)" in text
    await started.aclose()
    await idle.aclose()
    out = io.StringIO()
    dump(out)
    assert "a-started" not in out.getvalue() and "b-idle" not in out.getvalue()
