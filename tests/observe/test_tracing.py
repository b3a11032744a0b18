"""Tests of ``finpy.observe.tracing``: span structure and per-call metrics of real client stacks.

The clients here are real :class:`finpy.Client` stacks (observe, deadline, retries,
hedge, balancer, endpoint stacks) over in-memory endpoints; time is a ManualClock (or
looptime's virtual loop time for hedging), so durations are exact.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import grpc
import grpc.aio
import pytest
from opentelemetry import metrics, trace
from opentelemetry.trace import SpanKind, StatusCode
from tenacity import wait_none

from finpy import (
    Address,
    Client,
    ClockParam,
    FunctionService,
    ManualClock,
    MethodConfig,
    MethodConfigs,
    Params,
    Service,
    ServiceClosedError,
    Telemetry,
)
from finpy.accrual import FailureAccrual
from finpy.balancer import RoundRobin
from finpy.client import BalancerFactory, Label
from finpy.observe import ObserveFilter, attempt_observe_module
from finpy.observe.tracing import AttemptObserveFilter
from finpy.resolver import Bound, Resolution
from finpy.retry import AttemptKind, Backoff, RetryBudget, current_attempt_kind
from finpy.retry.budget import RetryBudgetParam
from finpy.retry.classifier import ResponseClassifier
from finpy.retry.filter import Retries
from finpy_protocols.grpc.classifier import GRPC_CLASSIFIER

METHOD = "/demo.Users/GetUser"
NAME = "demo.Users/GetUser"


class Request:
    """A protocol-neutral request with the attributes finpy's layers read."""

    def __init__(self, config: MethodConfig | None = None, metadata: Any = None) -> None:
        self.method = METHOD
        self.method_config = config if config is not None else MethodConfig()
        self.metadata = metadata


def unavailable() -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(
        grpc.StatusCode.UNAVAILABLE, grpc.aio.Metadata(), grpc.aio.Metadata(), "backend down", None
    )


Script = Callable[[Address, int], Any]


class Endpoints:
    """Transports whose answers a test scripts: ``script(address, call_number)``."""

    def __init__(self, script: Script, clock: ManualClock | None = None, took: float = 0.0):
        self.script = script
        self.clock = clock
        self.took = took
        self.calls = 0

    def __call__(self, address: Address, params: Params) -> Service[Any, Any]:
        endpoints = self

        class Transport(Service[Any, Any]):
            async def __call__(self, request: Any, /) -> Any:
                endpoints.calls += 1
                n = endpoints.calls
                if endpoints.clock is not None and endpoints.took:
                    endpoints.clock.advance(endpoints.took)
                outcome = endpoints.script(address, n)
                if isinstance(outcome, BaseException):
                    raise outcome
                if asyncio.iscoroutine(outcome):
                    return await outcome
                return outcome

        return Transport()


def client(
    otel: Any,
    endpoints: Endpoints,
    *extra: Any,
    addresses: int = 1,
    clock: Any = None,
) -> Client[Any, Any]:
    params = Params(
        Telemetry(tracer_provider=otel.tracer_provider, meter_provider=otel.meter_provider),
        Retries(backoff=Backoff(wait_none())),
        ResponseClassifier(GRPC_CLASSIFIER),
        FailureAccrual(enabled=False),
        Label("users"),
        BalancerFactory(RoundRobin),
        *([ClockParam(clock)] if clock is not None else []),
        *extra,
    )
    target = Resolution(Bound([Address("10.0.0.1", 5000 + i) for i in range(addresses)]))
    return Client(target, endpoints, params=params)


def by_parent(spans: list[Any], parent: Any) -> list[Any]:
    return [s for s in spans if s.parent is not None and s.parent.span_id == parent.context.span_id]


async def test_success_makes_one_client_span_with_one_attempt_child(otel: Any) -> None:
    """A successful call: a CLIENT span with the RPC attributes and one INTERNAL attempt child."""
    clock = ManualClock()
    c = client(otel, Endpoints(lambda a, n: "ok", clock, took=0.25), clock=clock)
    assert await c(Request()) == "ok"
    await c.aclose()
    call = otel.span(NAME)
    assert call.kind is SpanKind.CLIENT and call.parent is None
    assert dict(call.attributes) == {
        "rpc.system": "grpc",
        "rpc.service": "demo.Users",
        "rpc.method": "GetUser",
        "finpy.client": "users",
        "rpc.grpc.status_code": 0,
        "finpy.attempts": 1,
    }
    assert call.status.status_code is StatusCode.UNSET
    (attempt,) = by_parent(otel.spans(), call)
    assert attempt.name == NAME + " attempt" and attempt.kind is SpanKind.INTERNAL
    assert attempt.context.trace_id == call.context.trace_id
    assert attempt.attributes["server.address"] == "10.0.0.1"
    assert attempt.attributes["server.port"] == 5000
    assert attempt.attributes["finpy.attempt.number"] == 1
    assert attempt.attributes["finpy.attempt.reason"] == "first"
    assert attempt.attributes["rpc.grpc.status_code"] == 0
    duration = otel.value("rpc.client.call.duration", **{"rpc.grpc.status_code": 0})
    assert (duration.count, duration.sum) == (1, 0.25)
    assert otel.value("finpy.client.attempts", **{"finpy.attempt.reason": "first"}) == 1


async def test_retry_gets_its_own_attempt_span_with_reason_and_error(otel: Any) -> None:
    """A retried call: attempt 1 (first, UNAVAILABLE) and attempt 2 (retry, OK) under one span."""
    clock = ManualClock()
    script = lambda a, n: unavailable() if n == 1 else "ok"  # noqa: E731
    c = client(otel, Endpoints(script, clock, took=0.1), addresses=2, clock=clock)
    assert await c(Request()) == "ok"
    await c.aclose()
    call = otel.span(NAME)
    assert call.attributes["finpy.attempts"] == 2
    assert call.attributes["rpc.grpc.status_code"] == 0
    assert call.status.status_code is StatusCode.UNSET
    first, second = sorted(
        by_parent(otel.spans(), call), key=lambda s: s.attributes["finpy.attempt.number"]
    )
    assert first.attributes["finpy.attempt.reason"] == "first"
    assert first.attributes["rpc.grpc.status_code"] == 14
    assert first.attributes["error.type"] == "UNAVAILABLE"
    assert first.status.status_code is StatusCode.ERROR
    assert first.status.description == "backend down"
    assert second.attributes["finpy.attempt.reason"] == "retry"
    assert second.attributes["finpy.attempt.number"] == 2
    assert "error.type" not in second.attributes
    assert first.attributes["server.port"] != second.attributes["server.port"]  # another endpoint
    duration = otel.value("rpc.client.call.duration", **{"rpc.grpc.status_code": 0})
    assert (duration.count, duration.sum) == (1, pytest.approx(0.2))
    assert otel.value("finpy.client.attempts", **{"finpy.attempt.reason": "first"}) == 1
    assert otel.value("finpy.client.attempts", **{"finpy.attempt.reason": "retry"}) == 1


async def test_requeue_is_an_attempt_with_reason_requeue(otel: Any) -> None:
    """A failure that never reached a server is requeued: the second attempt says 'requeue'."""
    script = lambda a, n: ServiceClosedError("endpoint closed under us") if n == 1 else "ok"  # noqa: E731
    c = client(otel, Endpoints(script), addresses=2)
    assert await c(Request()) == "ok"
    await c.aclose()
    call = otel.span(NAME)
    reasons = sorted(s.attributes["finpy.attempt.reason"] for s in by_parent(otel.spans(), call))
    assert reasons == ["first", "requeue"]
    failed = [s for s in by_parent(otel.spans(), call) if "error.type" in s.attributes]
    assert failed[0].attributes["error.type"] == "finpy.errors.ServiceClosedError"
    assert failed[0].attributes["rpc.grpc.status_code"] == 14


async def test_failed_call_records_status_and_error_type_everywhere(otel: Any) -> None:
    """When every attempt fails, the call span, its attempts and the histogram say UNAVAILABLE."""
    c = client(otel, Endpoints(lambda a, n: unavailable()), addresses=3)
    with pytest.raises(grpc.aio.AioRpcError):
        await c(Request())
    await c.aclose()
    call = otel.span(NAME)
    assert call.status.status_code is StatusCode.ERROR
    assert call.attributes["error.type"] == "UNAVAILABLE"
    assert call.attributes["rpc.grpc.status_code"] == 14
    assert call.attributes["finpy.attempts"] == 3
    assert len(by_parent(otel.spans(), call)) == 3
    point = otel.value(
        "rpc.client.call.duration", **{"rpc.grpc.status_code": 14, "error.type": "UNAVAILABLE"}
    )
    assert point.count == 1
    assert otel.value("finpy.client.attempts", **{"finpy.attempt.reason": "retry"}) == 2


async def test_local_failure_names_the_finpy_error_type(otel: Any) -> None:
    """A call finpy refuses itself (deadline already passed) has error.type = the finpy class."""
    from finpy import deadline_after

    clock = ManualClock()
    c = client(otel, Endpoints(lambda a, n: "ok"), clock=clock)
    with deadline_after(0.0, clock=clock), pytest.raises(Exception) as info:
        await c(Request())
    await c.aclose()
    assert type(info.value).__name__ == "DeadlineExceededError"
    call = otel.span(NAME)
    assert call.attributes["error.type"] == "finpy.errors.DeadlineExceededError"
    assert call.attributes["rpc.grpc.status_code"] == 4
    assert call.attributes["finpy.attempts"] == 0  # refused before any attempt
    assert call.attributes["finpy.deadline.remaining_ms"] == 0.0


@pytest.mark.looptime
async def test_hedge_is_a_concurrent_attempt_and_the_loser_is_cancelled(otel: Any) -> None:
    """A hedged call: the slow first attempt is cancelled, the 'hedge' attempt wins."""

    async def answer(delay: float) -> str:
        await asyncio.sleep(delay)
        return "ok"

    def script(address: Address, n: int) -> Any:
        if n > 20 and current_attempt_kind() is not AttemptKind.HEDGE:
            return answer(5.0)  # the 21st call's first attempt is stuck
        return answer(0.01)

    hedged = MethodConfigs({"*": MethodConfig(idempotent=True, hedge=True)})
    c = client(otel, Endpoints(script), hedged, addresses=2)
    config = hedged.resolve(METHOD)
    for _ in range(20):  # enough latencies for the p95 the hedge waits for
        await c(Request(config))
    otel.exporter.clear()
    loop = asyncio.get_running_loop()
    start = loop.time()
    assert await c(Request(config)) == "ok"
    assert loop.time() - start < 0.1
    assert otel.value("finpy.client.hedges", **{"finpy.hedge.outcome": "won"}) == 1
    await c.aclose()
    call = otel.span(NAME)
    attempts = {s.attributes["finpy.attempt.reason"]: s for s in by_parent(otel.spans(), call)}
    assert set(attempts) == {"first", "hedge"}
    assert attempts["hedge"].attributes["rpc.grpc.status_code"] == 0
    assert attempts["first"].attributes["error.type"] == "CANCELLED"
    assert call.attributes["finpy.attempts"] == 2
    assert call.attributes["rpc.grpc.status_code"] == 0
    assert otel.value("finpy.client.attempts", **{"finpy.attempt.reason": "hedge"}) == 1


async def test_ejection_is_an_event_on_the_attempt_that_caused_it(otel: Any) -> None:
    """The attempt whose failure ejects its endpoint carries a finpy.endpoint.ejected event."""
    clock = ManualClock()
    c = client(
        otel,
        Endpoints(lambda a, n: unavailable()),
        FailureAccrual(consecutive_failures=2, success_rate=None),
        Retries(max_attempts=1),
        clock=clock,
    )
    for _ in range(2):
        with pytest.raises(grpc.aio.AioRpcError):
            await c(Request())
    await c.aclose()
    attempts = [s for s in otel.spans() if s.name.endswith(" attempt")]
    assert [e.name for e in attempts[0].events] == []
    (event,) = attempts[1].events
    assert event.name == "finpy.endpoint.ejected"
    assert dict(event.attributes or {}) == {"server.address": "10.0.0.1", "server.port": 5000}
    assert (
        otel.value("finpy.client.breaker.transitions", **{"finpy.breaker.transition": "ejected"})
        == 1
    )


async def test_request_metadata_is_opt_in_and_never_records_credentials(otel: Any) -> None:
    """With every key recorded, credential-bearing metadata appears in no attribute or event."""
    secret = "s3cr3t-value"
    metadata = (
        ("authorization", f"Bearer {secret}"),
        ("cookie", f"sid={secret}"),
        ("x-api-key", secret),
        ("x-session-token", secret),
        ("x-client-secret", secret),
        ("grpc-creds-bin", secret.encode()),
        ("Proxy-Authorization", secret),
        ("tenant", "acme"),
    )
    c = client(
        otel,
        Endpoints(lambda a, n: unavailable() if n == 1 else "ok"),
        Telemetry(
            tracer_provider=otel.tracer_provider,
            meter_provider=otel.meter_provider,
            request_metadata=("*",),
        ),
    )
    await c(Request(metadata=metadata))
    await c.aclose()
    call = otel.span(NAME)
    assert call.attributes["rpc.grpc.request.metadata.tenant"] == "acme"
    for span in otel.spans():
        text = repr(dict(span.attributes)) + repr(
            [(e.name, dict(e.attributes or {})) for e in span.events]
        )
        text += span.status.description or ""
        assert secret not in text
        assert not any("auth" in k or "cookie" in k or "key" in k for k in span.attributes)
    for name, points in otel.metrics().items():
        assert secret not in repr(points), name


def test_observe_modules_are_absent_without_a_real_provider(monkeypatch: Any) -> None:
    """No SDK provider (the API's proxies, or no-ops): neither module is built at all."""
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: trace.ProxyTracerProvider())
    monkeypatch.setattr(metrics, "get_meter_provider", lambda: metrics.NoOpMeterProvider())
    assert ObserveFilter.from_params(Params()) is None
    noop = Params(
        Telemetry(
            tracer_provider=trace.NoOpTracerProvider(), meter_provider=metrics.NoOpMeterProvider()
        )
    )
    assert ObserveFilter.from_params(noop) is None
    below: Service[Any, Any] = FunctionService(lambda r: asyncio.sleep(0, r))
    assert attempt_observe_module().make(noop, below) is below


async def test_disabled_client_has_no_observe_layer_in_its_path(monkeypatch: Any) -> None:
    """A default client without OpenTelemetry set up has no observe filter anywhere in its path."""
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: trace.ProxyTracerProvider())
    monkeypatch.setattr(metrics, "get_meter_provider", lambda: metrics.NoOpMeterProvider())
    c: Client[Any, Any] = Client(
        Resolution(Bound([Address("10.0.0.1", 1)])), Endpoints(lambda a, n: "ok")
    )
    assert await c(Request()) == "ok"
    seen = []
    svc: Any = c._service
    while svc is not None:
        seen.append(getattr(svc, "filter", svc))
        svc = getattr(svc, "service", None)
    for ep in c.endpoint_set.endpoints if c.endpoint_set else ():
        svc = ep.service
        while svc is not None:
            seen.append(getattr(svc, "filter", svc))
            svc = getattr(svc, "service", None)
    await c.aclose()
    assert not any(isinstance(f, (ObserveFilter, AttemptObserveFilter)) for f in seen)


async def test_global_sdk_provider_is_used_when_none_is_given(otel: Any, monkeypatch: Any) -> None:
    """With no provider in Telemetry, the global one is read when the client builds its stacks."""
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: otel.tracer_provider)
    monkeypatch.setattr(metrics, "get_meter_provider", lambda: metrics.NoOpMeterProvider())
    c: Client[Any, Any] = Client(
        Resolution(Bound([Address("10.0.0.1", 1)])), Endpoints(lambda a, n: "ok")
    )
    await c(Request())
    await c.aclose()
    assert otel.span(NAME).attributes["finpy.client"] == c.label


async def test_metrics_only_makes_no_span_but_counts(otel: Any) -> None:
    """Tracing off, metrics on: no span at all, the histogram and attempt counts still recorded."""
    c = client(
        otel,
        Endpoints(lambda a, n: "ok"),
        Telemetry(meter_provider=otel.meter_provider, tracing=False),
    )
    await c(Request())
    await c.aclose()
    assert otel.spans() == []
    assert otel.value("rpc.client.call.duration").count == 1
    assert otel.value("finpy.client.attempts") == 1


async def test_budget_exhaustion_is_an_event_on_the_call_span(otel: Any) -> None:
    """A retry the budget refuses: the call span carries a finpy.retry_budget.exhausted event."""
    empty = RetryBudget(percent_can_retry=0.0, min_retries_per_sec=0.0, clock=ManualClock())
    c = client(otel, Endpoints(lambda a, n: unavailable()), RetryBudgetParam(empty), addresses=2)
    with pytest.raises(grpc.aio.AioRpcError):
        await c(Request())
    await c.aclose()
    call = otel.span(NAME)
    assert call.attributes["finpy.attempts"] == 1
    (event,) = call.events
    assert event.name == "finpy.retry_budget.exhausted"
    assert dict(event.attributes or {}) == {"finpy.retry_budget.wanted": "retry"}
    (attempt,) = by_parent(otel.spans(), call)
    assert list(attempt.events) == []


async def test_stream_spans_end_when_the_stream_ends(otel: Any) -> None:
    """A server-streaming call's spans stay open while it streams and end with its status."""
    from finpy.testing import FaultCluster
    from finpy.testing import echo as echo_module
    from finpy_protocols.grpc import Channel

    with FaultCluster(1) as cluster:
        async with Channel(cluster.target, tracer_provider=otel.tracer_provider) as channel:
            make_stub: Any = echo_module.EchoStub  # generated, untyped
            stub = make_stub(channel)
            call = stub.Expand(echo_module.EchoRequest(message="x", count=3))
            first = await call.read()
            assert first.index == 0
            assert otel.spans() == []  # still streaming: nothing has ended
            rest = [m.index async for m in call]
            assert rest == [1, 2]
    call_span = otel.span("finpy.testing.echo.Echo/Expand")
    assert call_span.attributes["rpc.grpc.status_code"] == 0
    assert call_span.attributes["finpy.attempts"] == 1
    (attempt,) = by_parent(otel.spans(), call_span)
    assert attempt.attributes["rpc.grpc.status_code"] == 0
    assert attempt.end_time >= call_span.start_time
