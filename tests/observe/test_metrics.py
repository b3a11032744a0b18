"""Tests of ``finpy.observe.metrics``: what each instrument reports for real client stacks."""

from __future__ import annotations

import gc
from typing import Any

import grpc
import grpc.aio
import pytest

from finpy import (
    Address,
    Client,
    ClockParam,
    ManualClock,
    Params,
    RejectedError,
    Service,
    Status,
    Telemetry,
)
from finpy.accrual import FailureAccrual
from finpy.client import Label
from finpy.observe import metrics_for
from finpy.resolver import Failed
from finpy.retry.filter import Retries

METHOD = "/demo.Users/GetUser"


class Request:
    method = METHOD
    metadata = None

    def __init__(self) -> None:
        from finpy import MethodConfig

        self.method_config = MethodConfig()


class Transport(Service[Any, Any]):
    """An endpoint that answers 'ok', or raises ``fail`` when set; its status is settable."""

    def __init__(self) -> None:
        self.fail: BaseException | None = None
        self.state = Status.OPEN

    async def __call__(self, request: Any, /) -> Any:
        if self.fail is not None:
            raise self.fail
        return "ok"

    @property
    def status(self) -> Status:
        return self.state


class Transports:
    def __init__(self) -> None:
        self.by_port: dict[int, Transport] = {}

    def __call__(self, address: Address, params: Params) -> Transport:
        t = self.by_port[address.port] = Transport()
        return t


def make(otel: Any, transports: Transports, *extra: Any, clock: ManualClock) -> Client[Any, Any]:
    params = Params(
        Telemetry(tracer_provider=otel.tracer_provider, meter_provider=otel.meter_provider),
        Label("users"),
        ClockParam(clock),
        *extra,
    )
    return Client("static:///10.0.0.1:1,10.0.0.2:2", transports, params=params)


async def test_client_state_is_observed_at_collection(otel: Any) -> None:
    """Endpoints by state, budget balance and discovery are read from the live client."""
    clock = ManualClock()
    transports = Transports()
    c = make(otel, transports, FailureAccrual(enabled=False), clock=clock)
    for _ in range(5):
        await c(Request())
    transports.by_port[2].state = Status.BUSY
    label = {"finpy.client": "users"}
    assert otel.value("finpy.client.endpoints", **label, **{"finpy.endpoint.state": "open"}) == 1
    assert otel.value("finpy.client.endpoints", **label, **{"finpy.endpoint.state": "busy"}) == 1
    assert (
        otel.value("finpy.client.endpoints", **label, **{"finpy.endpoint.state": "draining"}) == 0
    )
    # 10 retries/s reserve over a 10 s window, plus 20% of the 5 requests made
    assert otel.value("finpy.client.retry_budget.balance", **label) == 101
    assert otel.value("finpy.client.retry_budget.exhausted", **label) == 0
    assert otel.value("finpy.client.retries", **{"finpy.retry.kind": "retry"}) == 0
    assert otel.value("finpy.resolver.updates", **label) == 1
    assert otel.value("finpy.resolver.failures", **label) == 0
    assert otel.value("finpy.resolver.staleness", **label) == 0.0
    await c.aclose()
    assert "finpy.client.endpoints" not in otel.metrics()  # closed clients are not reported


async def test_discovery_failure_shows_as_failures_and_growing_staleness(otel: Any) -> None:
    """While discovery fails, failures count and staleness grows with the client's clock."""
    clock = ManualClock()
    c = make(otel, Transports(), FailureAccrual(enabled=False), clock=clock)
    await c(Request())
    resolution: Any = c.resolution
    resolution.source.publish(Failed(OSError("registry unreachable")))
    clock.advance(7.0)
    assert otel.value("finpy.resolver.failures") == 1
    assert otel.value("finpy.resolver.staleness") == 7.0
    assert otel.value("finpy.client.endpoints", **{"finpy.endpoint.state": "open"}) == 2
    await c.aclose()


async def test_breakers_by_state_and_transitions(otel: Any) -> None:
    """An endpoint ejected by failure accrual: one dead breaker, one 'ejected' transition."""
    clock = ManualClock()
    transports = Transports()
    c = make(
        otel,
        transports,
        FailureAccrual(consecutive_failures=1, success_rate=None),
        Retries(max_attempts=1),
        clock=clock,
    )
    await c(Request())  # builds both endpoints
    unavailable = grpc.aio.AioRpcError(
        grpc.StatusCode.UNAVAILABLE, grpc.aio.Metadata(), grpc.aio.Metadata(), "down", None
    )
    for t in transports.by_port.values():
        t.fail = unavailable
    with pytest.raises(grpc.aio.AioRpcError):
        await c(Request())
    assert otel.value("finpy.client.breakers", **{"finpy.breaker.state": "dead"}) == 1
    assert otel.value("finpy.client.breakers", **{"finpy.breaker.state": "alive"}) == 1
    assert otel.value("finpy.client.endpoints", **{"finpy.endpoint.state": "busy"}) == 1
    assert (
        otel.value("finpy.client.breaker.transitions", **{"finpy.breaker.transition": "ejected"})
        == 1
    )
    await c.aclose()


async def test_local_rejections_are_counted(otel: Any) -> None:
    """A call refused locally (RejectedError) counts in finpy.client.rejections."""
    clock = ManualClock()
    transports = Transports()
    c = make(otel, transports, FailureAccrual(enabled=False), Retries(max_attempts=1), clock=clock)
    await c(Request())
    for t in transports.by_port.values():
        t.fail = RejectedError("shed: too many requests in flight")
    with pytest.raises(RejectedError):
        await c(Request())
    await c.aclose()
    rejected = otel.value("finpy.client.rejections")
    assert rejected == 1
    points = otel.metrics()["finpy.client.rejections"]
    assert points[0][0]["error.type"] == "finpy.errors.RejectedError"
    assert points[0][0]["rpc.grpc.status_code"] == 8


async def test_clients_are_reported_by_their_own_meter_provider_only(otel: Any) -> None:
    """A client with another meter provider does not appear in this provider's metrics."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    other_reader = InMemoryMetricReader()
    other = MeterProvider(metric_readers=[other_reader])
    clock = ManualClock()
    mine = make(otel, Transports(), FailureAccrual(enabled=False), clock=clock)
    theirs: Client[Any, Any] = Client(
        "static:///10.0.0.3:3",
        Transports(),
        params=Params(Telemetry(meter_provider=other), Label("theirs"), ClockParam(clock)),
    )
    await mine(Request())
    await theirs(Request())
    labels = {a["finpy.client"] for a, _ in otel.metrics()["finpy.client.endpoints"]}
    assert labels == {"users"}
    await mine.aclose()
    await theirs.aclose()
    other.shutdown()


def test_instruments_are_made_once_per_provider(otel: Any) -> None:
    """metrics_for returns the same instruments for the same provider, others for another."""
    from opentelemetry.sdk.metrics import MeterProvider

    assert metrics_for(otel.meter_provider) is metrics_for(otel.meter_provider)
    other = MeterProvider()
    assert metrics_for(other) is not metrics_for(otel.meter_provider)
    other.shutdown()
    del other
    gc.collect()
