"""Tests of ``finpy.endpoint_set``: following discovery with live, drained endpoints."""

from __future__ import annotations

import asyncio
import logging
import random

import pytest

from finpy import (
    Address,
    DeadlineExceededError,
    EndpointSet,
    NoEndpointsError,
    ResolutionError,
    RoundRobin,
    Service,
    ServiceClosedError,
    Status,
    deadline_after,
)
from finpy.resolver import Bound, Failed, Negative, Pending, Resolution

A = Address("10.0.0.1", 1)
B = Address("10.0.0.2", 2)
C = Address("10.0.0.3", 3)


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


class Backend(Service[str, str]):
    """An in-memory transport to one address; answers with its address unless held."""

    def __init__(self, address: Address) -> None:
        self.address = address
        self.closed = 0
        self.closed_event = asyncio.Event()
        self.hold: asyncio.Event | None = None
        self.requests: list[str] = []

    async def __call__(self, request: str, /) -> str:
        self.requests.append(request)
        if self.hold is not None:
            await self.hold.wait()
        return str(self.address)

    async def aclose(self) -> None:
        self.closed += 1
        self.closed_event.set()


class Transports:
    """make_endpoint for the set: builds (and remembers) one Backend per address."""

    def __init__(self, fail_for: set[Address] | None = None) -> None:
        self.made: list[Backend] = []
        self.fail_for = fail_for or set()

    def __call__(self, address: Address) -> Service[str, str]:
        if address in self.fail_for:
            raise OSError(f"cannot build {address}")
        backend = Backend(address)
        self.made.append(backend)
        return backend

    def of(self, address: Address) -> list[Backend]:
        return [b for b in self.made if b.address.key == address.key]


def make_set(
    res: Resolution, transports: Transports | None = None, *, drain_timeout: float | None = 30.0
) -> tuple[EndpointSet[str, str], Transports]:
    t = transports or Transports()
    eps: EndpointSet[str, str] = EndpointSet(
        res, t, RoundRobin(rng=random.Random(0)), drain_timeout=drain_timeout
    )
    return eps, t


async def test_bound_addresses_become_endpoints() -> None:
    """Each bound address gets one endpoint and requests reach all of them."""
    eps, t = make_set(Resolution(Bound([A, B])))
    assert sorted(e.address.key for e in eps.endpoints) == [A.key, B.key]
    answers = {await eps("x") for _ in range(4)}
    assert answers == {"10.0.0.1:1", "10.0.0.2:2"}
    assert len(t.made) == 2
    await eps.aclose()


async def test_added_address_is_used_at_once() -> None:
    """An address that appears in a new Bound state is picked by the next requests."""
    res = Resolution(Bound([A]))
    eps, _ = make_set(res)
    res.publish(Bound([A, B]))
    answers = {await eps("x") for _ in range(2)}  # round-robin: both in two picks
    assert answers == {"10.0.0.1:1", "10.0.0.2:2"}
    assert eps.statistics().added == 2
    await eps.aclose()


async def test_removed_endpoint_drains_in_flight_then_closes() -> None:
    """A removed address takes no new requests; its in-flight request completes, then it closes."""
    res = Resolution(Bound([A]))
    eps, t = make_set(res)
    (backend_a,) = t.made
    backend_a.hold = asyncio.Event()
    in_flight = asyncio.create_task(eps("slow"))
    await settle()
    res.publish(Bound([B]))
    await settle()
    assert [e.address.key for e in eps.endpoints] == [B.key]
    stats = eps.statistics()
    assert (stats.draining, stats.removed, stats.pending_requests) == (1, 1, 1)
    assert backend_a.closed == 0
    assert await eps("new") == "10.0.0.2:2"  # new requests go to B only
    assert backend_a.requests == ["slow"]
    backend_a.hold.set()
    assert await in_flight == "10.0.0.1:1"  # the in-flight request completes normally
    await settle()
    assert backend_a.closed == 1
    assert eps.statistics().draining == 0
    await eps.aclose()


@pytest.mark.looptime
async def test_drain_timeout_closes_a_stuck_endpoint() -> None:
    """A removed endpoint whose request never finishes is closed after drain_timeout."""
    res = Resolution(Bound([A]))
    eps, t = make_set(res, drain_timeout=5.0)
    (backend_a,) = t.made
    backend_a.hold = asyncio.Event()
    stuck = asyncio.create_task(eps("stuck"))
    await settle()
    loop = asyncio.get_running_loop()
    start = loop.time()
    res.publish(Bound([B]))
    await backend_a.closed_event.wait()
    assert loop.time() - start == pytest.approx(5.0)
    backend_a.hold.set()
    await stuck
    await eps.aclose()


async def test_staying_address_keeps_its_endpoint_and_takes_new_weight() -> None:
    """An address that stays keeps its Endpoint (and load); new weight/metadata are applied."""
    res = Resolution(Bound([A, B]))
    eps, t = make_set(res)
    before = {e.address.key: e for e in eps.endpoints}
    res.publish(Bound([Address("10.0.0.1", 1, 5.0, {"zone": "z"}), C]))
    after = {e.address.key: e for e in eps.endpoints}
    assert after[A.key] is before[A.key]
    assert after[A.key].address.weight == 5.0
    assert after[A.key].address.zone == "z"
    assert len(t.of(A)) == 1  # no second transport for A
    stats = eps.statistics()
    assert (stats.added, stats.removed, stats.updates) == (3, 1, 2)
    await eps.aclose()


async def test_duplicate_addresses_share_one_endpoint() -> None:
    """The same host:port twice in one update gives one endpoint."""
    eps, t = make_set(Resolution(Bound([A, Address("10.0.0.1", 1, 2.0)])))
    assert len(eps.endpoints) == 1
    assert len(t.made) == 1
    await eps.aclose()


@pytest.mark.parametrize("state", [Failed(OSError("dns down")), Pending()])
async def test_failed_or_pending_after_bound_keeps_the_set(state: Failed | Pending) -> None:
    """A discovery failure (or Pending) after a binding keeps serving the last bound set."""
    res = Resolution(Bound([A, B]))
    eps, t = make_set(res)
    before = eps.endpoints
    res.publish(state)
    assert eps.endpoints == before
    assert await eps("x") in {"10.0.0.1:1", "10.0.0.2:2"}
    assert all(b.closed == 0 for b in t.made)
    assert eps.statistics().last_state == type(state).__name__
    await eps.aclose()


async def test_negative_empties_the_set() -> None:
    """Negative (the name does not exist) drains every endpoint; requests get NoEndpointsError."""
    res = Resolution(Bound([A, B]))
    eps, t = make_set(res)
    res.publish(Negative("no such service"))
    await settle()
    assert eps.endpoints == ()
    assert all(b.closed == 1 for b in t.made)
    with pytest.raises(NoEndpointsError) as info:
        await eps("x")
    assert info.value.request_sent is False
    assert eps.status is Status.BUSY
    await eps.aclose()


async def test_first_request_waits_for_the_first_binding() -> None:
    """Before any binding, a request waits (BUSY set) and is served once addresses arrive."""
    res = Resolution(Pending())
    eps, _ = make_set(res)
    statuses = [eps.status]
    call = asyncio.create_task(eps("x"))
    await settle()
    assert not call.done()
    res.publish(Bound([A]))
    assert await asyncio.wait_for(call, 5) == "10.0.0.1:1"
    statuses.append(eps.status)
    assert statuses == [Status.BUSY, Status.OPEN]
    await eps.aclose()


@pytest.mark.looptime
async def test_wait_for_binding_is_bounded_by_the_deadline() -> None:
    """A request waiting for the first binding fails with DeadlineExceededError at its deadline."""
    eps, _ = make_set(Resolution(Pending(), target="dns:///slow"))
    loop = asyncio.get_running_loop()
    start = loop.time()
    with pytest.raises(DeadlineExceededError, match="dns:///slow") as info, deadline_after(0.5):
        await eps("x")
    assert loop.time() - start == pytest.approx(0.5)
    assert info.value.request_sent is False
    assert eps._bound_waiters == set()
    await eps.aclose()


async def test_expired_deadline_fails_at_once_while_unbound() -> None:
    """A request whose deadline has already passed does not wait for the binding."""
    eps, _ = make_set(Resolution(Pending()))
    with pytest.raises(DeadlineExceededError), deadline_after(0):
        await asyncio.wait_for(eps("x"), 5)
    await eps.aclose()


async def test_failed_before_binding_raises_resolution_error() -> None:
    """If discovery has failed and nothing was ever bound, requests fail fast with ResolutionError."""
    err = OSError("NXDOMAIN?")
    eps, _ = make_set(Resolution(Failed(err), target="dns:///users"))
    with pytest.raises(ResolutionError, match="dns:///users") as info:
        await eps("x")
    assert info.value.__cause__ is err
    assert info.value.request_sent is False
    await eps.aclose()


async def test_waiting_request_fails_when_discovery_fails() -> None:
    """A request waiting for the first binding gets ResolutionError when Failed is published."""
    res = Resolution(Pending())
    eps, _ = make_set(res)
    call = asyncio.create_task(eps("x"))
    await settle()
    res.publish(Failed(OSError("down")))
    with pytest.raises(ResolutionError):
        await asyncio.wait_for(call, 5)
    await eps.aclose()


async def test_aclose_closes_live_and_draining_endpoints() -> None:
    """aclose closes every transport (draining ones too), stops following and empties the balancer."""
    res = Resolution(Bound([A]))
    eps, t = make_set(res)
    (backend_a,) = t.made
    backend_a.hold = asyncio.Event()
    in_flight = asyncio.create_task(eps("slow"))
    await settle()
    res.publish(Bound([B]))
    await settle()
    await eps.aclose()
    assert [b.closed for b in t.made] == [1, 1]
    assert eps.status is Status.CLOSED
    assert eps.balancer.endpoints == ()
    res.publish(Bound([C]))  # no longer followed
    assert len(t.made) == 2
    backend_a.hold.set()
    await in_flight
    await eps.aclose()  # idempotent
    assert [b.closed for b in t.made] == [1, 1]


async def test_requests_after_aclose_raise_service_closed() -> None:
    """A closed set refuses requests with ServiceClosedError (not 'no endpoints')."""
    eps, t = make_set(Resolution(Bound([A])))
    await eps.aclose()
    with pytest.raises(ServiceClosedError):
        await eps("x")
    assert t.made[0].requests == []


async def test_aclose_fails_requests_waiting_for_binding() -> None:
    """Requests waiting for the first binding end with ServiceClosedError when the set closes."""
    eps, _ = make_set(Resolution(Pending()))
    call = asyncio.create_task(eps("x"))
    await settle()
    await eps.aclose()
    with pytest.raises(ServiceClosedError):
        await asyncio.wait_for(call, 5)


async def test_endpoint_that_cannot_be_built_is_skipped(caplog: pytest.LogCaptureFixture) -> None:
    """If make_endpoint fails for one address it is logged and skipped; the others serve."""
    with caplog.at_level(logging.ERROR, logger="finpy.endpoints"):
        eps, _ = make_set(Resolution(Bound([A, B])), Transports(fail_for={A}))
    assert [e.address.key for e in eps.endpoints] == [B.key]
    assert "10.0.0.1:1" in caplog.text
    assert await eps("x") == "10.0.0.2:2"
    await eps.aclose()


async def test_wait_idle_covers_draining_endpoints() -> None:
    """wait_idle waits for requests in flight on live and draining endpoints."""
    res = Resolution(Bound([A]))
    eps, t = make_set(res, drain_timeout=None)
    t.made[0].hold = asyncio.Event()
    call = asyncio.create_task(eps("x"))
    await settle()
    res.publish(Bound([B]))
    idle = asyncio.create_task(eps.wait_idle())
    await settle()
    assert not idle.done()
    t.made[0].hold.set()
    await asyncio.wait_for(idle, 5)
    await call
    await eps.aclose()


async def test_statistics_and_repr() -> None:
    """statistics() snapshots the set; repr names the target and counts."""
    res = Resolution(Bound([A, B]), target="static:///a,b")
    eps, _ = make_set(res)
    s = eps.statistics()
    assert (s.endpoints, s.open, s.busy, s.draining, s.pending_requests) == (2, 2, 0, 0, 0)
    assert (s.updates, s.added, s.removed, s.last_state) == (1, 2, 0, "Bound")
    assert repr(eps) == "EndpointSet('static:///a,b', endpoints=2, open=2, draining=0)"
    await eps.aclose()
