"""Response classification: was an attempt a success, and may it be tried again?

Every attempt ends in one of five classes (Finagle's ``ResponseClass`` plus
the requeue that Finagle keeps separate):

* ``SUCCESS``: done.
* ``REQUEUE``: the request provably never reached a server (no endpoint, a
  refused connection, ...).  Sending it again is safe even for a method that
  is not idempotent, because nothing happened.
* ``RETRYABLE``: it failed in a way another attempt may fix (the server was
  unavailable; for idempotent methods also timeouts, overload, ...).
* ``NON_RETRYABLE``: it failed and must not be tried again.
* ``IGNORABLE``: it failed for a reason that says nothing about the server
  (a local rejection): not retried, and not held against the endpoint.

A :data:`Classifier` is any callable ``(request, response, error) ->
ResponseClass | Classification``: exactly one of ``response`` and ``error`` is
meaningful (``error is None`` means the attempt returned ``response``).  It may
return a bare :class:`ResponseClass`, or a :class:`Classification` that also
carries a server-requested delay (gRPC's ``grpc-retry-pushback-ms``).
Protocols supply their own (``finpy_protocols.grpc.GrpcClassifier``), users
can plug one in per client (``ResponseClassifier`` param) or per method
(``MethodConfig(classifier=...)``).

:func:`classify_finpy_error` is the protocol-independent part every classifier
should start from: it knows finpy's own errors, whether they were ever sent,
and the *non-retryable mark* a retry layer puts on a failure it gave up on
because the budget was empty, so that outer layers do not retry it again.
"""

from __future__ import annotations

import contextlib
import enum
from dataclasses import dataclass
from typing import Any, Protocol

from finpy.errors import (
    AttemptTimeoutError,
    ConfigurationError,
    DeadlineExceededError,
    FinpyError,
    RejectedError,
    ResolutionError,
)
from finpy.method import MethodConfig
from finpy.params import Param

__all__ = [
    "Classification",
    "Classifier",
    "ResponseClass",
    "ResponseClassifier",
    "as_classification",
    "classify_finpy_error",
    "default_classifier",
    "is_idempotent",
    "is_marked_non_retryable",
    "mark_non_retryable",
]

#: Attribute set on a failure that must not be retried by any layer any more.
_MARK = "finpy_non_retryable"


class ResponseClass(enum.Enum):
    """What one attempt's outcome means for retrying."""

    SUCCESS = "success"
    REQUEUE = "requeue"
    RETRYABLE = "retryable"
    NON_RETRYABLE = "non_retryable"
    IGNORABLE = "ignorable"

    @property
    def is_failure(self) -> bool:
        return self is not ResponseClass.SUCCESS

    @property
    def may_retry(self) -> bool:
        """Whether another attempt is allowed (still subject to attempts, deadline, budget)."""
        return self is ResponseClass.REQUEUE or self is ResponseClass.RETRYABLE


@dataclass(frozen=True, slots=True)
class Classification:
    """A :class:`ResponseClass` with the details a retry layer needs."""

    response_class: ResponseClass
    retry_after: float | None = None
    """Server pushback: wait exactly this long (seconds) before the next attempt."""
    reason: str = ""
    """Why, in a few words (shown in the error note when finpy gives up)."""

    def __post_init__(self) -> None:
        if not isinstance(self.response_class, ResponseClass):
            raise ConfigurationError(
                f"response_class must be a ResponseClass, got {self.response_class!r}"
            )
        if self.retry_after is not None and not (
            isinstance(self.retry_after, (int, float)) and 0 <= self.retry_after < float("inf")
        ):
            raise ConfigurationError(
                f"retry_after must be a finite number of seconds >= 0, got {self.retry_after!r}"
            )


_PLAIN = {rc: Classification(rc) for rc in ResponseClass}


class Classifier(Protocol):
    """``(request, response, error) -> ResponseClass | Classification``; a plain function will do."""

    def __call__(
        self, request: Any, response: Any, error: BaseException | None, /
    ) -> ResponseClass | Classification: ...


def as_classification(value: ResponseClass | Classification) -> Classification:
    """Normalise what a classifier returned; anything else is a configuration error."""
    if isinstance(value, Classification):
        return value
    if isinstance(value, ResponseClass):
        return _PLAIN[value]
    raise ConfigurationError(
        f"a classifier must return a ResponseClass or a Classification, got {value!r}"
    )


def mark_non_retryable(error: BaseException) -> BaseException:
    """Mark ``error`` so no finpy retry layer (this one or an outer one) retries it."""
    with contextlib.suppress(AttributeError):  # a type with __slots__: nothing to mark
        setattr(error, _MARK, True)
    return error


def is_marked_non_retryable(error: BaseException) -> bool:
    """Whether a retry layer gave up on ``error`` and asked outer layers not to retry."""
    return getattr(error, _MARK, False) is True


def is_idempotent(request: Any) -> bool:
    """Whether the request's method is declared idempotent (``MethodConfig.idempotent``)."""
    config = getattr(request, "method_config", None)
    return isinstance(config, MethodConfig) and config.is_idempotent


_REQUEUE = Classification(ResponseClass.REQUEUE, reason="never sent")
_MARKED = Classification(ResponseClass.NON_RETRYABLE, reason="marked non-retryable")
_DEADLINE = Classification(ResponseClass.NON_RETRYABLE, reason="deadline exceeded")
_REJECTED = Classification(ResponseClass.IGNORABLE, reason="rejected locally")
_DISCOVERY = Classification(ResponseClass.NON_RETRYABLE, reason="discovery failed")
_ATTEMPT_TIMEOUT = Classification(ResponseClass.RETRYABLE, reason="attempt timed out")
_ATTEMPT_TIMEOUT_NI = Classification(
    ResponseClass.NON_RETRYABLE, reason="attempt timed out; method not idempotent"
)
_UNAVAILABLE = Classification(ResponseClass.RETRYABLE, reason="unavailable")
_OTHER = Classification(ResponseClass.NON_RETRYABLE)


def classify_finpy_error(request: Any, error: BaseException) -> Classification | None:
    """The class of finpy's own errors and of marked failures; ``None`` for anything else.

    * a failure marked with :func:`mark_non_retryable` is ``NON_RETRYABLE``;
    * a :class:`~finpy.errors.RejectedError` (admission, budget) is ``IGNORABLE``:
      sending it anyway would bypass the layer that refused it;
    * the request's deadline passing is ``NON_RETRYABLE`` (there is no time left),
      and so is a discovery failure (sending again cannot help);
    * a per-attempt timeout is ``RETRYABLE`` for idempotent methods only;
    * any other finpy error with ``request_sent = False`` (no endpoint, endpoint
      closed under us, ...) is a ``REQUEUE``;
    * a sent finpy error with status ``UNAVAILABLE`` is ``RETRYABLE``, others not.
    """
    if is_marked_non_retryable(error):
        return _MARKED
    if not isinstance(error, FinpyError):
        return None
    if isinstance(error, RejectedError):
        return _REJECTED
    if isinstance(error, AttemptTimeoutError):
        return _ATTEMPT_TIMEOUT if is_idempotent(request) else _ATTEMPT_TIMEOUT_NI
    if isinstance(error, DeadlineExceededError):
        return _DEADLINE
    if isinstance(error, (ResolutionError, ConfigurationError)):
        return _DISCOVERY if isinstance(error, ResolutionError) else _OTHER
    if not error.request_sent:
        return _REQUEUE
    return _UNAVAILABLE if error.status == "UNAVAILABLE" else _OTHER


_SUCCESS = _PLAIN[ResponseClass.SUCCESS]
_UNKNOWN = Classification(ResponseClass.NON_RETRYABLE, reason="not a known retryable failure")


def default_classifier(request: Any, response: Any, error: BaseException | None) -> Classification:
    """The protocol-independent classifier: any response is a success; finpy errors as
    :func:`classify_finpy_error` says; every other failure is non-retryable."""
    if error is None:
        return _SUCCESS
    return classify_finpy_error(request, error) or _UNKNOWN


@dataclass(frozen=True, slots=True)
class ResponseClassifier(Param):
    """The client's classifier (protocol adapters set theirs; methods may override)."""

    classifier: Classifier = default_classifier

    def __post_init__(self) -> None:
        if not callable(self.classifier):
            raise ConfigurationError(
                f"classifier must be a callable (request, response, error), got {self.classifier!r}"
            )
