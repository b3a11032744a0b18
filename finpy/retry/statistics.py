"""Counters of what a client's retry and hedge layers did.

One :class:`RetryStats` per client, shared by its retry and hedge layers like
the budget is; :meth:`RetryStats.statistics` gives a :class:`RetryStatistics`
snapshot (``Client.statistics().retries``, ``Channel.retry_statistics()``).
OpenTelemetry metrics will read the same counters.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from finpy.errors import ConfigurationError
from finpy.params import Param
from finpy.retry.budget import RetryBudget

__all__ = ["RetryStatistics", "RetryStats", "RetryStatsParam"]


@dataclass(frozen=True, slots=True)
class RetryStatistics:
    """A snapshot of a client's retries, requeues and hedges."""

    requests: int
    """Logical requests seen by the retry layer."""
    retries: int
    """Attempts made again after a retryable failure."""
    requeues: int
    """Attempts made again after a failure that never reached a server."""
    budget_exhausted: int
    """Retries, requeues or hedges wanted but refused by a budget."""
    hedges_sent: int
    """Backup attempts sent because the first was slow."""
    hedges_won: int
    """Backup attempts that answered first, successfully."""
    budget_balance: int | None
    """Retries the client's budget would grant now (``None``: no budget attached)."""

    @property
    def extra_attempts(self) -> int:
        """Attempts beyond the first of each request: retries + requeues + hedges."""
        return self.retries + self.requeues + self.hedges_sent

    @property
    def attempts_per_request(self) -> float:
        """Average attempts per logical request (1.0 when nothing was retried)."""
        return 1.0 + self.extra_attempts / self.requests if self.requests else 0.0


class RetryStats:
    """Mutable counters, written by the retry and hedge layers of one client."""

    __slots__ = (
        "budget",
        "budget_exhausted",
        "hedges_sent",
        "hedges_won",
        "listeners",
        "requests",
        "requeues",
        "retries",
    )

    def __init__(self, budget: RetryBudget | None = None) -> None:
        #: The budget whose balance the snapshots report.
        self.budget = budget
        self.requests = 0
        self.retries = 0
        self.requeues = 0
        self.budget_exhausted = 0
        self.hedges_sent = 0
        self.hedges_won = 0
        #: Called with ``"retry"`` or ``"hedge"`` when a budget refuses one (tracing hooks
        #: in here to put an event on the current span); empty by default.
        self.listeners: list[Callable[[str], None]] = []

    def note_budget_exhausted(self, wanted: str) -> None:
        """Count a retry/requeue (``"retry"``) or hedge (``"hedge"``) a budget refused."""
        self.budget_exhausted += 1
        for listener in self.listeners:
            listener(wanted)

    def statistics(self) -> RetryStatistics:
        return RetryStatistics(
            requests=self.requests,
            retries=self.retries,
            requeues=self.requeues,
            budget_exhausted=self.budget_exhausted,
            hedges_sent=self.hedges_sent,
            hedges_won=self.hedges_won,
            budget_balance=None if self.budget is None else self.budget.balance,
        )

    def __repr__(self) -> str:
        return (
            f"RetryStats(requests={self.requests}, retries={self.retries}, "
            f"requeues={self.requeues}, budget_exhausted={self.budget_exhausted}, "
            f"hedges_sent={self.hedges_sent}, hedges_won={self.hedges_won})"
        )


@dataclass(frozen=True, slots=True)
class RetryStatsParam(Param):
    """Where a client's retry and hedge layers count (``None``: the Client makes one)."""

    stats: RetryStats | None = None

    def __post_init__(self) -> None:
        if self.stats is not None and not isinstance(self.stats, RetryStats):
            raise ConfigurationError(f"stats must be a RetryStats, got {self.stats!r}")
