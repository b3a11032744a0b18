"""The one error hierarchy of finpy.

Every failure that finpy itself produces (as opposed to a failure a backend
returned, which is passed through untouched) is a :class:`FinpyError`::

    FinpyError
    ├── ConfigurationError        bad configuration or input (also a ValueError)
    │   └── TargetError           a target URI that no resolver understands
    ├── ServiceClosedError        the client/service was closed
    ├── NoEndpointsError          nothing to send the request to        [never sent]
    ├── ResolutionError           service discovery failed              [never sent]
    ├── DeadlineExceededError     the caller's deadline passed
    │   └── AttemptTimeoutError   one attempt took longer than its own timeout
    └── RejectedError             refused locally (admission, budget, fault)
        └── BudgetExhaustedError  a retry/hedge was wanted but the budget is empty

Each class carries the canonical status name (``status``) that protocol
adapters use when they surface the error (gRPC: ``UNAVAILABLE``,
``DEADLINE_EXCEEDED``, ...), and ``request_sent``: whether any byte of the
request may have reached a server.  ``request_sent = False`` is what makes a
request safe to *requeue* even when it is not idempotent.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "AttemptTimeoutError",
    "BudgetExhaustedError",
    "ConfigurationError",
    "DeadlineExceededError",
    "FinpyError",
    "NoEndpointsError",
    "RejectedError",
    "ResolutionError",
    "ServiceClosedError",
    "TargetError",
]


class FinpyError(Exception):
    """Base class of every error finpy raises on its own account."""

    #: Canonical (gRPC-style) status name used when the error crosses a protocol surface.
    status: ClassVar[str] = "UNKNOWN"
    #: Whether the request may have reached a server (``False``: safe to requeue).
    request_sent: ClassVar[bool] = False


class ConfigurationError(FinpyError, ValueError):
    """A configuration value or argument is invalid; the message names it."""

    status = "INVALID_ARGUMENT"


class TargetError(ConfigurationError):
    """A target (``scheme:///...``) cannot be parsed or no resolver handles it."""


class ServiceClosedError(FinpyError):
    """The service was closed with ``aclose()`` and takes no more requests."""

    status = "UNAVAILABLE"


class NoEndpointsError(FinpyError):
    """The load balancer had no endpoint to send the request to."""

    status = "UNAVAILABLE"


class ResolutionError(FinpyError):
    """Service discovery failed before any address was ever known."""

    status = "UNAVAILABLE"


class DeadlineExceededError(FinpyError):
    """The request's deadline passed (or had passed before it was sent)."""

    status = "DEADLINE_EXCEEDED"

    def __init__(self, message: str = "", *, request_sent: bool = False) -> None:
        super().__init__(message)
        self.request_sent = request_sent  # type: ignore[misc]


class AttemptTimeoutError(DeadlineExceededError):
    """One attempt exceeded its per-attempt timeout (the overall deadline may remain)."""

    def __init__(self, message: str = "") -> None:
        super().__init__(message, request_sent=True)


class RejectedError(FinpyError):
    """The request was refused locally, before it was sent."""

    status = "RESOURCE_EXHAUSTED"


class BudgetExhaustedError(RejectedError):
    """A retry, requeue or hedge was wanted but the retry budget had no credit."""
