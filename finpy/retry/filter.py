"""``RetryFilter``: requeues and retries of one logical request, under a budget.

It sits in the client stack below the deadline (every attempt shares one
deadline) and above the balancer (so another attempt can pick another
endpoint)::

    deadline -> retries -> hedge -> ... -> balancer -> endpoint stack -> transport

For each logical request it deposits into the client's budget once, then
makes attempts until one succeeds or :func:`~finpy.retry.decision.decide_retry`
says stop: the attempt's class (from the method's or client's
:data:`~finpy.retry.classifier.Classifier`), attempts left, the deadline and the
budget.  Between attempts it waits the backoff (or the server's pushback),
never past the deadline; requeues go at once.

* **Another endpoint.**  The attempts run inside a
  :func:`finpy.context.tracking_endpoints` scope, so the balancer prefers an
  endpoint the request has not tried yet.
* **Streams.**  A response that is still streaming (a
  :class:`~finpy.endpoint.Completion`) has delivered its first message to the
  caller's side of the stack, so it is never retried: only failures raised
  before the stack returns are.  Protocol classifiers refuse to retry a request
  stream that may have been consumed (see ``finpy_protocols.grpc.classifier``).
* **What the caller sees.**  When all attempts fail, the *last* failure is
  raised as it was (a server's gRPC error keeps its code, details and
  metadata).  finpy adds what it did: ``finpy_attempts``,
  ``finpy_endpoints_tried`` and ``finpy_note`` attributes, the note as a PEP 678
  note (shown in tracebacks, Python >= 3.11) and, for finpy's own errors, the
  same text at the end of the message, which becomes the gRPC details.
* **Hooks.**  Each attempt runs in :func:`finpy.context.attempt_scope` and with
  :func:`~finpy.retry.attempt.current_attempt_kind` set, for per-attempt
  statistics and spans below.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from typing import Any, TypeVar

from finpy.clock import SYSTEM_CLOCK, Clock, ClockParam
from finpy.context import _ATTEMPT, _DEADLINE, _TRIED
from finpy.endpoint import Completion
from finpy.errors import ConfigurationError, FinpyError
from finpy.filter import Filter
from finpy.method import MethodConfig, MethodConfigs
from finpy.params import Param, Params
from finpy.retry.attempt import _KIND, AttemptKind
from finpy.retry.backoff import DEFAULT_BACKOFF, Backoff
from finpy.retry.budget import RetryBudget, RetryBudgetParam
from finpy.retry.classifier import (
    Classification,
    Classifier,
    ResponseClass,
    ResponseClassifier,
    as_classification,
    default_classifier,
    is_marked_non_retryable,
    mark_non_retryable,
)
from finpy.retry.decision import decide_retry
from finpy.retry.statistics import RetryStats, RetryStatsParam
from finpy.service import Service

__all__ = ["Retries", "RetryFilter", "validate_max_attempts"]

log = logging.getLogger("finpy.retry")

Req = TypeVar("Req")
Rep = TypeVar("Rep")

_RETRYABLE = ResponseClass.RETRYABLE
_REQUEUE = ResponseClass.REQUEUE
_FIRST = AttemptKind.FIRST
_CLASSIFIER_FAILED = Classification(ResponseClass.NON_RETRYABLE, reason="the classifier failed")
_MARKED = Classification(ResponseClass.NON_RETRYABLE, reason="a retry layer below gave up on it")


def validate_max_attempts(value: object, what: str = "max_attempts") -> int:
    """``value`` if it is an int >= 1, else a :class:`~finpy.errors.ConfigurationError`."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"{what} must be an int >= 1 (1: no retries), got {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class Retries(Param):
    """Client-wide retry settings; ``MethodConfig`` fields override them per method."""

    max_attempts: int = 3
    """Most attempts per logical request, the first and requeues included (1: none again)."""
    backoff: Backoff = DEFAULT_BACKOFF
    """Wait before each retry (requeues do not wait)."""

    def __post_init__(self) -> None:
        validate_max_attempts(self.max_attempts)
        if not isinstance(self.backoff, Backoff):
            raise ConfigurationError(f"backoff must be a finpy.retry.Backoff, got {self.backoff!r}")


def _endpoint(key: tuple[str, int]) -> str:
    host, port = key
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _annotate(
    error: BaseException,
    attempts: int,
    requeues: int,
    tried: list[tuple[str, int]],
    reason: str,
) -> None:
    """Say on ``error`` what finpy did, without changing its type, code or metadata."""
    text = f"finpy: {attempts} attempt{'s' if attempts != 1 else ''}"
    if requeues:
        text += f" ({requeues} requeued)"
    text += ", endpoints tried: " + (", ".join(_endpoint(k) for k in tried) or "none")
    if reason:
        text += f"; gave up: {reason}"
    with contextlib.suppress(AttributeError):  # exception types with __slots__
        error.finpy_attempts = attempts  # type: ignore[attr-defined]
        error.finpy_endpoints_tried = tuple(_endpoint(k) for k in tried)  # type: ignore[attr-defined]
        error.finpy_note = text  # type: ignore[attr-defined]
    if isinstance(error, FinpyError):
        message = str(error)
        error.args = (f"{message} [{text}]" if message else text,)
    elif hasattr(error, "add_note"):  # Python >= 3.11
        error.add_note(text)


class RetryFilter(Filter[Req, Rep]):
    """Requeues never-sent requests and retries retryable failures, within a budget.

    ``clock`` (the client's :class:`~finpy.clock.ClockParam`) times the budget and
    the backoff waits; the request's deadline is always read on the loop clock.
    """

    __slots__ = ("_backoff", "_budget", "_classifier", "_clock", "_max_attempts", "_stats")

    def __init__(
        self,
        *,
        max_attempts: int = 3,
        backoff: Backoff = DEFAULT_BACKOFF,
        classifier: Classifier = default_classifier,
        budget: RetryBudget | None = None,
        stats: RetryStats | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._max_attempts = validate_max_attempts(max_attempts)
        if not isinstance(backoff, Backoff):
            raise ConfigurationError(f"backoff must be a finpy.retry.Backoff, got {backoff!r}")
        if not callable(classifier):
            raise ConfigurationError(f"classifier must be callable, got {classifier!r}")
        self._backoff = backoff
        self._classifier = classifier
        self._budget = budget if budget is not None else RetryBudget(clock=clock)
        self._stats = stats if stats is not None else RetryStats(self._budget)
        self._clock = clock

    @property
    def budget(self) -> RetryBudget:
        return self._budget

    @property
    def stats(self) -> RetryStats:
        return self._stats

    async def __call__(self, request: Req, service: Service[Req, Rep], /) -> Rep:
        max_attempts = self._max_attempts
        backoff = self._backoff
        classifier = self._classifier
        config = getattr(request, "method_config", None)
        if isinstance(config, MethodConfig):
            if config.max_attempts is not None:
                max_attempts = config.max_attempts
            if config.backoff is not None:
                backoff = config.backoff
            if config.classifier is not None:
                classifier = config.classifier
        self._budget.deposit()
        stats = self._stats
        stats.requests += 1
        tried: list[tuple[str, int]] = []
        tried_token = _TRIED.set(tried)
        try:
            attempt = 0
            requeues = 0
            retry_number = 0  # backoff step; a server pushback starts it over (gRPC A6)
            kind = AttemptKind.FIRST
            while True:
                attempt += 1
                error: Exception | None = None
                response: Any = None
                attempt_token = _ATTEMPT.set(attempt)
                # (the first attempt of a request not nested in another's needs no new value)
                kind_token = None if kind is _KIND.get() is _FIRST else _KIND.set(kind)
                try:
                    response = await service(request)
                except Exception as e:  # CancelledError (a BaseException) is never retried
                    error = e
                finally:
                    if kind_token is not None:
                        _KIND.reset(kind_token)
                    _ATTEMPT.reset(attempt_token)
                if error is not None and is_marked_non_retryable(error):
                    cls = _MARKED  # a layer below gave up on it: whatever the classifier says
                else:
                    try:
                        verdict = classifier(request, response, error)
                        cls = (
                            verdict
                            if type(verdict) is Classification
                            else as_classification(verdict)
                        )
                    except Exception:
                        log.exception("response classifier %r failed; not retrying", classifier)
                        cls = _CLASSIFIER_FAILED
                reason = ""
                rc = cls.response_class
                if rc is not _RETRYABLE and rc is not _REQUEUE:
                    reason = cls.reason if attempt > 1 else ""
                    break
                if error is None and isinstance(response, Completion):
                    break  # a live stream cannot be taken back from the caller
                deadline = _DEADLINE.get()  # deadlines live on the loop clock (finpy.clock)
                time_left = None if deadline is None else deadline - SYSTEM_CLOCK.now()
                wait = 0.0
                if rc is _RETRYABLE and cls.retry_after is None:
                    wait = backoff.delay(retry_number + 1, error)
                decision = decide_retry(
                    cls,
                    attempts=attempt,
                    max_attempts=max_attempts,
                    time_left=time_left,
                    backoff=wait,
                    budget=self._budget,
                )
                if not decision.retry:
                    reason = decision.reason
                    if decision.budget_exhausted:
                        stats.note_budget_exhausted("retry")
                        if error is not None:
                            mark_non_retryable(error)
                    break
                if decision.requeue:
                    stats.requeues += 1
                    requeues += 1
                    kind = AttemptKind.REQUEUE
                else:
                    stats.retries += 1
                    kind = AttemptKind.RETRY
                    retry_number = 0 if cls.retry_after is not None else retry_number + 1
                if decision.delay > 0:
                    await self._clock.sleep(decision.delay)
            if error is None:
                return response  # type: ignore[no-any-return]
            if attempt > 1 or reason:
                _annotate(error, attempt, requeues, tried, reason)
            try:
                raise error
            finally:
                error = None  # the traceback holds this frame: no cycle back to the error
        finally:
            _TRIED.reset(tried_token)

    @staticmethod
    def from_params(params: Params) -> RetryFilter[Req, Rep] | None:
        """The filter as configured by :class:`Retries`, :class:`ResponseClassifier`, the
        client's budget and stats; ``None`` when no method may make a second attempt."""
        retries = params[Retries]
        if retries.max_attempts == 1 and not any(
            c.max_attempts is not None and c.max_attempts > 1 for _, c in params[MethodConfigs]
        ):
            return None
        return RetryFilter(
            max_attempts=retries.max_attempts,
            backoff=retries.backoff,
            classifier=params[ResponseClassifier].classifier,
            budget=params[RetryBudgetParam].budget,
            stats=params[RetryStatsParam].stats,
            clock=params[ClockParam].clock,
        )

    def __repr__(self) -> str:
        return (
            f"RetryFilter(max_attempts={self._max_attempts}, backoff={self._backoff!r}, "
            f"budget={self._budget!r})"
        )
