"""Tests of ``finpy.endpoint``: load accounting, status and draining of one endpoint."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable

import pytest

from finpy import Address, Endpoint, Service, ServiceClosedError, Status

ADDR = Address("10.0.0.1", 1)


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


class Gate(Service[str, object]):
    """A transport whose calls wait until released; records closes and its own status."""

    def __init__(self) -> None:
        self.gates: list[asyncio.Future[object]] = []
        self.closed = 0
        self.health = Status.OPEN

    async def __call__(self, request: str, /) -> object:
        fut: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        self.gates.append(fut)
        return await fut

    def release(self, value: object = "ok") -> None:
        self.gates.pop(0).set_result(value)

    def fail(self, exc: BaseException) -> None:
        self.gates.pop(0).set_exception(exc)

    async def aclose(self) -> None:
        self.closed += 1

    @property
    def status(self) -> Status:
        return self.health


class Stream:
    """A response that stays in flight until finish() (like a gRPC stream)."""

    def __init__(self) -> None:
        self.callbacks: list[Callable[[], None]] = []

    def finpy_on_complete(self, callback: Callable[[], None]) -> None:
        self.callbacks.append(callback)

    def finish(self) -> None:
        for cb in self.callbacks:
            cb()


async def test_pending_counts_requests_in_flight() -> None:
    """pending rises while a request is in flight and falls when it returns."""
    gate = Gate()
    ep: Endpoint[str, object] = Endpoint(ADDR, gate)
    calls = [asyncio.create_task(ep("a")), asyncio.create_task(ep("b"))]
    await settle()
    assert ep.pending == 2
    gate.release("r1")
    await settle()
    assert ep.pending == 1
    gate.release("r2")
    assert await asyncio.gather(*calls) == ["r1", "r2"]
    assert ep.pending == 0


async def test_pending_is_released_when_the_call_fails() -> None:
    """A failing request releases its slot and the failure reaches the caller unchanged."""
    gate = Gate()
    ep: Endpoint[str, object] = Endpoint(ADDR, gate)
    call = asyncio.create_task(ep("a"))
    await settle()
    gate.fail(ConnectionResetError("reset"))
    with pytest.raises(ConnectionResetError):
        await call
    assert ep.pending == 0


async def test_pending_is_released_when_the_call_is_cancelled() -> None:
    """Cancelling the caller releases the endpoint slot."""
    ep: Endpoint[str, object] = Endpoint(ADDR, Gate())
    call = asyncio.create_task(ep("a"))
    await settle()
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert ep.pending == 0


async def test_streaming_response_stays_pending_until_complete() -> None:
    """A response with finpy_on_complete counts as in flight until it reports completion."""
    gate = Gate()
    ep: Endpoint[str, object] = Endpoint(ADDR, gate)
    stream = Stream()
    call = asyncio.create_task(ep("a"))
    await settle()
    gate.release(stream)
    assert await call is stream
    assert ep.pending == 1
    assert len(stream.callbacks) == 1
    stream.finish()
    assert ep.pending == 0


async def test_status_follows_service_then_draining_then_closed() -> None:
    """Status is the transport's while live, BUSY while draining, CLOSED once closed."""
    gate = Gate()
    ep: Endpoint[str, object] = Endpoint(ADDR, gate)
    seen = [ep.status]
    gate.health = Status.BUSY
    seen.append(ep.status)
    gate.health = Status.OPEN
    call = asyncio.create_task(ep("a"))
    await settle()
    drain = asyncio.create_task(ep.drain(timeout=None))
    await settle()
    seen.append(ep.status)
    assert ep.draining
    gate.release()
    await call
    await drain
    seen.append(ep.status)
    assert seen == [Status.OPEN, Status.BUSY, Status.BUSY, Status.CLOSED]


async def test_drain_waits_for_in_flight_requests_then_closes() -> None:
    """drain() lets every in-flight request (and open stream) finish before closing the transport."""
    gate = Gate()
    ep: Endpoint[str, object] = Endpoint(ADDR, gate)
    stream = Stream()
    streaming = asyncio.create_task(ep("stream"))
    unary = asyncio.create_task(ep("unary"))
    await settle()
    gate.release(stream)  # calls are answered in order: the first one gets the stream
    assert await streaming is stream
    drain = asyncio.create_task(ep.drain(timeout=None))
    await settle()
    assert gate.closed == 0
    gate.release("done")
    assert await unary == "done"
    await settle()
    assert gate.closed == 0  # the stream is still open
    stream.finish()
    await asyncio.wait_for(drain, 5)
    assert gate.closed == 1
    assert ep.status is Status.CLOSED


async def test_drain_of_idle_endpoint_closes_at_once() -> None:
    """An endpoint with nothing in flight closes as soon as it is drained."""
    gate = Gate()
    ep: Endpoint[str, object] = Endpoint(ADDR, gate)
    await asyncio.wait_for(ep.drain(timeout=None), 5)
    assert gate.closed == 1


@pytest.mark.looptime
async def test_drain_timeout_bounds_the_wait() -> None:
    """drain(timeout) closes the transport after timeout even if requests are still in flight."""
    gate = Gate()
    ep: Endpoint[str, object] = Endpoint(ADDR, gate)
    call = asyncio.create_task(ep("stuck"))
    await settle()
    loop = asyncio.get_running_loop()
    start = loop.time()
    await ep.drain(timeout=30)
    assert loop.time() - start == pytest.approx(30)
    assert gate.closed == 1
    gate.release()
    await call
    assert ep.pending == 0


async def test_closed_endpoint_refuses_requests_without_sending() -> None:
    """A closed endpoint raises ServiceClosedError (request_sent False) and does not call the transport."""
    gate = Gate()
    ep: Endpoint[str, object] = Endpoint(ADDR, gate)
    await ep.aclose()
    await ep.aclose()
    assert gate.closed == 1
    with pytest.raises(ServiceClosedError, match=re.escape("10.0.0.1:1")) as info:
        await ep("a")
    assert info.value.request_sent is False
    assert gate.gates == []
    assert ep.pending == 0


async def test_wait_idle_returns_when_last_request_finishes() -> None:
    """wait_idle() waits for pending to reach zero, across several requests."""
    gate = Gate()
    ep: Endpoint[str, object] = Endpoint(ADDR, gate)
    calls = [asyncio.create_task(ep("a")), asyncio.create_task(ep("b"))]
    await settle()
    idle = asyncio.create_task(ep.wait_idle())
    await settle()
    gate.release()
    await settle()
    assert not idle.done()
    gate.release()
    await asyncio.wait_for(idle, 5)
    await asyncio.gather(*calls)


def test_update_address_takes_new_weight_but_not_another_endpoint() -> None:
    """update_address accepts new weight/metadata for the same host:port and refuses another."""
    ep: Endpoint[str, object] = Endpoint(ADDR, Gate())
    ep.update_address(Address("10.0.0.1", 1, 3.0, {"zone": "z"}))
    assert ep.address.weight == 3.0 and ep.address.zone == "z"
    with pytest.raises(ValueError, match=re.escape("10.0.0.2:1")):
        ep.update_address(Address("10.0.0.2", 1))


def test_repr_shows_address_load_and_state() -> None:
    """The repr shows the address, pending count and state."""
    ep: Endpoint[str, object] = Endpoint(ADDR, Gate())
    assert repr(ep) == "Endpoint(10.0.0.1:1, pending=0, open)"


async def test_a_stream_that_reports_its_end_twice_releases_its_slot_once() -> None:
    """A completion callback fired twice releases the endpoint's in-flight slot only once."""
    callbacks: list[Callable[[], None]] = []

    class Stream:
        def finpy_on_complete(self, callback: Callable[[], None]) -> None:
            callbacks.append(callback)

    class StreamService(Service[str, object]):
        async def __call__(self, request: str, /) -> object:
            return Stream()

    ep: Endpoint[str, object] = Endpoint(Address("127.0.0.1", 1), StreamService())
    await ep("a")
    await ep("b")
    assert ep.pending == 2
    callbacks[0]()
    callbacks[0]()
    assert ep.pending == 1
