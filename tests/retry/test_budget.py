"""RetryBudget: Finagle/Linkerd semantics, the bound on retries, validation, statistics."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from finpy import ConfigurationError, ManualClock
from finpy.retry import RetryBudget, RetryBudgetParam


def test_fresh_budget_holds_the_reserve_of_min_rate_times_ttl() -> None:
    """A new budget grants min_retries_per_sec * ttl retries (10/s * 10 s = 100) before any request."""
    budget = RetryBudget(clock=ManualClock())
    assert budget.balance == 100
    granted = 0
    while budget.try_withdraw():
        granted += 1
    assert granted == 100
    assert budget.balance == 0


def test_each_request_funds_percent_can_retry_of_a_retry() -> None:
    """With no reserve, 10 requests at 20% fund exactly 2 retries."""
    budget = RetryBudget(min_retries_per_sec=0, percent_can_retry=0.2, clock=ManualClock())
    for _ in range(9):
        budget.deposit()
    assert budget.balance == 1  # 9 * 0.2 = 1.8
    budget.deposit()
    assert budget.balance == 2
    assert [budget.try_withdraw() for _ in range(3)] == [True, True, False]


def test_deposits_expire_after_the_ttl() -> None:
    """Credit from requests older than the ttl no longer funds retries."""
    clock = ManualClock()
    budget = RetryBudget(ttl=10, min_retries_per_sec=0, percent_can_retry=0.5, clock=clock)
    for _ in range(10):
        budget.deposit()
    assert budget.balance == 5
    clock.advance(10.0)
    assert budget.balance == 0


def test_withdrawals_expire_so_the_reserve_refills() -> None:
    """Retries spent more than ttl (plus one slice) ago are forgotten: the reserve is back."""
    clock = ManualClock()
    budget = RetryBudget(ttl=10, min_retries_per_sec=1, percent_can_retry=0.0, clock=clock)
    assert sum(budget.try_withdraw() for _ in range(20)) == 10
    clock.advance(5.0)
    assert not budget.try_withdraw()
    clock.advance(6.0)  # 11 s: past ttl + one slice
    assert budget.balance == 10


def test_zero_percent_and_zero_rate_never_allows_a_retry() -> None:
    """A budget of 0% and 0/s refuses every withdrawal, however many requests deposit."""
    budget = RetryBudget(min_retries_per_sec=0, percent_can_retry=0, clock=ManualClock())
    for _ in range(1000):
        budget.deposit()
    assert not budget.try_withdraw()
    assert budget.balance == 0


def test_statistics_count_deposits_withdrawals_and_refusals() -> None:
    """statistics() reports the balance and every deposit, grant and refusal."""
    budget = RetryBudget(min_retries_per_sec=0, percent_can_retry=1.0, clock=ManualClock())
    budget.deposit()
    budget.deposit()
    assert budget.try_withdraw()
    assert budget.try_withdraw()
    assert not budget.try_withdraw()
    s = budget.statistics()
    assert (s.balance, s.deposits, s.withdrawals, s.refusals) == (0, 2, 2, 1)
    assert "balance=0" in repr(budget) and "percent_can_retry=1" in repr(budget)


def test_unlimited_budget_grants_everything_and_counts() -> None:
    """RetryBudget.unlimited() never refuses but still counts what it granted."""
    budget = RetryBudget.unlimited()
    assert all(budget.try_withdraw() for _ in range(1000))
    assert budget.statistics().withdrawals == 1000
    assert budget.balance > 10**9


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"ttl": 0.5}, "0.5"),
        ({"ttl": 61}, "61"),
        ({"ttl": float("nan")}, "nan"),
        ({"ttl": "10"}, "'10'"),
        ({"min_retries_per_sec": -1}, "-1"),
        ({"min_retries_per_sec": True}, "True"),
        ({"percent_can_retry": -0.1}, "-0.1"),
        ({"percent_can_retry": 1000.5}, "1000.5"),
        ({"percent_can_retry": float("inf")}, "inf"),
        ({"slices": 0}, "0"),
    ],
)
def test_bad_configuration_is_refused_naming_the_value(
    kwargs: dict[str, object], named: str
) -> None:
    """Values outside Finagle's ranges (ttl [1, 60] s, rate >= 0, percent [0, 1000]) raise, naming the value."""
    with pytest.raises(ConfigurationError, match="retry budget") as info:
        RetryBudget(**kwargs)  # type: ignore[arg-type]
    assert named in str(info.value)


def test_budget_param_accepts_only_a_budget() -> None:
    """RetryBudgetParam holds a RetryBudget or None; anything else is a configuration error."""
    assert RetryBudgetParam().budget is None
    with pytest.raises(ConfigurationError, match=r"0\.2"):
        RetryBudgetParam(0.2)  # type: ignore[arg-type]


# -- the bound, for any sequence of requests and retries ---------------------------------

events = st.lists(
    st.tuples(st.floats(min_value=0.0, max_value=3.0), st.sampled_from(["request", "retry"])),
    max_size=400,
)


def _run(
    budget: RetryBudget, clock: ManualClock, sequence: list[tuple[float, str]]
) -> tuple[list[float], list[float]]:
    requests: list[float] = []
    granted: list[float] = []
    for dt, op in sequence:
        clock.advance(dt)
        if op == "request":
            budget.deposit()
            requests.append(clock.now())
        elif budget.try_withdraw():
            granted.append(clock.now())
    return requests, granted


@settings(max_examples=300, deadline=None)
@given(sequence=events)
def test_default_budget_never_grants_more_than_20_percent_plus_min_rate_times_ttl(
    sequence: list[tuple[float, str]],
) -> None:
    """Defaults: in every 10 s window, retries <= 0.2 * requests + 10/s * 10 s; over a run, per window."""
    clock = ManualClock()
    budget = RetryBudget(clock=clock)
    requests, granted = _run(budget, clock, sequence)
    for t in granted:  # every ttl-long window that ends at a granted retry
        in_window = sum(1 for g in granted if t - 10.0 < g <= t)
        funded = sum(1 for r in requests if t - 10.0 < r <= t)
        assert in_window <= 0.2 * funded + 100 + 1e-9
    duration = clock.now()
    assert len(granted) <= 0.2 * len(requests) + 10 * (duration + 10.0) + 1e-9
    if duration < 10.0:  # the whole run fits in one window
        assert len(granted) <= 0.2 * len(requests) + 100 + 1e-9


@settings(max_examples=200, deadline=None)
@given(
    sequence=events,
    ttl=st.integers(min_value=1, max_value=60),
    rate=st.floats(min_value=0, max_value=5),
    percent=st.floats(min_value=0, max_value=3),
    slices=st.integers(min_value=1, max_value=20),
)
def test_any_budget_bounds_retries_in_every_ttl_window(
    sequence: list[tuple[float, str]], ttl: int, rate: float, percent: float, slices: int
) -> None:
    """For any configuration and sequence: retries in a ttl window <= percent * requests + rate * ttl."""
    clock = ManualClock()
    budget = RetryBudget(
        ttl=ttl, min_retries_per_sec=rate, percent_can_retry=percent, clock=clock, slices=slices
    )
    requests, granted = _run(budget, clock, sequence)
    for t in granted:
        in_window = sum(1 for g in granted if t - ttl < g <= t)
        funded = sum(1 for r in requests if t - ttl < r <= t)
        assert in_window <= percent * funded + rate * ttl + 1e-6
    assert budget.statistics().withdrawals == len(granted)


@settings(max_examples=100, deadline=None)
@given(n=st.integers(min_value=0, max_value=2000))
def test_a_steady_stream_can_use_its_whole_share(n: int) -> None:
    """The bound is tight: n requests at once fund floor(0.2 * n) retries on top of the reserve."""
    budget = RetryBudget(clock=ManualClock())
    for _ in range(n):
        budget.deposit()
    assert budget.balance == math.floor(0.2 * n + 1e-9) + 100
