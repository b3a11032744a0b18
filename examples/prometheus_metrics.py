"""finpy's metrics in Prometheus: the OpenTelemetry Prometheus exporter, scraped once.

Three real local backends, one failing a third of its calls with UNAVAILABLE so that
finpy has retries to report.  A finpy channel is given an OpenTelemetry meter provider
whose reader is the Prometheus exporter; its ``/metrics`` endpoint is served on a free
port of 127.0.0.1, scraped once with urllib, and the finpy lines are printed.

In a service you would install the providers once, globally, at start-up::

    reader = PrometheusMetricReader()
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    prometheus_client.start_http_server(9464)

and every finpy client made afterwards reports to it (no ``meter_provider=`` needed).

Needs the ``prometheus`` extra (``pip install 'finpy[prometheus]'``); exits with 77 when it
is missing.  Run it with ``python examples/prometheus_metrics.py``.
"""

from __future__ import annotations

import asyncio
import os
import sys
import urllib.request
from typing import Any

import grpc

from finpy.testing import FaultCluster
from finpy.testing.echo import EchoRequest, EchoStub
from finpy_protocols import grpc as fgrpc

try:
    import prometheus_client
    from opentelemetry.exporter.prometheus import PrometheusMetricReader
except ImportError:
    print("needs opentelemetry-exporter-prometheus: pip install 'finpy[prometheus]'")
    sys.exit(77)

from opentelemetry.sdk.metrics import MeterProvider

QUICK = bool(os.environ.get("FINPY_EXAMPLE_QUICK"))
SHOWN = (
    "rpc_client_call_duration_seconds_count",
    "finpy_client_attempts_total",
    "finpy_client_retries_total",
    "finpy_client_retry_budget_balance",
    "finpy_client_endpoints",
    "finpy_client_breakers",
    "finpy_resolver_updates_total",
    "finpy_resolver_staleness_seconds",
)


def scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return str(response.read().decode())


async def main() -> None:
    registry = prometheus_client.CollectorRegistry()
    reader = PrometheusMetricReader(registry=registry, disable_target_info=True)
    provider = MeterProvider(metric_readers=[reader])
    server, thread = prometheus_client.start_http_server(0, addr="127.0.0.1", registry=registry)
    url = f"http://127.0.0.1:{server.server_port}/metrics"
    calls = 30 if QUICK else 200
    try:
        with FaultCluster(3) as cluster:
            cluster.backend(0).set(
                error_code=grpc.StatusCode.UNAVAILABLE, error_probability=0.33, seed=7
            )
            async with fgrpc.Channel(
                cluster.target, timeout=2.0, meter_provider=provider, label="echo"
            ) as channel:
                echo: Any = EchoStub(channel)  # type: ignore[no-untyped-call]
                for i in range(calls):
                    await echo.Echo(EchoRequest(message=f"m{i}"))
                text = await asyncio.to_thread(scrape, url)  # while the client is live
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
        provider.shutdown()
    print(f"{calls} calls through a finpy channel; GET {url} returned:")
    for line in text.splitlines():
        if line.startswith(SHOWN):
            print("  " + line)


if __name__ == "__main__":
    asyncio.run(main())
