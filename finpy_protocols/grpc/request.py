"""The finpy request and response of one gRPC call.

The channel surface turns a stub call into a :class:`GrpcRequest`, which then
travels down the client stack to one endpoint's transport; the transport
answers with a :class:`UnaryResponse` (the whole answer of a call with a
single response message) or a :class:`StreamResponse` (a call whose responses
are still arriving).  Streams count as in flight on their endpoint until they
end (``finpy_on_complete``).

For server-streaming calls whose requests are already known, the transport
reads the *first* response message before returning: a failure before any
response (the only failure that is safe to retry for a stream) then surfaces
inside the stack, where retries and failure accrual see it.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any

import grpc
import grpc.aio

from finpy.method import MethodConfig

__all__ = ["EOF", "CallShape", "GrpcRequest", "GrpcResponse", "StreamResponse", "UnaryResponse"]

#: grpc's end-of-stream marker, re-exported.
EOF: Any = grpc.aio.EOF  # type: ignore[attr-defined]

Metadata = tuple[tuple[str, str | bytes], ...]


class CallShape(enum.Enum):
    """The four gRPC call shapes."""

    UNARY_UNARY = "unary_unary"
    UNARY_STREAM = "unary_stream"
    STREAM_UNARY = "stream_unary"
    STREAM_STREAM = "stream_stream"

    @property
    def request_streaming(self) -> bool:
        return self in (CallShape.STREAM_UNARY, CallShape.STREAM_STREAM)

    @property
    def response_streaming(self) -> bool:
        return self in (CallShape.UNARY_STREAM, CallShape.STREAM_STREAM)


class GrpcRequest:
    """One gRPC call on its way down the stack."""

    __slots__ = (
        "compression",
        "credentials",
        "deserializer",
        "message",
        "metadata",
        "method",
        "method_config",
        "serializer",
        "shape",
        "wait_for_ready",
    )

    def __init__(
        self,
        method: str,
        shape: CallShape,
        message: Any,
        *,
        serializer: Callable[[Any], bytes] | None = None,
        deserializer: Callable[[bytes], Any] | None = None,
        metadata: Metadata | None = None,
        credentials: grpc.CallCredentials | None = None,
        wait_for_ready: bool | None = None,
        compression: grpc.Compression | None = None,
        method_config: MethodConfig | None = None,
    ) -> None:
        #: Full method path, ``/package.Service/Method``.
        self.method = method
        self.shape = shape
        #: The request message; for request-streaming calls an iterator of
        #: messages, or ``None`` when the caller will use ``write()``.
        self.message = message
        self.serializer = serializer
        self.deserializer = deserializer
        self.metadata = metadata
        self.credentials = credentials
        self.wait_for_ready = wait_for_ready
        self.compression = compression
        self.method_config = method_config if method_config is not None else MethodConfig()

    @property
    def service_name(self) -> str:
        """``package.Service`` part of the method path."""
        return self.method.lstrip("/").rpartition("/")[0]

    @property
    def method_name(self) -> str:
        """``Method`` part of the method path."""
        return self.method.rpartition("/")[2]

    def __repr__(self) -> str:
        return f"GrpcRequest({self.method!r}, {self.shape.value})"


class UnaryResponse:
    """The complete answer of a call with a single response message."""

    __slots__ = ("call", "message")

    def __init__(self, message: Any, call: Any) -> None:
        self.message = message
        #: The underlying ``grpc.aio`` call (metadata, code, details).
        self.call = call

    def __repr__(self) -> str:
        return f"UnaryResponse({type(self.message).__name__})"


class _Nothing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<nothing>"


NOTHING: Any = _Nothing()


class StreamResponse:
    """A call whose responses are still to be read (and/or requests to be written)."""

    __slots__ = ("call", "first")

    def __init__(self, call: Any, first: Any = NOTHING) -> None:
        #: The underlying ``grpc.aio`` call.
        self.call = call
        #: The first response message (or ``EOF``), if the transport read it already.
        self.first = first

    def take_first(self) -> Any:
        """Return the prefetched message once (``NOTHING`` if there is none)."""
        first, self.first = self.first, NOTHING
        return first

    def finpy_on_complete(self, callback: Callable[[], None]) -> None:
        self.call.add_done_callback(lambda _call: callback())

    def __repr__(self) -> str:
        return f"StreamResponse(prefetched={self.first is not NOTHING})"


GrpcResponse = UnaryResponse | StreamResponse
