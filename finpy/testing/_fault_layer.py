"""The fault layer of a test backend: a server interceptor that applies a Behavior.

It wraps every method handler of every service on the server, so faults apply to any
service a test registers, not just Echo. Per call, in order: count the attempt; reject
it at once with RESOURCE_EXHAUSTED if ``capacity`` calls are in flight; wait the
latency (plus the tail latency when drawn); fail with the injected error when drawn;
otherwise run the real handler and count its outcome. Streaming calls get all of this
before their first message.

Everything here runs on the cluster's loop thread; the counters are also read from
test threads, hence their lock.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import grpc
import grpc.aio

from finpy.testing.behavior import Behavior
from finpy.testing.statistics import BackendStatistics

if TYPE_CHECKING:
    _Interceptor = grpc.aio.ServerInterceptor[Any, Any]
else:
    _Interceptor = grpc.aio.ServerInterceptor

__all__ = ["CallCounters", "FaultInterceptor"]

_DEADLINE_SLACK = 0.05  # seconds


class CallCounters:
    """Thread-safe counters of the calls one backend received."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_method: Counter[str] = Counter()
        self._successes = 0
        self._failures: Counter[grpc.StatusCode] = Counter()
        self._injected = 0
        self._rejected = 0
        self._in_flight = 0
        self._max_in_flight = 0

    @property
    def attempts(self) -> int:
        """Calls received."""
        with self._lock:
            return self._by_method.total()

    def enter(self, method: str, capacity: int | None) -> bool:
        """Count an attempt; admit it (True) unless ``capacity`` calls are in flight."""
        with self._lock:
            self._by_method[method] += 1
            if capacity is not None and self._in_flight >= capacity:
                self._rejected += 1
                self._failures[grpc.StatusCode.RESOURCE_EXHAUSTED] += 1
                return False
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
            return True

    def leave(self, code: grpc.StatusCode, *, injected: bool = False) -> None:
        """Count the outcome of an admitted call."""
        with self._lock:
            self._in_flight -= 1
            if code is grpc.StatusCode.OK:
                self._successes += 1
            else:
                self._failures[code] += 1
                self._injected += injected

    def reset(self) -> None:
        """Zero the counts; calls in flight stay in flight."""
        with self._lock:
            self._by_method.clear()
            self._successes = 0
            self._failures.clear()
            self._injected = 0
            self._rejected = 0
            self._max_in_flight = self._in_flight

    def snapshot(self, name: str, address: str, listening: bool) -> BackendStatistics:
        """A frozen copy of the counts."""
        with self._lock:
            return BackendStatistics(
                name=name,
                address=address,
                listening=listening,
                attempts=self._by_method.total(),
                attempts_by_method=dict(self._by_method),
                successes=self._successes,
                failures=dict(self._failures),
                injected_errors=self._injected,
                rejected_over_capacity=self._rejected,
                in_flight=self._in_flight,
                max_in_flight=self._max_in_flight,
            )


def _outcome(exc: BaseException, context: grpc.aio.ServicerContext[Any, Any]) -> grpc.StatusCode:
    """The status a call ends with when its handler raised ``exc``."""
    if isinstance(exc, (asyncio.CancelledError, GeneratorExit)):
        # The client's deadline fires a little before the server's (the request took
        # time to arrive), so a cancel that close to the deadline is the deadline.
        remaining = context.time_remaining()
        expired = remaining is not None and remaining <= _DEADLINE_SLACK
        return grpc.StatusCode.DEADLINE_EXCEEDED if expired else grpc.StatusCode.CANCELLED
    if isinstance(exc, grpc.aio.AbortError):
        return _code_of(context, default=grpc.StatusCode.UNKNOWN)
    return grpc.StatusCode.UNKNOWN


def _code_of(
    context: grpc.aio.ServicerContext[Any, Any], default: grpc.StatusCode = grpc.StatusCode.OK
) -> grpc.StatusCode:
    code = context.code()
    return code if isinstance(code, grpc.StatusCode) else default


class FaultInterceptor(_Interceptor):
    """Applies the owner's current :class:`Behavior` to every call of every service."""

    def __init__(self, name: str, behavior: Callable[[], Behavior], counters: CallCounters):
        self._name = name
        self._behavior = behavior
        self._counters = counters

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Any],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Any:
        handler: grpc.RpcMethodHandler[Any, Any] | None = await continuation(handler_call_details)
        if handler is None:  # unknown method: grpc answers UNIMPLEMENTED
            return None
        return self._wrap(handler, handler_call_details.method)

    async def _admit(self, method: str, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        """Apply capacity, latency and injected errors; return if the call may proceed."""
        behavior = self._behavior()
        if not self._counters.enter(method, behavior.capacity):
            await context.abort(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"{self._name} is over capacity ({behavior.capacity} calls in flight)",
            )
        try:
            delay, fail = behavior.draw()
            if delay > 0:
                await asyncio.sleep(delay)
        except BaseException as exc:
            self._counters.leave(_outcome(exc, context))
            raise
        if fail and behavior.error_code is not None:
            self._counters.leave(behavior.error_code, injected=True)
            await context.abort(
                behavior.error_code, behavior.error_details, behavior.trailing_metadata
            )

    def _wrap(self, handler: grpc.RpcMethodHandler[Any, Any], method: str) -> Any:
        serde = {
            "request_deserializer": handler.request_deserializer,
            "response_serializer": handler.response_serializer,
        }
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                self._unary_response(handler.unary_unary, method), **serde
            )
        if handler.stream_unary is not None:
            return grpc.stream_unary_rpc_method_handler(
                self._unary_response(handler.stream_unary, method), **serde
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                self._stream_response(handler.unary_stream, method), **serde
            )
        if handler.stream_stream is not None:
            return grpc.stream_stream_rpc_method_handler(
                self._stream_response(handler.stream_stream, method), **serde
            )
        return handler  # pragma: no cover - grpc handlers always have one shape

    def _unary_response(self, behavior: Callable[..., Any], method: str) -> Callable[..., Any]:
        async def faulty(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            await self._admit(method, context)
            code = grpc.StatusCode.OK
            try:
                response = behavior(request, context)
                if inspect.isawaitable(response):
                    response = await response
                code = _code_of(context)
                return response
            except BaseException as exc:
                code = _outcome(exc, context)
                raise
            finally:
                self._counters.leave(code)

        return faulty

    def _stream_response(self, behavior: Callable[..., Any], method: str) -> Callable[..., Any]:
        if inspect.iscoroutinefunction(behavior):
            # A handler that writes with context.write() and returns None.
            return self._unary_response(behavior, method)

        async def faulty(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            await self._admit(method, context)
            code = grpc.StatusCode.OK
            try:
                async for response in _responses(behavior(request, context)):
                    yield response
                code = _code_of(context)
            except BaseException as exc:
                code = _outcome(exc, context)
                raise
            finally:
                self._counters.leave(code)

        return faulty


async def _responses(responses: Any) -> AsyncIterator[Any]:
    """Iterate a handler's responses, async or not, and close them when done or cancelled."""
    try:
        if hasattr(responses, "__aiter__"):
            async for response in responses:
                yield response
        else:
            for response in responses:
                yield response
    finally:
        aclose = getattr(responses, "aclose", None)
        if aclose is not None:
            await aclose()
