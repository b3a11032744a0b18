"""decide_retry: class, attempts, deadline capping and budget, in that order."""

from __future__ import annotations

import pytest

from finpy import ManualClock
from finpy.retry import Classification, ResponseClass, RetryBudget, decide_retry

RETRYABLE = Classification(ResponseClass.RETRYABLE)
REQUEUE = Classification(ResponseClass.REQUEUE)


def budget(n: int = 100) -> RetryBudget:
    return RetryBudget(min_retries_per_sec=n / 10, percent_can_retry=0, clock=ManualClock())


def test_retryable_failure_waits_the_backoff() -> None:
    """A retryable failure with attempts, time and budget left is retried after the backoff."""
    b = budget()
    d = decide_retry(RETRYABLE, attempts=1, max_attempts=3, time_left=1.0, backoff=0.05, budget=b)
    assert (d.retry, d.delay, d.requeue) == (True, 0.05, False)
    assert b.statistics().withdrawals == 1


def test_requeue_goes_at_once_whatever_the_backoff() -> None:
    """A never-sent failure is requeued with no wait."""
    d = decide_retry(
        REQUEUE, attempts=1, max_attempts=3, time_left=None, backoff=0.5, budget=budget()
    )
    assert (d.retry, d.delay, d.requeue) == (True, 0.0, True)


def test_server_pushback_replaces_the_backoff() -> None:
    """retry_after (server pushback) is the wait, not the backoff."""
    pushed = Classification(ResponseClass.RETRYABLE, retry_after=0.3)
    d = decide_retry(
        pushed, attempts=1, max_attempts=3, time_left=None, backoff=0.01, budget=budget()
    )
    assert d.retry and d.delay == 0.3


@pytest.mark.parametrize(
    "cls", [ResponseClass.SUCCESS, ResponseClass.NON_RETRYABLE, ResponseClass.IGNORABLE]
)
def test_other_classes_are_not_retried_and_spend_nothing(cls: ResponseClass) -> None:
    """Success, non-retryable and ignorable outcomes are never retried; the budget is untouched."""
    b = budget()
    d = decide_retry(
        Classification(cls), attempts=1, max_attempts=3, time_left=None, backoff=0, budget=b
    )
    assert not d.retry
    assert b.statistics().withdrawals == 0


def test_the_classifier_reason_is_kept() -> None:
    """When the class forbids a retry, the decision carries the classifier's reason."""
    cls = Classification(ResponseClass.NON_RETRYABLE, reason="server pushback says do not retry")
    d = decide_retry(cls, attempts=1, max_attempts=3, time_left=None, backoff=0, budget=budget())
    assert d.reason == "server pushback says do not retry"


def test_no_attempt_beyond_max_attempts_and_no_credit_spent() -> None:
    """After max_attempts attempts there is no other, and no budget is withdrawn."""
    b = budget()
    d = decide_retry(REQUEUE, attempts=3, max_attempts=3, time_left=None, backoff=0, budget=b)
    assert not d.retry and d.reason == "no attempts left"
    assert b.statistics().withdrawals == 0


@pytest.mark.parametrize(
    ("backoff", "time_left"), [(0.1, 0.1), (0.2, 0.1), (0.0, 0.0), (0.0, -1.0)]
)
def test_never_waits_up_to_or_past_the_deadline(backoff: float, time_left: float) -> None:
    """A wait that reaches the deadline gives up at once (fail fast, no sleep, no credit spent)."""
    b = budget()
    d = decide_retry(
        RETRYABLE, attempts=1, max_attempts=3, time_left=time_left, backoff=backoff, budget=b
    )
    assert not d.retry and d.reason == "no time left before the deadline"
    assert b.statistics().withdrawals == 0


def test_pushback_longer_than_the_time_left_gives_up() -> None:
    """A server pushback that would end after the deadline means no retry."""
    pushed = Classification(ResponseClass.RETRYABLE, retry_after=2.0)
    d = decide_retry(
        pushed, attempts=1, max_attempts=3, time_left=1.0, backoff=0.0, budget=budget()
    )
    assert not d.retry


def test_empty_budget_refuses_and_says_so() -> None:
    """With attempts and time left but no credit, the decision is no, marked budget_exhausted."""
    d = decide_retry(
        RETRYABLE, attempts=1, max_attempts=3, time_left=1.0, backoff=0, budget=budget(0)
    )
    assert not d.retry and d.budget_exhausted and d.reason == "retry budget exhausted"
