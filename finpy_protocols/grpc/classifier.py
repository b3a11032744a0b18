"""The gRPC response classifier: which failed calls may be sent again.

:class:`GrpcClassifier` is what every finpy gRPC client uses unless told
otherwise (``Channel(classifier=...)``, ``MethodConfig(classifier=...)``).
Its rules, in order (finpy's defaults, after Linkerd's ``grpc.default`` and
gRPC's retry design A6):

1. A call that returned is a ``SUCCESS`` (for a response stream: its first
   message arrived; later failures happen in the caller's hands and are never
   retried).
2. finpy's own errors follow :func:`finpy.retry.classify_finpy_error`: a
   request that never left (no endpoint ready, endpoint closed under it) is a
   ``REQUEUE``; a per-attempt timeout is retryable for idempotent methods.
3. ``UNAVAILABLE`` whose details show the connection was never made
   ("failed to connect", "Connection refused", ...) is a ``REQUEUE``: the
   request was not written, so it is safe even for non-idempotent methods.
4. A request stream (client- or bidi-streaming call with an iterator) can
   only be requeued by rule 2: once gRPC has the iterator it may have consumed
   messages that cannot be replayed, so nothing else is retried.
5. ``UNAVAILABLE`` is ``RETRYABLE`` for every method.
6. ``CANCELLED``, ``DEADLINE_EXCEEDED``, ``INTERNAL`` and
   ``RESOURCE_EXHAUSTED`` are ``RETRYABLE`` for methods declared idempotent
   (``MethodConfig(idempotent=True)``); every other code is not retryable.
7. Server pushback (``grpc-retry-pushback-ms`` in the trailing metadata): a
   non-negative integer makes the next attempt wait exactly that long; a
   negative or malformed value means "do not retry" and wins over rules 5-6.

The retry layer still decides whether a retryable failure *is* retried
(attempts left, deadline, budget).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import grpc

from finpy.errors import ConfigurationError
from finpy.retry.classifier import (
    Classification,
    ResponseClass,
    classify_finpy_error,
    is_idempotent,
)
from finpy_protocols.grpc.request import GrpcRequest

__all__ = [
    "DEFAULT_IDEMPOTENT_RETRYABLE_CODES",
    "DEFAULT_RETRYABLE_CODES",
    "GRPC_CLASSIFIER",
    "PUSHBACK_KEY",
    "GrpcClassifier",
    "Pushback",
    "never_sent",
    "retry_pushback",
]

_C = grpc.StatusCode

#: Codes retried for every method.
DEFAULT_RETRYABLE_CODES = frozenset({_C.UNAVAILABLE})
#: Codes retried for methods declared idempotent (Linkerd's ``grpc.default``).
DEFAULT_IDEMPOTENT_RETRYABLE_CODES = frozenset(
    {_C.CANCELLED, _C.DEADLINE_EXCEEDED, _C.INTERNAL, _C.RESOURCE_EXHAUSTED, _C.UNAVAILABLE}
)
#: The trailing-metadata key of server pushback (gRPC A6).
PUSHBACK_KEY = "grpc-retry-pushback-ms"

#: What grpc says (details / debug string) when a call failed before a connection existed.
_NOT_CONNECTED = (
    "failed to connect",
    "connection refused",
    "connect failed",
    "no route to host",
    "network is unreachable",
    "dns resolution failed",
    "name resolution failure",
)


@dataclass(frozen=True, slots=True)
class Pushback:
    """What a server's ``grpc-retry-pushback-ms`` said."""

    delay: float | None
    """Seconds to wait before the next attempt; ``None``: the server says do not retry."""


_REFUSED = Pushback(None)


def retry_pushback(metadata: Iterable[tuple[str, Any]] | None) -> Pushback | None:
    """The server pushback in ``metadata``, or ``None`` if the server sent none.

    A value that is not a non-negative integer of milliseconds (``-1``, ``1.5``,
    ``soon``) is the server asking the client not to retry (gRPC A6).
    """
    if not metadata:
        return None
    for key, value in metadata:
        if not isinstance(key, str) or key.lower() != PUSHBACK_KEY:
            continue
        text = value.decode("ascii", "replace") if isinstance(value, bytes) else str(value)
        text = text.strip()
        if not text.isascii() or not text.isdigit():
            return _REFUSED
        return Pushback(int(text) / 1000.0)
    return None


def never_sent(error: BaseException) -> bool:
    """Whether a gRPC error shows the call failed before any connection carried it."""
    code = getattr(error, "code", None)
    if not callable(code) or code() != _C.UNAVAILABLE:
        return False
    texts = []
    for attr in ("details", "debug_error_string"):
        fn = getattr(error, attr, None)
        if callable(fn):
            text = fn()
            if isinstance(text, str):
                texts.append(text.lower())
    return any(pattern in text for text in texts for pattern in _NOT_CONNECTED)


_SUCCESS = Classification(ResponseClass.SUCCESS)
_REQUEUE = Classification(ResponseClass.REQUEUE, reason="never connected")
_NOT_GRPC = Classification(ResponseClass.NON_RETRYABLE, reason="not a gRPC status")
_STREAM = Classification(
    ResponseClass.NON_RETRYABLE, reason="a request stream cannot be replayed once sent"
)
_REFUSED_CLS = Classification(
    ResponseClass.NON_RETRYABLE, reason="server pushback says do not retry"
)


class GrpcClassifier:
    """Classifies gRPC outcomes for retries (see the module docstring for the rules).

    Args:
        retryable_codes: codes retried for every method.
        idempotent_retryable_codes: codes retried for idempotent methods.
    """

    __slots__ = ("_by_code", "idempotent_retryable_codes", "retryable_codes")

    def __init__(
        self,
        *,
        retryable_codes: Iterable[grpc.StatusCode] = DEFAULT_RETRYABLE_CODES,
        idempotent_retryable_codes: Iterable[grpc.StatusCode] = DEFAULT_IDEMPOTENT_RETRYABLE_CODES,
    ) -> None:
        self.retryable_codes = frozenset(retryable_codes)
        self.idempotent_retryable_codes = frozenset(idempotent_retryable_codes)
        for code in self.retryable_codes | self.idempotent_retryable_codes:
            if not isinstance(code, grpc.StatusCode):
                raise ConfigurationError(f"not a grpc.StatusCode: {code!r}")
            if code is _C.OK:
                raise ConfigurationError("grpc.StatusCode.OK is not a failure to retry")
        # (retryable for all, retryable if idempotent) -> classification, made once
        self._by_code: dict[tuple[grpc.StatusCode, bool], Classification] = {}
        for code in _C:
            for idempotent in (False, True):
                if code in self.retryable_codes or (
                    idempotent and code in self.idempotent_retryable_codes
                ):
                    cls = Classification(ResponseClass.RETRYABLE, reason=code.name)
                elif code in self.idempotent_retryable_codes:
                    cls = Classification(
                        ResponseClass.NON_RETRYABLE,
                        reason=f"{code.name} (method not declared idempotent)",
                    )
                else:
                    cls = Classification(ResponseClass.NON_RETRYABLE, reason=code.name)
                self._by_code[code, idempotent] = cls

    def __call__(
        self, request: Any, response: Any, error: BaseException | None, /
    ) -> Classification:
        if error is None:
            return _SUCCESS
        request_stream = isinstance(request, GrpcRequest) and request.shape.request_streaming
        mine = classify_finpy_error(request, error)
        if mine is not None:
            if request_stream and mine.response_class is ResponseClass.RETRYABLE:
                return _STREAM
            return mine
        code_of = getattr(error, "code", None)
        if not isinstance(error, grpc.RpcError) or not callable(code_of):
            return _NOT_GRPC
        code = code_of()
        if not isinstance(code, grpc.StatusCode):
            return _NOT_GRPC
        if request_stream:
            return _STREAM
        if code is _C.UNAVAILABLE and never_sent(error):
            return _REQUEUE
        cls = self._by_code[code, is_idempotent(request)]
        trailing = getattr(error, "trailing_metadata", None)
        pushback = retry_pushback(trailing() if callable(trailing) else None)
        if pushback is None or cls.response_class is not ResponseClass.RETRYABLE:
            return cls
        if pushback.delay is None:
            return _REFUSED_CLS
        return Classification(
            ResponseClass.RETRYABLE,
            retry_after=pushback.delay,
            reason=f"{code.name}, server pushback {pushback.delay * 1000:g} ms",
        )

    def __repr__(self) -> str:
        names = sorted(c.name for c in self.retryable_codes)
        idem = sorted(c.name for c in self.idempotent_retryable_codes)
        return f"GrpcClassifier(retryable={names}, idempotent_retryable={idem})"


#: The classifier finpy gRPC channels use by default.
GRPC_CLASSIFIER = GrpcClassifier()
