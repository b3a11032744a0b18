"""Retries that cannot become a retry storm.

* :class:`RetryBudget`: retries, requeues and hedges of a client together stay
  under a share of its requests (20% + 10/s by default, credits expire in 10 s).
* Classification (:mod:`finpy.retry.classifier`): success, requeue (never
  sent: always safe), retryable, non-retryable, ignorable; per protocol, per
  client, per method.
* :class:`RetryFilter`: attempts (3 by default, requeues included), tenacity
  backoff (:class:`Backoff`, full jitter by default) that never sleeps past
  the deadline, another endpoint for each attempt, no retry once a stream has
  started.
* :class:`HedgeFilter`: backup requests for idempotent methods after the
  recent p(1 - max_extra_load) latency (:class:`Hedge`), first success wins.
* :class:`RetryStatistics`: what they did, per client.

See ``docs/retries.md`` for the why and a runnable example.
"""

from finpy.retry.attempt import AttemptKind, current_attempt_kind
from finpy.retry.backoff import DEFAULT_BACKOFF, Backoff
from finpy.retry.budget import (
    RetryBudget,
    RetryBudgetParam,
    RetryBudgetStatistics,
    UnlimitedRetryBudget,
)
from finpy.retry.classifier import (
    Classification,
    Classifier,
    ResponseClass,
    ResponseClassifier,
    as_classification,
    classify_finpy_error,
    default_classifier,
    is_idempotent,
    is_marked_non_retryable,
    mark_non_retryable,
)
from finpy.retry.decision import RetryDecision, decide_retry
from finpy.retry.filter import Retries, RetryFilter
from finpy.retry.hedge import Hedge, HedgeFilter, HedgeParam, HedgeStatistics
from finpy.retry.histogram import LatencyHistogram
from finpy.retry.state import bind_retry_state
from finpy.retry.statistics import RetryStatistics, RetryStats, RetryStatsParam

__all__ = [
    "DEFAULT_BACKOFF",
    "AttemptKind",
    "Backoff",
    "Classification",
    "Classifier",
    "Hedge",
    "HedgeFilter",
    "HedgeParam",
    "HedgeStatistics",
    "LatencyHistogram",
    "ResponseClass",
    "ResponseClassifier",
    "Retries",
    "RetryBudget",
    "RetryBudgetParam",
    "RetryBudgetStatistics",
    "RetryDecision",
    "RetryFilter",
    "RetryStatistics",
    "RetryStats",
    "RetryStatsParam",
    "UnlimitedRetryBudget",
    "as_classification",
    "bind_retry_state",
    "classify_finpy_error",
    "current_attempt_kind",
    "decide_retry",
    "default_classifier",
    "is_idempotent",
    "is_marked_non_retryable",
    "mark_non_retryable",
]
