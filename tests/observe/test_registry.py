"""Tests of ``finpy.observe.registry``: live clients, held weakly."""

from __future__ import annotations

import gc
from typing import Any

from finpy import Address, Client, Params, Service
from finpy.observe import live_clients


class Ok(Service[Any, Any]):
    async def __call__(self, request: Any, /) -> Any:
        return "ok"


def transports(address: Address, params: Params) -> Service[Any, Any]:
    return Ok()


async def test_clients_register_and_leave_when_closed() -> None:
    """A new client is live at once; closing it takes it out of the registry."""
    c: Client[Any, Any] = Client("static:///10.0.0.1:1", transports)
    assert c in live_clients()
    await c.aclose()
    assert c not in live_clients()


def test_registry_does_not_keep_clients_alive() -> None:
    """A client nobody references is collected and disappears from the registry."""
    c: Client[Any, Any] = Client("static:///10.0.0.1:1", transports)
    key = id(c)
    del c
    gc.collect()
    assert all(id(x) != key for x in live_clients())


def test_clients_are_listed_oldest_first() -> None:
    """live_clients() lists clients in the order they were made."""
    a: Client[Any, Any] = Client("static:///10.0.0.1:1", transports)
    b: Client[Any, Any] = Client("static:///10.0.0.1:2", transports)
    live = live_clients()
    assert live.index(a) < live.index(b)
