"""gRPC helpers for :mod:`finpy.testing`: injected failures that look like server failures."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import grpc
import grpc.aio

from finpy.errors import ConfigurationError

__all__ = ["abort"]


def abort(
    code: grpc.StatusCode | str,
    details: str = "injected by finpy.testing",
    *,
    trailing_metadata: Sequence[tuple[str, str]] = (),
) -> Callable[[], grpc.aio.AioRpcError]:
    """A factory of ``grpc.aio.AioRpcError(code, details, trailing_metadata)`` for a Fault.

    ``code`` is a ``grpc.StatusCode`` or its name (``"UNAVAILABLE"``); a bad name is an
    error naming it.
    """
    if isinstance(code, str):
        status = getattr(grpc.StatusCode, code.upper(), None)
        if not isinstance(status, grpc.StatusCode):
            raise ConfigurationError(f"unknown gRPC status code {code!r}")
        code = status
    if not isinstance(code, grpc.StatusCode) or code is grpc.StatusCode.OK:
        raise ConfigurationError(f"abort needs a non-OK grpc.StatusCode, got {code!r}")
    trailers = tuple(trailing_metadata)
    final_code = code

    def make() -> grpc.aio.AioRpcError:
        return grpc.aio.AioRpcError(
            final_code, grpc.aio.Metadata(), grpc.aio.Metadata(*trailers), details, None
        )

    return make
