"""Tests of ``finpy_protocols.grpc.propagation``: trace context and deadline in metadata."""

from __future__ import annotations

from collections.abc import Iterator

import grpc.aio
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

import finpy
from finpy_protocols.grpc.propagation import (
    DEADLINE_HEADER,
    deadline_from_metadata,
    with_deadline,
    with_trace_context,
)


@pytest.fixture
def tracer() -> Iterator[trace.Tracer]:
    """A tracer of an SDK provider that exports nowhere (spans get real ids)."""
    provider = TracerProvider()
    yield provider.get_tracer("test")
    provider.shutdown()


def test_without_a_current_span_metadata_is_returned_as_is() -> None:
    """No trace context current: the very same metadata object comes back (nothing allocated)."""
    md = (("tenant", "acme"),)
    assert with_trace_context(md) is md
    assert with_trace_context(None) is None


def test_current_span_is_written_as_traceparent(tracer: trace.Tracer) -> None:
    """Inside a span, the W3C traceparent of that span is added; other metadata is kept."""
    with tracer.start_as_current_span("attempt") as span:
        md = with_trace_context((("tenant", "acme"),))
    ctx = span.get_span_context()
    assert md is not None and md[0] == ("tenant", "acme")
    headers = dict(md)
    version, trace_id, span_id, flags = str(headers["traceparent"]).split("-")
    assert (version, trace_id, span_id) == ("00", f"{ctx.trace_id:032x}", f"{ctx.span_id:016x}")
    assert int(flags, 16) & 1  # sampled


def test_a_stale_traceparent_from_the_caller_is_replaced(tracer: trace.Tracer) -> None:
    """A traceparent already in the metadata is replaced by the current one, not duplicated."""
    old = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    with tracer.start_as_current_span("attempt"):
        md = with_trace_context(grpc.aio.Metadata(("traceparent", old), ("a", "1")))
    assert md is not None
    values = [v for k, v in md if k == "traceparent"]
    assert len(values) == 1 and values[0] != old
    assert ("a", "1") in md


def test_deadline_header_round_trips() -> None:
    """with_deadline writes the milliseconds left; deadline_from_metadata reads them back."""
    clock = finpy.ManualClock(100.0)
    assert with_deadline((("a", "1"),), clock) == (("a", "1"),)  # no deadline: unchanged
    with finpy.deadline_at(101.25):
        md = with_deadline((("a", "1"),), clock)
    assert md == (("a", "1"), (DEADLINE_HEADER, "1250"))
    assert deadline_from_metadata(md) == 1.25
    assert deadline_from_metadata(((DEADLINE_HEADER, "soon"),)) is None
    assert deadline_from_metadata(None) is None
