"""How a benchmark call ended, as one status name.

Every client under test fails differently: ``grpc.aio`` raises
``AioRpcError``, finpy raises the same type (with finpy's own codes), tenacity
wraps the last failure in a ``RetryError``, a local timeout raises
``TimeoutError``.  The report groups failures by the canonical gRPC status
name, so :func:`status_of` reduces each of them to one.
"""

from __future__ import annotations

import asyncio

import grpc

from finpy.errors import FinpyError

__all__ = ["DROPPED", "LOADGEN_TIMEOUT", "OK", "status_of"]

OK = "OK"
#: A request the load generator did not send because too many were outstanding.
DROPPED = "CLIENT_DROPPED"
#: A call the load generator had to stop itself: the client ignored its deadline.
LOADGEN_TIMEOUT = "LOADGEN_TIMEOUT"


def status_of(error: BaseException | None) -> str:
    """``"OK"`` for no error, else the canonical status name of ``error``.

    Unknown exception types become ``"client:<TypeName>"`` so that a bug in a
    client under test shows up in the report instead of hiding in a count.
    """
    if error is None:
        return OK
    seen = 0
    while seen < 5:  # unwrap tenacity.RetryError (without importing tenacity here)
        last = getattr(error, "last_attempt", None)
        inner = last.exception() if last is not None and hasattr(last, "exception") else None
        if inner is None:
            break
        error = inner
        seen += 1
    if isinstance(error, grpc.RpcError):
        code = getattr(error, "code", None)
        if callable(code):
            value = code()
            if isinstance(value, grpc.StatusCode):
                return value.name
    if isinstance(error, FinpyError):
        return error.status
    if isinstance(error, (asyncio.TimeoutError, TimeoutError)):
        return "DEADLINE_EXCEEDED"
    return f"client:{type(error).__name__}"
