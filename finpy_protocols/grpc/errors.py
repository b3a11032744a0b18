"""How finpy's own failures look to gRPC code.

Failures a server returned reach the caller unchanged (the original
``grpc.aio.AioRpcError``, code, details and metadata).  finpy's own failures
(:class:`finpy.FinpyError`) are raised at the gRPC surface as a
:class:`FinpyRpcError`: a ``grpc.aio.AioRpcError`` with the proper status code
and a detail saying what finpy did, which is *also* an instance of the
original finpy error class, so both ``except grpc.aio.AioRpcError`` (reading
``.code()``) and ``except finpy.NoEndpointsError`` work.
"""

from __future__ import annotations

from typing import Any

import grpc
import grpc.aio

from finpy.errors import FinpyError

__all__ = ["FinpyRpcError", "status_code_of", "to_rpc_error"]


class FinpyRpcError(grpc.aio.AioRpcError):
    """A finpy failure seen through gRPC's error type."""

    #: The finpy error behind this gRPC error.
    finpy_error: FinpyError


_CLASSES: dict[type[FinpyError], type[FinpyRpcError]] = {}


def status_code_of(name: str) -> grpc.StatusCode:
    """The ``grpc.StatusCode`` of a canonical status name (``UNKNOWN`` if unknown)."""
    return getattr(grpc.StatusCode, name, grpc.StatusCode.UNKNOWN)


def _class_for(kind: type[FinpyError]) -> type[FinpyRpcError]:
    cls = _CLASSES.get(kind)
    if cls is None:
        cls = type(f"{kind.__name__}RpcError", (FinpyRpcError, kind), {"__module__": __name__})
        _CLASSES[kind] = cls
    return cls


def to_rpc_error(error: FinpyError, *, context: str = "") -> FinpyRpcError:
    """``error`` as a :class:`FinpyRpcError` whose details say what finpy did."""
    cls = _class_for(type(error))
    rpc: Any = cls.__new__(cls)
    details = f"finpy: {error}" + (f" ({context})" if context else "")
    grpc.aio.AioRpcError.__init__(
        rpc, status_code_of(error.status), grpc.aio.Metadata(), grpc.aio.Metadata(), details, None
    )
    rpc.finpy_error = error
    rpc.args = (details,)
    rpc.__dict__.update({k: v for k, v in vars(error).items() if not k.startswith("_")})
    rpc.__cause__ = error
    return rpc  # type: ignore[no-any-return]
