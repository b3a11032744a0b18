"""finpy's metrics through the OpenTelemetry Prometheus exporter, scraped over HTTP."""

from __future__ import annotations

import asyncio
import urllib.request
from typing import Any

import pytest

from finpy import Address, Client, MethodConfig, Params, Service, Telemetry
from finpy.client import Label

prometheus_client = pytest.importorskip("prometheus_client")
exporter = pytest.importorskip("opentelemetry.exporter.prometheus")


class Request:
    method = "/demo.Users/GetUser"
    metadata = None
    method_config = MethodConfig()


class Ok(Service[Any, Any]):
    async def __call__(self, request: Any, /) -> Any:
        return "ok"


def transports(address: Address, params: Params) -> Service[Any, Any]:
    return Ok()


async def test_prometheus_scrape_shows_call_duration_attempts_and_client_state() -> None:
    """A scrape of /metrics has the call histogram, attempts and the endpoints gauge."""
    from opentelemetry.sdk.metrics import MeterProvider

    registry = prometheus_client.CollectorRegistry()
    reader = exporter.PrometheusMetricReader(registry=registry, disable_target_info=True)
    provider = MeterProvider(metric_readers=[reader])
    server, thread = prometheus_client.start_http_server(0, addr="127.0.0.1", registry=registry)
    c: Client[Any, Any] = Client(
        "static:///10.0.0.1:1,10.0.0.2:2",
        transports,
        params=Params(Telemetry(meter_provider=provider, tracing=False), Label("users")),
    )
    try:
        for _ in range(3):
            await c(Request())
        url = f"http://127.0.0.1:{server.server_port}/metrics"

        def scrape() -> str:
            with urllib.request.urlopen(url, timeout=10) as response:
                return str(response.read().decode())

        text = await asyncio.to_thread(scrape)
    finally:
        await c.aclose()
        server.shutdown()
        server.server_close()
        thread.join(10)
        provider.shutdown()
    lines = [line for line in text.splitlines() if not line.startswith("#")]

    def sample(prefix: str, *labels: str) -> float:
        found = [
            line
            for line in lines
            if line.startswith(prefix + "{") and all(label in line for label in labels)
        ]
        assert len(found) == 1, (prefix, labels, found)
        return float(found[0].rsplit(" ", 1)[1])

    assert sample("rpc_client_call_duration_seconds_count", 'rpc_grpc_status_code="0"') == 3
    assert sample("finpy_client_attempts_total", 'finpy_attempt_reason="first"') == 3
    assert sample("finpy_client_endpoints", 'finpy_endpoint_state="open"') == 2
    assert sample("finpy_client_retry_budget_balance", 'finpy_client="users"') == 100
