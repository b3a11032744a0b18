"""Trace context (and, optionally, the deadline) in outgoing gRPC metadata.

The transport calls :func:`with_trace_context` on every attempt.  When a span
is current (finpy's attempt span, or any span of the application's own
OpenTelemetry instrumentation, or a remote context a server interceptor
extracted), the globally configured propagator (W3C ``traceparent`` /
``tracestate`` and ``baggage`` by default) writes it into the attempt's
metadata, replacing any trace headers the caller put there.  When no context is
current it returns the metadata untouched after one context-variable read, so a
process without OpenTelemetry pays next to nothing.

The deadline needs no header: gRPC sends the time left (``grpc-timeout``) with
every call, and finpy's server interceptor turns it back into the handler's
deadline.  :func:`with_deadline` adds an explicit ``finpy-deadline-ms`` header
for peers that do not read ``grpc-timeout`` (proxies that rewrite it, HTTP
bridges); :func:`deadline_from_metadata` reads it back.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace

from finpy.clock import SYSTEM_CLOCK, Clock
from finpy.context import _DEADLINE

__all__ = [
    "DEADLINE_HEADER",
    "deadline_from_metadata",
    "with_deadline",
    "with_trace_context",
]

#: Milliseconds left before the caller's deadline, as an integer string.
DEADLINE_HEADER = "finpy-deadline-ms"

_get_current = otel_context.get_current
_get_current_span = trace.get_current_span

Metadata = Any  # a grpc.aio.Metadata, or a sequence of (key, value) pairs


def with_trace_context(metadata: Metadata | None) -> Metadata | None:
    """``metadata`` plus the current trace context (unchanged when there is none)."""
    ctx = _get_current()
    if not ctx:  # nothing attached: the common case without OpenTelemetry
        return metadata
    if not _get_current_span(ctx).get_span_context().is_valid:
        return metadata
    carrier: dict[str, str] = {}
    propagate.inject(carrier, context=ctx)
    if not carrier:
        return metadata
    return _merged(metadata, carrier.items())


def _merged(
    metadata: Metadata | None, extra: Iterable[tuple[str, str]]
) -> tuple[tuple[str, Any], ...]:
    pairs = tuple(extra)
    replaced = {k for k, _ in pairs}
    kept = tuple((k, v) for k, v in metadata or () if k not in replaced)
    return kept + pairs


def with_deadline(metadata: Metadata | None, clock: Clock = SYSTEM_CLOCK) -> Metadata | None:
    """``metadata`` plus ``finpy-deadline-ms`` when the current request has a deadline."""
    deadline = _DEADLINE.get()
    if deadline is None:
        return metadata
    left_ms = max(0, math.floor((deadline - clock.now()) * 1000))
    return _merged(metadata, ((DEADLINE_HEADER, str(left_ms)),))


def deadline_from_metadata(metadata: Metadata | None) -> float | None:
    """Seconds left according to a ``finpy-deadline-ms`` header (``None``: absent or bad)."""
    for key, value in metadata or ():
        if key == DEADLINE_HEADER and isinstance(value, str) and value.isdigit():
            return int(value) / 1000.0
    return None
