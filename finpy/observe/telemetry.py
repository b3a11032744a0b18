"""``Telemetry``: where a client's spans and metrics go, and whether there are any.

By default finpy uses the *global* OpenTelemetry tracer and meter providers.
Whether they are real is decided once per client, when it builds its stacks
(at its first request): while no SDK provider is installed, the OpenTelemetry
API hands out proxy/no-op providers, finpy sees that, and leaves the observe
modules out of the stacks entirely, so a process without OpenTelemetry set up
pays nothing per call.  Install the SDK providers before making clients (or
pass them explicitly, as tests do)::

    Channel(target, tracer_provider=provider, meter_provider=meter_provider)
    Params(Telemetry(tracer_provider=provider))          # any finpy.Client
"""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass
from typing import Any

from opentelemetry import metrics, trace

from finpy.errors import ConfigurationError
from finpy.observe.redact import is_sensitive
from finpy.observe.semconv import SCOPE_NAME
from finpy.params import Param, Params

__all__ = [
    "Telemetry",
    "meter_provider_of",
    "meter_provider_or_none",
    "tracer_of",
    "tracer_provider_or_none",
]


def _version() -> str | None:
    try:
        return importlib.metadata.version("finpy")
    except importlib.metadata.PackageNotFoundError:  # running from a source tree
        return None


_VERSION = _version()


@dataclass(frozen=True, slots=True)
class Telemetry(Param):
    """Tracing and metrics of a client (OpenTelemetry).

    Attributes:
        tracer_provider: where spans go (``None``: the global provider).
        meter_provider: where metrics go (``None``: the global provider).
        tracing: ``False`` turns spans off whatever the provider.
        metrics: ``False`` turns metrics off whatever the provider.
        rpc_system: the ``rpc.system`` attribute (``"grpc"``).
        request_metadata: request metadata keys recorded on the logical span as
            ``rpc.<system>.request.metadata.<key>``; ``("*",)`` records every key
            that is not sensitive.  Credential-bearing keys (authorization,
            cookies, tokens, ``-bin`` keys, see :mod:`finpy.observe.redact`) are
            refused here and never recorded.
    """

    tracer_provider: Any = None
    meter_provider: Any = None
    tracing: bool = True
    metrics: bool = True
    rpc_system: str = "grpc"
    request_metadata: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("tracing", "metrics"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigurationError(
                    f"Telemetry.{name} must be True or False, got {getattr(self, name)!r}"
                )
        if self.tracer_provider is not None and not callable(
            getattr(self.tracer_provider, "get_tracer", None)
        ):
            raise ConfigurationError(
                f"Telemetry.tracer_provider must be an OpenTelemetry TracerProvider, "
                f"got {self.tracer_provider!r}"
            )
        if self.meter_provider is not None and not callable(
            getattr(self.meter_provider, "get_meter", None)
        ):
            raise ConfigurationError(
                f"Telemetry.meter_provider must be an OpenTelemetry MeterProvider, "
                f"got {self.meter_provider!r}"
            )
        if not isinstance(self.rpc_system, str) or not self.rpc_system:
            raise ConfigurationError(
                f"Telemetry.rpc_system must be a non-empty string, got {self.rpc_system!r}"
            )
        keys: object = self.request_metadata
        if isinstance(keys, str) or not isinstance(keys, (tuple, list, frozenset, set)):
            raise ConfigurationError(
                f"Telemetry.request_metadata must be a tuple of metadata keys, got {keys!r}"
            )
        for key in keys:
            if not isinstance(key, str) or not key:
                raise ConfigurationError(f"Telemetry.request_metadata: bad key {key!r}")
            if key != "*" and is_sensitive(key):
                raise ConfigurationError(
                    f"Telemetry.request_metadata: {key!r} may carry credentials and is "
                    "never recorded"
                )
        object.__setattr__(self, "request_metadata", tuple(k.lower() for k in keys))


def _is_noop_tracer_provider(provider: Any) -> bool:
    return isinstance(provider, (trace.ProxyTracerProvider, trace.NoOpTracerProvider))


def _is_noop_meter_provider(provider: Any) -> bool:
    # the API's proxy (no global provider set yet) is private: recognise it by name
    return isinstance(provider, metrics.NoOpMeterProvider) or type(provider).__name__ in (
        "_ProxyMeterProvider",
        "ProxyMeterProvider",
    )


def tracer_provider_or_none(config: Telemetry) -> Any:
    """The tracer provider ``config`` means, or ``None`` when spans would go nowhere."""
    if not config.tracing:
        return None
    provider = config.tracer_provider
    if provider is None:
        provider = trace.get_tracer_provider()
    return None if _is_noop_tracer_provider(provider) else provider


def meter_provider_or_none(config: Telemetry) -> Any:
    """The meter provider ``config`` means, or ``None`` when metrics would go nowhere."""
    if not config.metrics:
        return None
    provider = config.meter_provider
    if provider is None:
        provider = metrics.get_meter_provider()
    return None if _is_noop_meter_provider(provider) else provider


def tracer_of(params: Params) -> trace.Tracer | None:
    """finpy's tracer for a stack built from ``params`` (``None``: tracing is off)."""
    provider = tracer_provider_or_none(params[Telemetry])
    if provider is None:
        return None
    tracer: trace.Tracer = provider.get_tracer(SCOPE_NAME, _VERSION)
    return tracer


def meter_provider_of(params: Params) -> Any:
    """The meter provider of a stack built from ``params`` (``None``: metrics are off)."""
    return meter_provider_or_none(params[Telemetry])
