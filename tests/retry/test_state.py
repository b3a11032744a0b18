"""One retry budget and one set of counters per client, shared by its retry and hedge layers."""

from __future__ import annotations

from finpy import Address, Client, FunctionService, NoEndpointsError, Params
from finpy.retry import (
    RetryBudget,
    RetryBudgetParam,
    RetryStats,
    RetryStatsParam,
    bind_retry_state,
)


def test_bind_gives_params_one_budget_and_one_stats_recorder() -> None:
    """bind_retry_state adds a default budget and a recorder reporting its balance; binding again keeps them."""
    params = bind_retry_state(Params())
    budget = params[RetryBudgetParam].budget
    stats = params[RetryStatsParam].stats
    assert isinstance(budget, RetryBudget) and isinstance(stats, RetryStats)
    assert stats.budget is budget and stats.statistics().budget_balance == 100
    again = bind_retry_state(params)
    assert again[RetryBudgetParam].budget is budget and again[RetryStatsParam].stats is stats


def test_bind_keeps_what_the_user_set() -> None:
    """A budget set by the user is used, and a user's recorder gets it attached."""
    mine = RetryBudget(percent_can_retry=0.5)
    recorder = RetryStats()
    params = bind_retry_state(Params(RetryBudgetParam(mine), RetryStatsParam(recorder)))
    assert params[RetryBudgetParam].budget is mine
    assert params[RetryStatsParam].stats is recorder and recorder.budget is mine


async def test_a_client_shares_one_budget_and_reports_retry_statistics() -> None:
    """Two clients get two budgets; a client's requeue shows in its statistics().retries."""
    calls = []

    async def transport_call(request: object) -> str:
        calls.append(request)
        if len(calls) == 1:
            raise NoEndpointsError("not yet")
        return "ok"

    def transport(address: Address, params: Params) -> FunctionService[object, str]:
        return FunctionService(transport_call)

    a: Client[object, str] = Client("static:///127.0.0.1:1", transport)
    b: Client[object, str] = Client("static:///127.0.0.1:1", transport)
    try:
        assert a.params[RetryBudgetParam].budget is not b.params[RetryBudgetParam].budget
        assert await a(object()) == "ok"
        retries = a.statistics().retries
        assert retries is not None
        assert (retries.requests, retries.requeues, retries.budget_balance) == (1, 1, 99)
        assert b.statistics().retries.requests == 0  # type: ignore[union-attr]
    finally:
        await a.aclose()
        await b.aclose()


def test_statistics_derive_attempts_per_request() -> None:
    """RetryStatistics counts extra attempts (retries + requeues + hedges) per request."""
    stats = RetryStats()
    assert stats.statistics().attempts_per_request == 0.0
    stats.requests, stats.retries, stats.requeues, stats.hedges_sent = 10, 1, 1, 1
    s = stats.statistics()
    assert s.extra_attempts == 3 and s.attempts_per_request == 1.3 and s.budget_balance is None
    assert "retries=1" in repr(stats)
