"""Spans and per-call metrics: one CLIENT span per logical call, one child span per attempt.

Two stack modules, one at each end of the path a request takes::

    observe (top of the client stack)        logical span ``pkg.Service/Method`` (CLIENT),
      -> deadline -> retries -> hedge        call duration histogram, rejections
        -> balancer
          -> attempt_observe (top of each    one span per attempt (INTERNAL, child of the
             endpoint stack)                 logical span): number, reason, endpoint, status;
            -> failure_accrual ...           ejections/revivals it caused as span events
              -> transport                   W3C trace context injected from the attempt span

The logical span carries the RPC conventions' attributes (``rpc.system``,
``rpc.service``, ``rpc.method``, ``rpc.grpc.status_code``, ``error.type``) and
``finpy.attempts``; each attempt span adds ``server.address``/``server.port``,
``finpy.attempt.number`` and ``finpy.attempt.reason`` (``first``, ``retry``,
``requeue``, ``hedge``, from :func:`finpy.retry.current_attempt_kind`).  The
attempt span sits *above* failure accrual and the per-attempt timeout, not at
the very bottom, so that an attempt that timed out says so (below the timeout
it would only see its cancellation) and the breaker transition an attempt
caused is recorded on it.  Every attempt still gets exactly one span.

The attempt span is the current span while the transport runs, so the
protocol puts *its* context on the wire (see
``finpy_protocols.grpc.propagation``) and the server's span becomes its child.

Streaming responses end their spans when the stream ends, with its final status.

Cost: both modules are left out of the stacks when neither a tracer nor a
meter provider is configured (:mod:`finpy.observe.telemetry`); with metrics
only, no span is made.  Attribute dictionaries are built once per method and
outcome and reused.
"""

from __future__ import annotations

import functools
from contextvars import ContextVar
from typing import Any, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

from finpy.clock import SYSTEM_CLOCK, Clock, ClockParam
from finpy.context import _ATTEMPT, _DEADLINE
from finpy.endpoint import Completion
from finpy.errors import RejectedError
from finpy.filter import Filter
from finpy.observe import semconv as sc
from finpy.observe.metrics import ClientMetrics, metrics_for
from finpy.observe.outcome import (
    OK,
    Outcome,
    description_of,
    outcome_of_error,
    outcome_of_response,
)
from finpy.observe.redact import safe_metadata
from finpy.observe.telemetry import Telemetry, meter_provider_of, tracer_of
from finpy.params import Params
from finpy.retry.attempt import _KIND
from finpy.retry.statistics import RetryStatsParam
from finpy.service import Service
from finpy.stack import FilterModule, StackModule

__all__ = [
    "AttemptObserveFilter",
    "AttemptObserveModule",
    "ObserveFilter",
    "attempt_observe_module",
    "observe_module",
]

Req = TypeVar("Req")
Rep = TypeVar("Rep")

_set_span_in_context = trace.set_span_in_context
_attach = otel_context.attach
_detach = otel_context.detach
_ERROR = StatusCode.ERROR
_CLIENT = SpanKind.CLIENT
_INTERNAL = SpanKind.INTERNAL


class _Call:
    """What the attempts of one logical call report to it (through ``_CALL``)."""

    __slots__ = ("attempts",)

    def __init__(self) -> None:
        self.attempts = 0


_CALL: ContextVar[_Call | None] = ContextVar("finpy_observe_call", default=None)


# -- what a request is, in the conventions' terms ------------------------------------------


class _Method:
    """Names and attribute sets of one method of one client, built once."""

    __slots__ = (
        "_attempt_attrs",
        "_call_attrs",
        "_end_attrs",
        "_grpc",
        "attempt_name",
        "attributes",
        "name",
    )

    def __init__(self, system: str, label: str, path: object) -> None:
        if isinstance(path, str) and path.count("/") >= 1:
            service, _, method = path.lstrip("/").rpartition("/")
        else:
            service, method = "", "unknown"
        self.name = f"{service}/{method}" if service else method
        self.attempt_name = self.name + sc.ATTEMPT_SPAN_SUFFIX
        attrs: dict[str, Any] = {sc.RPC_SYSTEM: system, sc.RPC_METHOD: method}
        if service:
            attrs[sc.RPC_SERVICE] = service
        if label:
            attrs[sc.FINPY_CLIENT] = label
        #: Attributes of spans and metrics of every call of the method.
        self.attributes: dict[str, Any] = attrs
        self._grpc = system == "grpc"
        self._call_attrs: dict[Outcome, dict[str, Any]] = {}
        self._attempt_attrs: dict[tuple[str, Outcome], dict[str, Any]] = {}
        self._end_attrs: dict[tuple[Outcome, int], dict[str, Any]] = {}

    def call_attributes(self, outcome: Outcome) -> dict[str, Any]:
        """Metric attributes of a call that ended with ``outcome``."""
        attrs = self._call_attrs.get(outcome)
        if attrs is None:
            attrs = self._call_attrs[outcome] = _with_outcome(self.attributes, outcome)
        return attrs

    def end_attributes(self, outcome: Outcome, attempts: int = -1) -> dict[str, Any]:
        """Span attributes set when a call (``attempts >= 0``) or an attempt (``-1``) ends."""
        key = (outcome, attempts)
        attrs = self._end_attrs.get(key)
        if attrs is None:
            attrs = {}
            if self._grpc:
                attrs[sc.RPC_GRPC_STATUS_CODE] = outcome.code
            if outcome.error_type is not None:
                attrs[sc.ERROR_TYPE] = outcome.error_type
            if attempts >= 0:
                attrs[sc.FINPY_ATTEMPTS] = attempts
            if len(self._end_attrs) < 256:  # bounded: attempts is a small number
                self._end_attrs[key] = attrs
        return attrs

    def attempt_attributes(self, reason: str, outcome: Outcome) -> dict[str, Any]:
        """Metric attributes of an attempt made for ``reason`` that ended with ``outcome``."""
        key = (reason, outcome)
        attrs = self._attempt_attrs.get(key)
        if attrs is None:
            attrs = _with_outcome(self.attributes, outcome)
            attrs[sc.FINPY_ATTEMPT_REASON] = reason
            self._attempt_attrs[key] = attrs
        return attrs


def _with_outcome(base: dict[str, Any], outcome: Outcome) -> dict[str, Any]:
    attrs: dict[str, Any] = dict(base)
    if base.get(sc.RPC_SYSTEM) == "grpc":
        attrs[sc.RPC_GRPC_STATUS_CODE] = outcome.code
    if outcome.error_type is not None:
        attrs[sc.ERROR_TYPE] = outcome.error_type
    return attrs


class _Methods:
    """The :class:`_Method` of each method path a client calls (bounded)."""

    __slots__ = ("_by_path", "label", "system")

    _MAX = 1024

    def __init__(self, system: str, label: str) -> None:
        self.system = system
        self.label = label
        self._by_path: dict[object, _Method] = {}

    def of(self, request: object) -> _Method:
        path = getattr(request, "method", None)
        found = self._by_path.get(path)
        if found is None:
            if len(self._by_path) >= self._MAX:  # unbounded method names: start over
                self._by_path.clear()
            found = self._by_path[path] = _Method(self.system, self.label, path)
        return found


# -- the logical call ----------------------------------------------------------------------


class ObserveFilter(Filter[Req, Rep]):
    """The logical call: its CLIENT span, its duration, its outcome."""

    __slots__ = (
        "_clock",
        "_grpc",
        "_metadata_keys",
        "_methods",
        "_metrics",
        "_records_metadata",
        "_tracer",
    )

    def __init__(
        self,
        *,
        tracer: trace.Tracer | None = None,
        metrics: ClientMetrics | None = None,
        rpc_system: str = "grpc",
        label: str = "",
        request_metadata: tuple[str, ...] = (),
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._tracer = tracer
        self._metrics = metrics
        self._clock = clock
        self._methods = _Methods(rpc_system, label)
        self._grpc = rpc_system == "grpc"
        keys = tuple(request_metadata)
        self._records_metadata = bool(keys)
        #: Request metadata keys recorded on the span (``None``: every non-sensitive key).
        self._metadata_keys: frozenset[str] | None = None if "*" in keys else frozenset(keys)

    async def __call__(self, request: Req, service: Service[Req, Rep], /) -> Rep:
        method = self._methods.of(request)
        clock = self._clock
        start = clock.now()
        tracer = self._tracer
        call = _Call()
        call_token = _CALL.set(call)
        span: Any = None
        ctx_token: object = None
        if tracer is not None:
            attrs = method.attributes
            deadline = _DEADLINE.get()
            if deadline is not None or self._records_metadata:
                attrs = dict(attrs)
                if deadline is not None:
                    attrs[sc.FINPY_DEADLINE_MS] = round((deadline - start) * 1000, 3)
                if self._records_metadata:
                    self._record_metadata(attrs, request)
            span = tracer.start_span(method.name, kind=_CLIENT, attributes=attrs)
            ctx_token = _attach(_set_span_in_context(span))
        try:
            rep = await service(request)
        except BaseException as e:
            self._finish(method, call, start, span, outcome_of_error(e), e)
            raise
        finally:
            if ctx_token is not None:
                _detach(ctx_token)  # type: ignore[arg-type]
            _CALL.reset(call_token)
        if isinstance(rep, Completion):
            rep.finpy_on_complete(
                functools.partial(self._finish_stream, method, call, start, span, rep)
            )
        else:
            self._finish(method, call, start, span, OK, None)
        return rep

    def _record_metadata(self, attrs: dict[str, Any], request: object) -> None:
        prefix = sc.RPC_REQUEST_METADATA_PREFIX.format(system=self._methods.system)
        for key, value in safe_metadata(getattr(request, "metadata", None), self._metadata_keys):
            attrs[prefix + key] = value

    def _finish_stream(
        self, method: _Method, call: _Call, start: float, span: Any, response: object
    ) -> None:
        self._finish(method, call, start, span, outcome_of_response(response), None)

    def _finish(
        self,
        method: _Method,
        call: _Call,
        start: float,
        span: Any,
        outcome: Outcome | None,
        error: BaseException | None,
    ) -> None:
        metrics = self._metrics
        if metrics is not None and outcome is not None:
            attrs = method.call_attributes(outcome)
            metrics.call_duration.record(self._clock.now() - start, attrs)
            if isinstance(error, RejectedError):
                metrics.rejections.add(1, attrs)
        if span is not None:
            if outcome is None:
                span.set_attribute(sc.FINPY_ATTEMPTS, call.attempts)
            else:
                span.set_attributes(method.end_attributes(outcome, call.attempts))
                if outcome.error_type is not None:
                    span.set_status(
                        _ERROR,
                        description_of(error) if error is not None else outcome.status,
                    )
            span.end()

    @staticmethod
    def from_params(params: Params) -> ObserveFilter[Req, Rep] | None:
        """The filter for :class:`~finpy.observe.Telemetry`; ``None`` when there is nothing
        to record (no real tracer nor meter provider)."""
        from finpy.client import Label  # client.py builds its default stacks from this module

        tracer = tracer_of(params)
        provider = meter_provider_of(params)
        if tracer is None and provider is None:
            return None
        cfg = params[Telemetry]
        stats = params[RetryStatsParam].stats
        if tracer is not None and stats is not None and _budget_event not in stats.listeners:
            stats.listeners.append(_budget_event)
        return ObserveFilter(
            tracer=tracer,
            metrics=None if provider is None else metrics_for(provider),
            rpc_system=cfg.rpc_system,
            label=params[Label].name,
            request_metadata=cfg.request_metadata,
            clock=params[ClockParam].clock,
        )

    def __repr__(self) -> str:
        return (
            f"ObserveFilter(tracing={'on' if self._tracer is not None else 'off'}, "
            f"metrics={'on' if self._metrics is not None else 'off'})"
        )


def _budget_event(wanted: str) -> None:
    """A retry or hedge the budget refused: an event on the current (logical) span."""
    span = trace.get_current_span()
    if span.is_recording():
        span.add_event(sc.EVENT_BUDGET_EXHAUSTED, {sc.FINPY_BUDGET_WANTED: wanted})


# -- each attempt --------------------------------------------------------------------------


class AttemptObserveFilter(Filter[Req, Rep]):
    """One attempt at one endpoint: its span, its count, the breaker transition it caused."""

    __slots__ = ("_attempt_attrs", "_breaker", "_methods", "_metrics", "_server_attrs", "_tracer")

    def __init__(
        self,
        *,
        tracer: trace.Tracer | None = None,
        metrics: ClientMetrics | None = None,
        rpc_system: str = "grpc",
        label: str = "",
        host: str | None = None,
        port: int | None = None,
        breaker: Any = None,
    ) -> None:
        self._tracer = tracer
        self._metrics = metrics
        self._methods = _Methods(rpc_system, label)
        server: dict[str, Any] = {}
        if host is not None:
            server[sc.SERVER_ADDRESS] = host
        if port is not None:
            server[sc.SERVER_PORT] = port
        self._server_attrs = server
        self._attempt_attrs: dict[tuple[int, str], dict[str, Any]] = {}
        #: The endpoint's failure-accrual breaker (anything with ``ejections``/``revivals``).
        self._breaker = breaker

    async def __call__(self, request: Req, service: Service[Req, Rep], /) -> Rep:
        call = _CALL.get()
        if call is not None:
            call.attempts += 1
        method = self._methods.of(request)
        reason = _KIND.get().value
        breaker = self._breaker
        before = (0, 0) if breaker is None else (breaker.ejections, breaker.revivals)
        span: Any = None
        ctx_token: object = None
        tracer = self._tracer
        if tracer is not None:
            span = tracer.start_span(
                method.attempt_name,
                kind=_INTERNAL,
                attributes=self._start_attributes(_ATTEMPT.get() or 1, reason),
            )
            ctx_token = _attach(_set_span_in_context(span))
        try:
            rep = await service(request)
        except BaseException as e:
            self._breaker_events(span, before)
            self._finish(method, reason, span, outcome_of_error(e), e)
            raise
        finally:
            if ctx_token is not None:
                _detach(ctx_token)  # type: ignore[arg-type]
        self._breaker_events(span, before)
        if isinstance(rep, Completion):
            rep.finpy_on_complete(functools.partial(self._finish_stream, method, reason, span, rep))
        else:
            self._finish(method, reason, span, OK, None)
        return rep

    def _start_attributes(self, number: int, reason: str) -> dict[str, Any]:
        """The endpoint, attempt number and reason (the RPC's identity is on the parent)."""
        key = (number, reason)
        attrs = self._attempt_attrs.get(key)
        if attrs is None:
            attrs = dict(self._server_attrs)
            attrs[sc.FINPY_ATTEMPT_NUMBER] = number
            attrs[sc.FINPY_ATTEMPT_REASON] = reason
            if len(self._attempt_attrs) < 64:
                self._attempt_attrs[key] = attrs
        return attrs

    def _breaker_events(self, span: Any, before: tuple[int, int]) -> None:
        """Record the ejection or revival this attempt's outcome caused, if any."""
        breaker = self._breaker
        if breaker is None:
            return
        ejected = breaker.ejections - before[0]
        revived = breaker.revivals - before[1]
        if ejected <= 0 and revived <= 0:
            return
        for event, transition, count in (
            (sc.EVENT_ENDPOINT_EJECTED, "ejected", ejected),
            (sc.EVENT_ENDPOINT_REVIVED, "revived", revived),
        ):
            if count <= 0:
                continue
            if span is not None:
                span.add_event(event, self._server_attrs)
            if self._metrics is not None:
                attrs = {sc.FINPY_BREAKER_TRANSITION: transition}
                if self._methods.label:
                    attrs[sc.FINPY_CLIENT] = self._methods.label
                self._metrics.breaker_transitions.add(count, attrs)

    def _finish_stream(self, method: _Method, reason: str, span: Any, response: object) -> None:
        self._finish(method, reason, span, outcome_of_response(response), None)

    def _finish(
        self,
        method: _Method,
        reason: str,
        span: Any,
        outcome: Outcome | None,
        error: BaseException | None,
    ) -> None:
        if self._metrics is not None and outcome is not None:
            self._metrics.attempts.add(1, method.attempt_attributes(reason, outcome))
        if span is not None:
            if outcome is not None:
                span.set_attributes(method.end_attributes(outcome))
                if outcome.error_type is not None:
                    span.set_status(
                        _ERROR,
                        description_of(error) if error is not None else outcome.status,
                    )
            span.end()

    def __repr__(self) -> str:
        where = self._server_attrs.get(sc.SERVER_ADDRESS, "?")
        return f"AttemptObserveFilter({where}:{self._server_attrs.get(sc.SERVER_PORT, '?')})"


def _find_breaker(service: object) -> Any:
    from finpy.balancer.stats import find_breaker

    return find_breaker(service)


class AttemptObserveModule(StackModule[Req, Rep]):
    """The ``attempt_observe`` module: an :class:`AttemptObserveFilter` per endpoint.

    A stack module rather than a plain filter module because it looks at the
    service below it for the endpoint's failure-accrual breaker.
    """

    def __init__(self, role: str = "attempt_observe") -> None:
        super().__init__(role, "one span per attempt; attempt counts; breaker transitions")

    def make(self, params: Params, next: Service[Req, Rep]) -> Service[Req, Rep]:
        from finpy.client import EndpointAddress, Label

        tracer = tracer_of(params)
        provider = meter_provider_of(params)
        if tracer is None and provider is None:
            return next
        address = params[EndpointAddress].address
        f: AttemptObserveFilter[Req, Rep] = AttemptObserveFilter(
            tracer=tracer,
            metrics=None if provider is None else metrics_for(provider),
            rpc_system=params[Telemetry].rpc_system,
            label=params[Label].name,
            host=None if address is None else address.host,
            port=None if address is None else address.port,
            breaker=_find_breaker(next),
        )
        return f.and_then(next)


def observe_module() -> FilterModule[Any, Any]:
    """The ``observe`` module of the client stack (its top)."""
    return FilterModule(
        "observe",
        ObserveFilter.from_params,
        "logical CLIENT span and call metrics (when OpenTelemetry is configured)",
    )


def attempt_observe_module() -> AttemptObserveModule[Any, Any]:
    """The ``attempt_observe`` module of the endpoint stack (its top)."""
    return AttemptObserveModule()
