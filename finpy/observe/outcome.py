"""How a call or an attempt ended, in the terms spans and metrics record.

An :class:`Outcome` is a canonical status (``OK``, ``UNAVAILABLE``, ...), its
number (``rpc.grpc.status_code``) and the ``error.type`` the conventions ask
for: the status name when a server answered with an error status, the
exception's qualified class name when the call failed before any status
(finpy's own failures: no endpoints, deadline passed locally, ...).

Outcomes are interned (one object per status or per exception class), so
recording one allocates nothing.  The protocol is read by duck typing: an
exception whose ``code()`` returns an enum with a canonical ``name`` (every
``grpc.RpcError``) is a status answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from finpy.errors import FinpyError
from finpy.observe.semconv import CANONICAL_CODES

__all__ = ["OK", "Outcome", "description_of", "outcome_of_error", "outcome_of_response"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """The end of a call: canonical status, its number, and ``error.type`` (``None``: success)."""

    status: str
    code: int
    error_type: str | None

    @property
    def ok(self) -> bool:
        return self.error_type is None


OK = Outcome("OK", 0, None)
_CANCELLED = Outcome("CANCELLED", 1, "CANCELLED")
_BY_STATUS: dict[str, Outcome] = {"OK": OK, "CANCELLED": _CANCELLED}
_BY_CLASS: dict[type[BaseException], Outcome] = {}


def _status_outcome(name: str) -> Outcome:
    out = _BY_STATUS.get(name)
    if out is None:
        out = _BY_STATUS[name] = Outcome(name, CANONICAL_CODES[name], name)
    return out


def _qualified(cls: type[BaseException]) -> str:
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


def _status_name(error: BaseException) -> str | None:
    """The canonical status a protocol error carries (``error.code().name``), if any."""
    code = getattr(error, "code", None)
    if not callable(code):
        return None
    try:
        value = code()
    except Exception:
        return None
    name = getattr(value, "name", None)
    return name if isinstance(name, str) and name in CANONICAL_CODES else None


def outcome_of_error(error: BaseException) -> Outcome:
    """The outcome of a call that raised ``error``."""
    if isinstance(error, asyncio.CancelledError):
        return _CANCELLED
    if not isinstance(error, FinpyError):
        name = _status_name(error)
        if name is not None:
            return _status_outcome(name)
    cls = type(error)
    out = _BY_CLASS.get(cls)
    if out is None:
        status = error.status if isinstance(error, FinpyError) else "UNKNOWN"
        if len(_BY_CLASS) > 256:  # exception classes made on the fly: keep the cache bounded
            _BY_CLASS.clear()
        out = _BY_CLASS[cls] = Outcome(status, CANONICAL_CODES.get(status, 2), _qualified(cls))
    return out


def description_of(error: BaseException) -> str:
    """A short human description for a span's status (a gRPC error's details)."""
    details = getattr(error, "details", None)
    if callable(details) and not isinstance(error, FinpyError):
        try:
            text = details()
        except Exception:
            text = None
        if isinstance(text, str) and text:
            return text
    text = str(error)
    return text if text else type(error).__name__


def _result_now(coro: Coroutine[Any, Any, Any]) -> Any:
    """The result of a coroutine that can finish without waiting (else ``None``)."""
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value
    except Exception:
        return None
    coro.close()  # it would have to wait: the outcome is not known yet
    return None


def outcome_of_response(response: Any) -> Outcome | None:
    """The final status of a finished streaming response (``None`` if it cannot be read).

    For gRPC the response's ``call.code()`` is a coroutine that returns at once
    once the call is done, which is when completion callbacks run.
    """
    call = getattr(response, "call", None)
    code = getattr(call, "code", None)
    if not callable(code):
        return None
    try:
        value = code()
    except Exception:
        return None
    if isinstance(value, Coroutine):
        value = _result_now(value)
    name = getattr(value, "name", None)
    if not isinstance(name, str) or name not in CANONICAL_CODES:
        return None
    return _status_outcome(name)
