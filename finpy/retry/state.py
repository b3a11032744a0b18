"""One budget and one set of counters per client.

Retries, requeues and hedges of a client draw on *one* budget (otherwise each
layer could spend its own share and together exceed it) and count into one
:class:`~finpy.retry.statistics.RetryStats`.  Stack modules are built from
:class:`~finpy.params.Params`, so the shared objects travel in params:
:func:`bind_retry_state` fills them in once, and :class:`finpy.Client` calls it
when it is constructed.  A stack materialised by hand should be given params
that went through it too, or each layer makes its own.
"""

from __future__ import annotations

from finpy.clock import ClockParam
from finpy.params import Params
from finpy.retry.budget import RetryBudget, RetryBudgetParam
from finpy.retry.statistics import RetryStats, RetryStatsParam

__all__ = ["bind_retry_state"]


def bind_retry_state(params: Params) -> Params:
    """``params`` with a budget and a stats recorder of their own, unless already set."""
    budget = params[RetryBudgetParam].budget
    stats = params[RetryStatsParam].stats
    if budget is not None and stats is not None:
        if stats.budget is None:
            stats.budget = budget
        return params
    if budget is None:
        budget = RetryBudget(clock=params[ClockParam].clock)
    if stats is None:
        stats = RetryStats(budget)
    elif stats.budget is None:
        stats.budget = budget
    return params.with_(RetryBudgetParam(budget), RetryStatsParam(stats))
