"""The fault-injection filter: matching, probability with a seed, delays on virtual time."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import grpc
import grpc.aio
import pytest

import finpy
from finpy.testing.faults import Fault, FaultInjectionFilter, fault_injection_stack
from finpy_protocols.grpc import Channel
from finpy_protocols.grpc.testing import abort


@dataclass
class Req:
    method: str


class Ok(finpy.Service[Req, str]):
    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, request: Req, /) -> str:
        self.calls += 1
        return "ok"


class Boom(Exception):
    pass


async def _outcomes(filt: FaultInjectionFilter[Req, str], n: int) -> list[bool]:
    svc = filt.and_then(Ok())
    out = []
    for _ in range(n):
        try:
            await svc(Req("/pkg.Svc/Get"))
            out.append(True)
        except Boom:
            out.append(False)
    return out


async def test_seeded_faults_hit_the_same_requests_every_run() -> None:
    """Two filters with the same seed fail exactly the same requests of a sequence."""
    faults = [Fault(error=Boom, probability=0.3)]
    first = await _outcomes(FaultInjectionFilter(faults, seed=42), 200)
    second = await _outcomes(FaultInjectionFilter(faults, seed=42), 200)
    assert first == second
    assert 30 < first.count(False) < 90  # about 30% of 200
    other = await _outcomes(FaultInjectionFilter(faults, seed=43), 200)
    assert other != first


async def test_faults_match_by_method_and_endpoint_glob() -> None:
    """Only requests whose method and endpoint match the globs are hit."""
    ok = Ok()
    filt = FaultInjectionFilter(
        [Fault(method="/pkg.Svc/Get*", endpoint="10.0.0.7:*", error=Boom("x"))],
        endpoint=finpy.Address("10.0.0.7", 80),
    )
    svc = filt.and_then(ok)
    with pytest.raises(Boom):
        await svc(Req("/pkg.Svc/GetUser"))
    assert await svc(Req("/pkg.Svc/Put")) == "ok"
    elsewhere = FaultInjectionFilter(
        [Fault(endpoint="10.0.0.7:*", error=Boom("x"))], endpoint="10.0.0.8:80"
    ).and_then(ok)
    assert await elsewhere(Req("/pkg.Svc/GetUser")) == "ok"
    assert filt.statistics().failed == 1 and filt.statistics().requests == 2


async def test_delay_waits_on_the_clock_before_sending() -> None:
    """A delay fault holds the request until the (virtual) clock has moved by the delay."""
    clock = finpy.ManualClock()
    ok = Ok()
    svc = FaultInjectionFilter([Fault(delay=0.5)], clock=clock).and_then(ok)
    task = asyncio.ensure_future(svc(Req("/m/x")))
    await asyncio.sleep(0)
    clock.advance(0.4)
    await asyncio.sleep(0)
    assert not task.done() and ok.calls == 0
    clock.advance(0.1)
    assert await task == "ok" and ok.calls == 1


@pytest.mark.parametrize(
    ("kwargs", "bad"),
    [
        ({"probability": 1.5, "error": Boom}, "1.5"),
        ({"delay": -1.0}, "-1.0"),
        ({"method": ""}, "''"),
        ({"error": 42}, "42"),
        ({}, "do nothing"),
    ],
)
def test_bad_fault_values_are_rejected_naming_the_value(
    kwargs: dict[str, object], bad: str
) -> None:
    """Invalid Fault settings raise ConfigurationError naming the offending value."""
    with pytest.raises(finpy.ConfigurationError, match=bad.replace("(", r"\(")):
        Fault(**kwargs)  # type: ignore[arg-type]


def test_abort_rejects_unknown_status_names() -> None:
    """abort() names a status that does not exist."""
    with pytest.raises(finpy.ConfigurationError, match="NOPE"):
        abort("NOPE")


async def _spread(cluster, code: str, calls: int = 60) -> dict[str, int]:  # type: ignore[no-untyped-def]
    from finpy.testing.echo import EchoRequest, EchoStub

    stack = fault_injection_stack(
        [Fault(endpoint=cluster.backend(0).address, error=abort(code, "injected"))], seed=1
    )
    outcomes: dict[str, int] = {}
    async with Channel(cluster.target, timeout=5, endpoint_stack=stack) as channel:
        stub = EchoStub(channel)
        for _ in range(calls):
            try:
                reply = await stub.Echo(EchoRequest(message="x"))
                outcomes[reply.server] = outcomes.get(reply.server, 0) + 1
            except grpc.aio.AioRpcError as e:
                assert e.details() == "injected"
                outcomes[e.code().name] = outcomes.get(e.code().name, 0) + 1
    return outcomes


async def test_injected_grpc_abort_looks_like_a_server_failure(finpy_cluster) -> None:  # type: ignore[no-untyped-def]
    """An injected non-retryable abort reaches the caller with its code; nothing is sent."""
    outcomes = await _spread(finpy_cluster, "FAILED_PRECONDITION")
    assert outcomes.get("FAILED_PRECONDITION", 0) > 0
    assert finpy_cluster.backend(0).name not in outcomes
    assert finpy_cluster.backend(0).statistics().attempts == 0


async def test_injected_unavailable_is_retried_like_a_server_one(finpy_cluster) -> None:  # type: ignore[no-untyped-def]
    """An injected UNAVAILABLE is retried on another endpoint, as a server's would be."""
    outcomes = await _spread(finpy_cluster, "UNAVAILABLE")
    assert "UNAVAILABLE" not in outcomes
    assert sum(outcomes.values()) == 60
    assert finpy_cluster.backend(0).statistics().attempts == 0
