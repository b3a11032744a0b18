"""Tests of ``finpy.observe.telemetry``: configuration and whether providers are real."""

from __future__ import annotations

import re
from typing import Any

import pytest
from opentelemetry import metrics, trace

from finpy import ConfigurationError, Params, Telemetry
from finpy.observe.telemetry import (
    meter_provider_or_none,
    tracer_of,
    tracer_provider_or_none,
)


def test_credential_keys_cannot_be_asked_for() -> None:
    """Asking to record authorization (or any sensitive key) is refused, naming the key."""
    with pytest.raises(ConfigurationError, match="'authorization' may carry credentials"):
        Telemetry(request_metadata=("tenant", "authorization"))
    with pytest.raises(ConfigurationError, match="'grpc-creds-bin'"):
        Telemetry(request_metadata=("grpc-creds-bin",))
    assert Telemetry(request_metadata=("Tenant", "*")).request_metadata == ("tenant", "*")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("tracing", "yes"),
        ("metrics", 1),
        ("tracer_provider", object()),
        ("meter_provider", "prometheus"),
        ("rpc_system", ""),
        ("request_metadata", "tenant"),
    ],
)
def test_bad_values_name_the_field_and_the_value(field: str, value: Any) -> None:
    """A bad Telemetry value raises ConfigurationError naming the field and showing the value."""
    with pytest.raises(ConfigurationError, match=re.escape(f"Telemetry.{field}")) as info:
        Telemetry(**{field: value})
    assert repr(value) in str(info.value)


def test_proxies_and_no_ops_mean_off(monkeypatch: Any) -> None:
    """The API's proxy (nothing installed) and no-op providers count as 'not configured'."""
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: trace.ProxyTracerProvider())
    assert tracer_provider_or_none(Telemetry()) is None
    assert tracer_of(Params()) is None
    assert tracer_provider_or_none(Telemetry(tracer_provider=trace.NoOpTracerProvider())) is None
    assert meter_provider_or_none(Telemetry(meter_provider=metrics.NoOpMeterProvider())) is None


def test_real_providers_are_used_unless_switched_off(otel: Any) -> None:
    """An SDK provider is used; tracing=False / metrics=False turn it off anyway."""
    on = Telemetry(tracer_provider=otel.tracer_provider, meter_provider=otel.meter_provider)
    assert tracer_provider_or_none(on) is otel.tracer_provider
    assert meter_provider_or_none(on) is otel.meter_provider
    off = Telemetry(
        tracer_provider=otel.tracer_provider,
        meter_provider=otel.meter_provider,
        tracing=False,
        metrics=False,
    )
    assert tracer_provider_or_none(off) is None and meter_provider_or_none(off) is None
