"""Server side: the incoming call's deadline, trace and cancellation, for nested finpy calls.

Open-source gRPC Python does not carry a deadline from the call a server is
handling to the calls it makes while handling it (grpc/grpc#18358, #26236):
a request that timed out upstream keeps work going three services down.
Install finpy's interceptor and every finpy call made while serving inherits
the incoming call's context::

    server = grpc.aio.server(interceptors=[finpy_protocols.grpc.ServerInterceptor()])
    server = grpc.server(pool, interceptors=[finpy_protocols.grpc.SyncServerInterceptor()])

For each incoming call it

* turns the time the caller has left (``grpc-timeout``, read through
  ``context.time_remaining()``) into the finpy deadline of the handler, so an
  outgoing call gets the earlier of its own timeout and what is left of the
  incoming one, and a call made after that deadline has passed fails locally
  (``DEADLINE_EXCEEDED``) without being sent;
* extracts the W3C trace context from the incoming metadata (with the global
  OpenTelemetry propagator) and makes it current, so outgoing calls continue
  the caller's trace; with a real tracer provider it also records a SERVER span
  (``server_spans=False`` leaves that to another instrumentation);
* makes the call available as :func:`current_incoming_call` (method, deadline,
  cancellation callbacks);
* links cancellation: ``grpc.aio`` cancels the handler's task when the caller
  cancels or the deadline passes, and finpy calls awaited in that task are
  cancelled with it (their ``grpc.aio`` calls too, so the server below sees
  the cancellation).  Sync handlers run finpy calls with :func:`run_async`,
  which cancels them when the incoming call ends early.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import inspect
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any, TypeVar

import grpc
import grpc.aio
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, StatusCode

from finpy.clock import SYSTEM_CLOCK
from finpy.context import _DEADLINE
from finpy.errors import ConfigurationError
from finpy.observe import semconv as sc
from finpy.observe.outcome import OK, Outcome, description_of, outcome_of_error
from finpy.observe.telemetry import Telemetry, tracer_provider_or_none

__all__ = [
    "IncomingCall",
    "ServerInterceptor",
    "SyncServerInterceptor",
    "current_incoming_call",
    "run_async",
]

T = TypeVar("T")

#: ``time_remaining()`` above this means "no deadline" (sync grpc reports ~9.2e18).
_UNBOUNDED = 1e9


class IncomingCall:
    """The call a server handler is serving: method, deadline and cancellation.

    ``deadline`` is absolute on finpy's clock (the loop's, ``time.monotonic``);
    callbacks added with :meth:`add_cancel_callback` run once if the call ends
    (cancelled by the caller, deadline passed, connection lost) before the
    handler has returned.  Thread-safe: sync servers end calls on their own
    threads.
    """

    __slots__ = ("_callbacks", "_cancelled", "_finished", "_lock", "deadline", "method")

    def __init__(self, method: str, deadline: float | None) -> None:
        self.method = method
        self.deadline = deadline
        self._callbacks: list[Callable[[], object]] = []
        self._cancelled = False
        self._finished = False
        self._lock = threading.Lock()

    @property
    def cancelled(self) -> bool:
        """Whether the call ended before its handler did."""
        return self._cancelled

    def add_cancel_callback(self, callback: Callable[[], object]) -> Callable[[], None]:
        """Run ``callback`` if the call is cancelled (now, if it already was); returns a remover."""
        with self._lock:
            if not self._cancelled:
                self._callbacks.append(callback)
                return lambda: self._remove(callback)
        callback()
        return lambda: None

    def _remove(self, callback: Callable[[], object]) -> None:
        with self._lock, contextlib.suppress(ValueError):
            self._callbacks.remove(callback)

    def _handler_done(self) -> None:
        with self._lock:
            self._finished = True
            self._callbacks.clear()

    def _terminated(self, *_: object) -> None:
        """The RPC ended; if the handler had not, it was cancelled."""
        with self._lock:
            if self._finished or self._cancelled:
                return
            self._cancelled = True
            callbacks, self._callbacks = self._callbacks, []
        for cb in callbacks:
            with contextlib.suppress(Exception):
                cb()

    def __repr__(self) -> str:
        state = "cancelled" if self._cancelled else "done" if self._finished else "active"
        return f"IncomingCall({self.method!r}, {state})"


_INCOMING: contextvars.ContextVar[IncomingCall | None] = contextvars.ContextVar(
    "finpy_incoming_call", default=None
)


def current_incoming_call() -> IncomingCall | None:
    """The incoming call being served by this task/thread (``None`` outside a handler)."""
    return _INCOMING.get()


# -- what each interceptor does around a handler ---------------------------------------------


class _Instrumentation:
    """The per-server part: propagator fields, tracer (resolved on first use)."""

    __slots__ = ("_provider", "_resolved", "_server_spans", "_tracer")

    def __init__(self, tracer_provider: Any, server_spans: bool) -> None:
        if not isinstance(server_spans, bool):
            raise ConfigurationError(f"server_spans must be True or False, got {server_spans!r}")
        if tracer_provider is not None and not callable(
            getattr(tracer_provider, "get_tracer", None)
        ):
            raise ConfigurationError(
                f"tracer_provider must be an OpenTelemetry TracerProvider, got {tracer_provider!r}"
            )
        self._provider = tracer_provider
        self._server_spans = server_spans
        self._tracer: trace.Tracer | None = None
        self._resolved = False

    def tracer(self) -> trace.Tracer | None:
        if not self._resolved:  # once: the global provider is set up before serving starts
            provider = (
                tracer_provider_or_none(Telemetry(tracer_provider=self._provider))
                if self._server_spans
                else None
            )
            self._tracer = None if provider is None else provider.get_tracer(sc.SCOPE_NAME)
            self._resolved = True
        return self._tracer


class _Scope:
    """Enter/exit the incoming call's context (deadline, trace, span) around a handler."""

    __slots__ = ("_deadline_token", "_incoming_token", "_otel_token", "incoming", "span")

    def __init__(self, inst: _Instrumentation, method: str, metadata: Any, context: Any) -> None:
        remaining = _time_remaining(context)
        deadline = None if remaining is None else SYSTEM_CLOCK.now() + remaining
        self.incoming = IncomingCall(method, deadline)
        ctx = _extract(metadata)
        tracer = inst.tracer()
        self.span: Any = None
        if tracer is not None:
            self.span = tracer.start_span(
                method.lstrip("/") or "unknown",
                context=ctx,
                kind=SpanKind.SERVER,
                attributes=_server_attributes(method),
            )
            ctx = trace.set_span_in_context(self.span, ctx)
        self._otel_token = None if ctx is None else otel_context.attach(ctx)
        outer = _DEADLINE.get()
        if deadline is not None and outer is not None and outer < deadline:
            deadline = outer
        self._deadline_token = _DEADLINE.set(deadline)
        self._incoming_token = _INCOMING.set(self.incoming)

    def exit(self, error: BaseException | None, context: Any) -> None:
        if isinstance(error, asyncio.CancelledError):  # grpc.aio cancelled the handler's task
            self.incoming._terminated()
        self.incoming._handler_done()
        span = self.span
        if span is not None:
            outcome = _server_outcome(error, context)
            span.set_attribute(sc.RPC_GRPC_STATUS_CODE, outcome.code)
            if outcome.error_type is not None:
                span.set_attribute(sc.ERROR_TYPE, outcome.error_type)
                span.set_status(StatusCode.ERROR, _server_description(error, context, outcome))
            span.end()
        with contextlib.suppress(ValueError):  # reset from another context (a GC'd stream)
            _INCOMING.reset(self._incoming_token)
            _DEADLINE.reset(self._deadline_token)
        if self._otel_token is not None:
            with contextlib.suppress(Exception):
                otel_context.detach(self._otel_token)


def _server_description(error: BaseException | None, context: Any, outcome: Outcome) -> str:
    """The details the handler set (``abort(code, details)``), else the error, else the code."""
    details_of = getattr(context, "details", None)
    details = details_of() if callable(details_of) else None
    if isinstance(details, bytes):
        details = details.decode("utf-8", "replace")
    if isinstance(details, str) and details:
        return details
    return description_of(error) if error is not None else outcome.status


def _time_remaining(context: Any) -> float | None:
    read = getattr(context, "time_remaining", None)
    if not callable(read):
        return None
    remaining = read()
    if remaining is None or remaining > _UNBOUNDED:
        return None
    return max(0.0, float(remaining))


def _extract(metadata: Any) -> otel_context.Context | None:
    """The context the caller propagated, or ``None`` if the metadata carries none."""
    if not metadata:
        return None
    fields = propagate.get_global_textmap().fields
    carrier: dict[str, str] = {}
    for item in metadata:
        key, value = item
        if key in fields and isinstance(value, str):
            carrier[key] = value
    if not carrier:
        return None
    return propagate.extract(carrier)


def _server_attributes(method: str) -> dict[str, str]:
    service, _, name = method.lstrip("/").rpartition("/")
    attrs = {sc.RPC_SYSTEM: "grpc", sc.RPC_METHOD: name or "unknown"}
    if service:
        attrs[sc.RPC_SERVICE] = service
    return attrs


def _server_outcome(error: BaseException | None, context: Any) -> Outcome:
    code_of = getattr(context, "code", None)
    code = code_of() if callable(code_of) else None
    name = getattr(code, "name", None)
    if isinstance(name, str) and name in sc.CANONICAL_CODES:  # abort() or set_code()
        return OK if name == "OK" else outcome_of_error(_Coded(code))
    if error is None:
        return OK
    if isinstance(error, asyncio.CancelledError):
        return outcome_of_error(error)
    return outcome_of_error(_Coded(grpc.StatusCode.UNKNOWN))


class _Coded(Exception):
    """A status code seen as a protocol error (for :func:`outcome_of_error`)."""

    def __init__(self, code: Any) -> None:
        super().__init__(getattr(code, "name", "UNKNOWN"))
        self._code = code

    def code(self) -> Any:
        return self._code


# -- wrapping handlers -----------------------------------------------------------------------

_KINDS = ("unary_unary", "unary_stream", "stream_unary", "stream_stream")
_FACTORIES = {
    "unary_unary": grpc.unary_unary_rpc_method_handler,
    "unary_stream": grpc.unary_stream_rpc_method_handler,
    "stream_unary": grpc.stream_unary_rpc_method_handler,
    "stream_stream": grpc.stream_stream_rpc_method_handler,
}


def _wrap(handler: Any, wrap: Callable[[Callable[..., Any]], Callable[..., Any]]) -> Any:
    for kind in _KINDS:
        behavior = getattr(handler, kind, None)
        if behavior is not None:
            return _FACTORIES[kind](
                wrap(behavior),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
    return handler


def _aio_wrapper(
    inst: _Instrumentation, method: str, metadata: Any
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def wrap(behavior: Callable[..., Any]) -> Callable[..., Any]:
        if inspect.isasyncgenfunction(behavior):

            async def stream(request: Any, context: Any) -> AsyncIterator[Any]:
                scope = _Scope(inst, method, metadata, context)
                _on_done(context, scope.incoming)
                error: BaseException | None = None
                try:
                    async for item in behavior(request, context):
                        yield item
                except BaseException as e:
                    error = e
                    raise
                finally:
                    scope.exit(error, context)

            return stream
        if inspect.iscoroutinefunction(behavior):

            async def call(request: Any, context: Any) -> Any:
                scope = _Scope(inst, method, metadata, context)
                _on_done(context, scope.incoming)
                try:
                    result = await behavior(request, context)
                except BaseException as e:
                    scope.exit(e, context)
                    raise
                scope.exit(None, context)
                return result

            return call
        return _sync_wrapper(inst, method, metadata)(behavior)

    return wrap


def _on_done(context: Any, incoming: IncomingCall) -> None:
    add = getattr(context, "add_done_callback", None) or getattr(context, "add_callback", None)
    if callable(add):
        with contextlib.suppress(Exception):
            add(incoming._terminated)


def _sync_wrapper(
    inst: _Instrumentation, method: str, metadata: Any
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def wrap(behavior: Callable[..., Any]) -> Callable[..., Any]:
        def call(request: Any, context: Any) -> Any:
            # A context of its own per call: sync servers reuse their threads.
            ctx = contextvars.copy_context()
            scope = ctx.run(_Scope, inst, method, metadata, context)
            _on_done(context, scope.incoming)
            try:
                result = ctx.run(behavior, request, context)
            except BaseException as e:
                ctx.run(scope.exit, e, context)
                raise
            if inspect.isgenerator(result):
                return _stream(ctx, scope, result, context)
            ctx.run(scope.exit, None, context)
            return result

        return call

    return wrap


def _stream(
    ctx: contextvars.Context, scope: _Scope, items: Iterator[Any], context: Any
) -> Iterator[Any]:
    error: BaseException | None = None
    try:
        while True:
            try:
                item = ctx.run(next, items)
            except StopIteration:
                return
            yield item
    except BaseException as e:
        error = e
        raise
    finally:
        ctx.run(scope.exit, error, context)


class ServerInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[type-arg]
    """``grpc.aio`` server interceptor: deadline, trace context and cancellation for finpy.

    Args:
        tracer_provider: where SERVER spans go (default: the global provider; no
            spans while none is set up).  The incoming trace context is made
            current either way, so outgoing calls continue the caller's trace.
        server_spans: ``False`` to record no SERVER span (when another
            instrumentation already does).
    """

    def __init__(self, *, tracer_provider: Any = None, server_spans: bool = True) -> None:
        self._inst = _Instrumentation(tracer_provider, server_spans)

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Any],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Any:
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        metadata = handler_call_details.invocation_metadata
        return _wrap(handler, _aio_wrapper(self._inst, method, metadata))

    def __repr__(self) -> str:
        return "finpy ServerInterceptor()"


class SyncServerInterceptor(grpc.ServerInterceptor):  # type: ignore[type-arg]
    """``grpc.server`` (thread pool) interceptor; see :class:`ServerInterceptor`.

    Handlers run finpy (asyncio) calls with :func:`run_async`, which carries the
    deadline and trace context into the coroutine and cancels it when the
    incoming call ends early.
    """

    def __init__(self, *, tracer_provider: Any = None, server_spans: bool = True) -> None:
        self._inst = _Instrumentation(tracer_provider, server_spans)

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Any],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Any:
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        metadata = handler_call_details.invocation_metadata
        return _wrap(handler, _sync_wrapper(self._inst, method, metadata))

    def __repr__(self) -> str:
        return "finpy SyncServerInterceptor()"


def run_async(coro: Coroutine[Any, Any, T], *, loop: asyncio.AbstractEventLoop | None = None) -> T:
    """Run ``coro`` from a sync handler, inside the incoming call's context; wait for it.

    With ``loop`` (an event loop running in another thread, where the finpy
    channels live) the coroutine runs there; without, on a new loop in this
    thread.  Either way it sees the incoming deadline and trace context, and it
    is cancelled if the incoming call is cancelled or its deadline passes.
    """
    incoming = _INCOMING.get()
    if loop is not None:
        future = asyncio.run_coroutine_threadsafe(coro, loop)  # copies this thread's context
        remove = (
            incoming.add_cancel_callback(future.cancel) if incoming is not None else lambda: None
        )
        try:
            return future.result()
        except concurrent.futures.CancelledError:
            raise asyncio.CancelledError() from None
        finally:
            remove()
    own = asyncio.new_event_loop()
    try:
        task = own.create_task(coro)  # copies this thread's context
        remove = (
            incoming.add_cancel_callback(lambda: own.call_soon_threadsafe(task.cancel))
            if incoming is not None
            else lambda: None
        )
        try:
            return own.run_until_complete(task)
        finally:
            remove()
    finally:
        with contextlib.suppress(Exception):
            own.run_until_complete(own.shutdown_asyncgens())
        own.close()
