"""Failure accrual: per-endpoint circuit breaking that fails open.

Each endpoint has a :class:`Breaker` fed by a :class:`FailureAccrualFilter` in
its endpoint stack.  The :class:`FailureAccrualPolicy` decides when the
endpoint is ejected (5 consecutive failures, or a success rate under 80% over
30 s); the breaker keeps it dead for an :class:`EqualJitterBackoff` (5 s
growing to 300 s), then lets one probe through at a time; the probe's success
revives it.  An ejected endpoint is only marked ``BUSY`` so the balancer
avoids it; requests are never rejected here.
"""

from finpy.accrual.backoff import EqualJitterBackoff
from finpy.accrual.breaker import Breaker, BreakerState, BreakerStatistics
from finpy.accrual.classify import (
    DEFAULT_FAILURE_STATUSES,
    Classifier,
    status_classifier,
    status_name,
)
from finpy.accrual.filter import FailureAccrual, FailureAccrualFilter, FailureAccrualService
from finpy.accrual.policy import FailureAccrualPolicy, PolicyStatistics

__all__ = [
    "DEFAULT_FAILURE_STATUSES",
    "Breaker",
    "BreakerState",
    "BreakerStatistics",
    "Classifier",
    "EqualJitterBackoff",
    "FailureAccrual",
    "FailureAccrualFilter",
    "FailureAccrualPolicy",
    "FailureAccrualService",
    "PolicyStatistics",
    "status_classifier",
    "status_name",
]
