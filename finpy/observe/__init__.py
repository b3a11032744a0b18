"""Seeing what a resilient client does: OpenTelemetry spans and metrics, and a text dump.

A client that retries, hedges and ejects endpoints silently is hard to debug.
finpy records

* one CLIENT span per logical call and one child span per attempt (retries,
  requeues and hedges each visible, with number and reason), following the
  OpenTelemetry RPC conventions; endpoint ejections and retry budget
  refusals as span events; the W3C trace context of the attempt on the wire
  (:mod:`finpy.observe.tracing`);
* the conventions' call duration histogram and finpy's own instruments
  (attempts, retries, hedges, budget, endpoints, breakers, discovery,
  rejections) (:mod:`finpy.observe.metrics`);
* a human-readable snapshot of every live client (:func:`dump`).

Nothing is recorded, and nothing is added to the request path, until an
OpenTelemetry SDK tracer or meter provider is installed (globally, or per
client with :class:`Telemetry`).  Credential-bearing metadata is never
recorded (:mod:`finpy.observe.redact`).  See ``docs/observability.md``.
"""

from finpy.observe.dump import ClientSnapshot, client_snapshot, dump, format_snapshot, snapshot
from finpy.observe.metrics import ClientMetrics, metrics_for
from finpy.observe.outcome import Outcome
from finpy.observe.redact import is_sensitive, safe_metadata
from finpy.observe.registry import live_clients
from finpy.observe.telemetry import Telemetry
from finpy.observe.tracing import (
    AttemptObserveFilter,
    AttemptObserveModule,
    ObserveFilter,
    attempt_observe_module,
    observe_module,
)

__all__ = [
    "AttemptObserveFilter",
    "AttemptObserveModule",
    "ClientMetrics",
    "ClientSnapshot",
    "ObserveFilter",
    "Outcome",
    "Telemetry",
    "attempt_observe_module",
    "client_snapshot",
    "dump",
    "format_snapshot",
    "is_sensitive",
    "live_clients",
    "metrics_for",
    "observe_module",
    "safe_metadata",
    "snapshot",
]
