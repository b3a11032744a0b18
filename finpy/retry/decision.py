"""The retry decision: plain synchronous code, tested on its own.

After a failed attempt the retry layer asks :func:`decide_retry` whether to
make another one, and after how long.  The checks run cheapest and least
consequential first, so budget credit is only spent on attempts that will
really be made:

1. the failure's class allows another attempt (``REQUEUE`` or ``RETRYABLE``);
2. the request has attempts left (``max_attempts`` counts requeues too);
3. the wait fits before the deadline: a requeue goes at once, a retry waits the
   server's pushback if it sent one, else the backoff; a wait that would reach
   the deadline means "give up now" (failing fast beats sleeping into a
   certain timeout);
4. the budget grants a withdrawal.  If it does not, the failure is returned
   and marked non-retryable, so outer layers do not retry it either.
"""

from __future__ import annotations

from dataclasses import dataclass

from finpy.retry.budget import RetryBudget
from finpy.retry.classifier import Classification, ResponseClass

__all__ = ["RetryDecision", "decide_retry"]


@dataclass(frozen=True, slots=True)
class RetryDecision:
    """Whether to try again, how long to wait first, and why (not)."""

    retry: bool
    delay: float = 0.0
    requeue: bool = False
    reason: str = ""
    budget_exhausted: bool = False


_NOT_RETRYABLE = RetryDecision(False, reason="not retryable")
_NO_ATTEMPTS = RetryDecision(False, reason="no attempts left")
_NO_TIME = RetryDecision(False, reason="no time left before the deadline")
_NO_BUDGET = RetryDecision(False, reason="retry budget exhausted", budget_exhausted=True)


def decide_retry(
    classification: Classification,
    *,
    attempts: int,
    max_attempts: int,
    time_left: float | None,
    backoff: float,
    budget: RetryBudget,
) -> RetryDecision:
    """Decide about the attempt after ``attempts`` attempts ended in ``classification``.

    Args:
        classification: how the last attempt ended.
        attempts: attempts made so far (requeues included).
        max_attempts: most attempts allowed for the request.
        time_left: seconds before the request's deadline (``None``: no deadline).
        backoff: what the backoff strategy would wait before this retry.
        budget: the client's budget; one credit is withdrawn if the answer is yes.
    """
    kind = classification.response_class
    if kind is ResponseClass.REQUEUE:
        requeue = True
        delay = 0.0
    elif kind is ResponseClass.RETRYABLE:
        requeue = False
        pushback = classification.retry_after
        delay = backoff if pushback is None else pushback
    else:
        if classification.reason:
            return RetryDecision(False, reason=classification.reason)
        return _NOT_RETRYABLE
    if attempts >= max_attempts:
        return _NO_ATTEMPTS
    if time_left is not None and delay >= time_left:
        return _NO_TIME
    if not budget.try_withdraw():
        return _NO_BUDGET
    return RetryDecision(True, delay=delay, requeue=requeue)
