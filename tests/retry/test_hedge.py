"""HedgeFilter on virtual time: delay selection, winner/loser, budgets, deadline, configuration."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Any

import pytest

import finpy
from finpy import (
    Address,
    ConfigurationError,
    FunctionService,
    MethodConfig,
    MethodConfigs,
    Params,
    RoundRobin,
)
from finpy.endpoint import Endpoint
from finpy.retry import (
    AttemptKind,
    Hedge,
    HedgeFilter,
    HedgeParam,
    RetryBudget,
    RetryStats,
    current_attempt_kind,
)
from finpy.retry.hedge import REFRESH_INTERVAL

METHOD = "/svc.S/Get"


class Flaky(Exception):
    pass


class Req:
    def __init__(self, config: MethodConfig | None = None, method: str = METHOD) -> None:
        self.method = method
        self.method_config = config or MethodConfig(idempotent=True, hedge=True)


class Backend:
    """Answers after ``latency(i, kind)`` virtual seconds; fails when ``fail(i, kind)``."""

    def __init__(
        self,
        latency: Callable[[int, AttemptKind], float],
        fail: Callable[[int, AttemptKind], bool] = lambda i, k: False,
    ) -> None:
        self.latency = latency
        self.fail = fail
        self.calls: list[AttemptKind] = []
        self.cancelled = 0

    async def __call__(self, request: object) -> str:
        i = len(self.calls)
        kind = current_attempt_kind()
        self.calls.append(kind)
        try:
            await asyncio.sleep(self.latency(i, kind))
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        if self.fail(i, kind):
            raise Flaky(f"{kind.value}-{i}")
        return f"{kind.value}-{i}"


def hedged(
    backend: Backend, budget: RetryBudget | None = None, **kwargs: Any
) -> tuple[Callable[[object], Any], HedgeFilter[object, object], RetryStats]:
    stats = RetryStats(budget)
    f: HedgeFilter[object, object] = HedgeFilter(
        budget=budget or RetryBudget(), stats=stats, **kwargs
    )
    return f.and_then(FunctionService(backend)), f, stats


def no_budget() -> RetryBudget:
    return RetryBudget(min_retries_per_sec=0, percent_can_retry=0)


async def warm_up(svc: Callable[[object], Any], n: int, req: Req | None = None) -> None:
    for _ in range(n):
        await svc(req or Req())


@pytest.mark.looptime
async def test_no_backup_before_enough_latencies_are_known() -> None:
    """Until the window holds 1/max_extra_load (20) latencies there is no delay and no backup."""
    backend = Backend(lambda i, k: 0.01)
    svc, f, stats = hedged(backend)
    await warm_up(svc, 19)
    s = f.statistics(METHOD)
    assert s is not None and s.delay is None and s.samples == 19
    await warm_up(svc, 1)
    assert f.statistics(METHOD).delay is not None  # type: ignore[union-attr]
    assert stats.statistics().hedges_sent == 0


@pytest.mark.looptime
@pytest.mark.parametrize(("max_extra_load", "quantile"), [(0.05, 0.95), (0.2, 0.80), (0.01, 0.99)])
async def test_backup_delay_is_the_latency_percentile_of_one_minus_max_extra_load(
    max_extra_load: float, quantile: float
) -> None:
    """Latencies 1..100 ms: the delay is p(1 - max_extra_load) (95 ms for 5%), within the 2% buckets."""
    order = list(range(1, 101))
    random.Random(7).shuffle(order)
    backend = Backend(lambda i, k: order[i % 100] / 1000)
    policy = Hedge(max_extra_load=max_extra_load)
    svc, f, _ = hedged(backend, budget=no_budget())  # no backups: only latencies recorded
    await warm_up(svc, 100, Req(MethodConfig(idempotent=True, hedge=policy)))
    await asyncio.sleep(REFRESH_INTERVAL)  # the delay is recomputed at most once a second
    delay = f.statistics(METHOD).delay  # type: ignore[union-attr]
    assert delay is not None
    assert quantile * 0.1 <= delay <= quantile * 0.1 * 1.02 + 1e-9


@pytest.mark.looptime
async def test_the_delay_never_goes_below_its_floor() -> None:
    """Instant replies give a near-zero percentile: the backup still waits min_delay."""
    backend = Backend(lambda i, k: 0.0)
    svc, f, _ = hedged(backend)
    await warm_up(svc, 30, Req(MethodConfig(idempotent=True, hedge=Hedge(min_delay=0.004))))
    assert f.statistics(METHOD).delay == 0.004  # type: ignore[union-attr]


@pytest.mark.looptime
async def test_the_delay_follows_recent_latencies() -> None:
    """Latencies leave the window: after 40 s at 50 ms, the delay reflects 50 ms, not the old 10 ms."""
    latency = [0.01]
    backend = Backend(lambda i, k: latency[0])
    svc, f, _ = hedged(backend, budget=no_budget())
    await warm_up(svc, 50)
    assert f.statistics(METHOD).delay == pytest.approx(0.01, rel=0.03)  # type: ignore[union-attr]
    latency[0] = 0.05
    await asyncio.sleep(40.0)
    await warm_up(svc, 50)
    await asyncio.sleep(REFRESH_INTERVAL)
    assert f.statistics(METHOD).delay == pytest.approx(0.05, rel=0.03)  # type: ignore[union-attr]


@pytest.mark.looptime
async def test_a_slow_first_attempt_loses_to_the_backup_and_is_cancelled() -> None:
    """After the p95 delay a backup goes out; it answers first, wins, and the slow attempt is cancelled."""
    slow_call = 40
    backend = Backend(lambda i, k: 5.0 if i == slow_call else 0.01)
    svc, f, stats = hedged(backend)
    await warm_up(svc, slow_call)
    delay = f.statistics(METHOD).delay  # type: ignore[union-attr]
    assert delay is not None
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    assert await svc(Req()) == f"hedge-{slow_call + 1}"
    assert loop.time() - t0 == pytest.approx(delay + 0.01, abs=1e-5)
    assert backend.calls[slow_call:] == [AttemptKind.FIRST, AttemptKind.HEDGE]
    assert backend.cancelled == 1
    s = stats.statistics()
    assert (s.hedges_sent, s.hedges_won) == (1, 1)


async def test_the_backup_timer_runs_on_the_filter_clock() -> None:
    """With a ManualClock the backup goes out only when the test moves that clock past the delay."""
    clock = finpy.ManualClock()
    gate = asyncio.Event()
    kinds: list[AttemptKind] = []

    async def answer(request: object) -> int:
        kinds.append(current_attempt_kind())
        if len(kinds) == 21:
            await gate.wait()  # the first attempt of call 21 hangs until cancelled
        return len(kinds)

    f: HedgeFilter[object, object] = HedgeFilter(clock=clock, budget=RetryBudget(clock=clock))
    svc = f.and_then(FunctionService(answer))
    for _ in range(20):  # instant on the manual clock: the delay is the 1 ms floor
        await svc(Req())
    call = asyncio.ensure_future(svc(Req()))
    for _ in range(5):
        await asyncio.sleep(0)
    assert len(kinds) == 21 and clock.sleepers == 1
    clock.advance(0.001)
    assert await call == 22
    assert kinds[-2:] == [AttemptKind.FIRST, AttemptKind.HEDGE]


@pytest.mark.looptime
async def test_a_first_attempt_faster_than_the_delay_sends_no_backup() -> None:
    """Calls that answer before the delay never hedge."""
    backend = Backend(lambda i, k: 0.01)
    svc, _, stats = hedged(backend)
    await warm_up(svc, 200)
    assert AttemptKind.HEDGE not in backend.calls
    assert stats.statistics().hedges_sent == 0


@pytest.mark.looptime
async def test_when_one_attempt_fails_the_other_can_still_win() -> None:
    """The first attempt fails after the backup went out: the backup's success is returned."""
    slow = 30
    backend = Backend(
        lambda i, k: 0.5 if i == slow else (0.2 if k is AttemptKind.HEDGE else 0.01),
        fail=lambda i, k: i == slow,
    )
    svc, _, stats = hedged(backend)
    await warm_up(svc, slow)
    assert await svc(Req()) == f"hedge-{slow + 1}"
    assert stats.statistics().hedges_won == 1


@pytest.mark.looptime
async def test_when_both_fail_the_later_failure_is_raised() -> None:
    """Both attempts fail: the one that failed last is raised, for the retry layer to judge."""
    slow = 30
    backend = Backend(
        lambda i, k: 0.3 if i == slow else (0.5 if k is AttemptKind.HEDGE else 0.01),
        fail=lambda i, k: i >= slow,
    )
    svc, _, stats = hedged(backend)
    await warm_up(svc, slow)
    with pytest.raises(Flaky, match=f"hedge-{slow + 1}"):
        await svc(Req())
    assert stats.statistics().hedges_won == 0


@pytest.mark.looptime
async def test_a_failure_before_the_delay_returns_at_once() -> None:
    """A first attempt that fails fast is returned without a backup (retries are the retry layer's job)."""
    slow = 30
    backend = Backend(lambda i, k: 0.001, fail=lambda i, k: i == slow)
    svc, _, stats = hedged(backend)
    await warm_up(svc, slow)
    with pytest.raises(Flaky):
        await svc(Req())
    assert stats.statistics().hedges_sent == 0


@pytest.mark.looptime
@pytest.mark.parametrize(
    "config",
    [
        MethodConfig(idempotent=False, hedge=True),
        MethodConfig(hedge=True),
        MethodConfig(idempotent=True, hedge=False),
        MethodConfig(idempotent=True, hedge=Hedge(enabled=False)),
    ],
)
async def test_only_idempotent_methods_that_enable_it_are_hedged(config: MethodConfig) -> None:
    """Not idempotent, or hedging turned off for the method (even if the client enables it): no backup."""
    slow = 30
    backend = Backend(lambda i, k: 5.0 if i == slow else 0.01)
    svc, _, stats = hedged(backend, default=True)
    await warm_up(svc, slow, Req(config))
    assert await svc(Req(config)) == f"first-{slow}"
    assert stats.statistics().hedges_sent == 0


@pytest.mark.looptime
async def test_client_wide_hedging_applies_to_idempotent_methods() -> None:
    """HedgeFilter(default=True) hedges methods that are idempotent and say nothing about hedging."""
    slow = 30
    backend = Backend(lambda i, k: 5.0 if i == slow else 0.01)
    svc, _, stats = hedged(backend, default=True)
    config = MethodConfig(idempotent=True)
    await warm_up(svc, slow, Req(config))
    assert await svc(Req(config)) == f"hedge-{slow + 1}"
    assert stats.statistics().hedges_sent == 1


@pytest.mark.looptime
async def test_an_empty_client_budget_means_no_backup() -> None:
    """The shared retry budget must grant the backup too; if it is empty, the call just waits."""
    slow = 30
    backend = Backend(lambda i, k: 1.0 if i == slow else 0.01)
    svc, _, stats = hedged(backend, budget=no_budget())
    await warm_up(svc, slow)
    assert await svc(Req()) == f"first-{slow}"
    s = stats.statistics()
    assert (s.hedges_sent, s.budget_exhausted) == (0, 1)


@pytest.mark.looptime
async def test_backups_stay_within_max_extra_load() -> None:
    """Even when every call is slow, backups stay within max_extra_load (5%) of the requests."""
    backend = Backend(lambda i, k: 0.01 if i < 40 else 0.2)
    svc, _, stats = hedged(backend, budget=RetryBudget.unlimited())
    await warm_up(svc, 400)
    sent = stats.statistics().hedges_sent
    assert 0 < sent <= 0.05 * 400 + 1e-9
    assert backend.calls.count(AttemptKind.HEDGE) == sent


@pytest.mark.looptime
async def test_no_backup_that_could_only_start_after_the_deadline() -> None:
    """If the delay reaches the request's deadline, no backup is sent."""
    slow = 30
    backend = Backend(lambda i, k: 1.0 if i == slow else 0.01)
    svc, f, stats = hedged(backend)
    await warm_up(svc, slow)
    delay = f.statistics(METHOD).delay  # type: ignore[union-attr]
    assert delay is not None
    with finpy.deadline_after(delay * 0.9):
        assert await svc(Req()) == f"first-{slow}"
    assert stats.statistics().hedges_sent == 0


@pytest.mark.looptime
async def test_cancelling_the_caller_cancels_both_attempts() -> None:
    """Cancellation is total: cancelling the caller cancels the first attempt and the backup."""
    slow = 30
    backend = Backend(lambda i, k: 10.0 if i >= slow else 0.01)
    svc, _, stats = hedged(backend)
    await warm_up(svc, slow)
    task = asyncio.ensure_future(svc(Req()))
    await asyncio.sleep(1.0)
    assert stats.statistics().hedges_sent == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert backend.cancelled == 2


@pytest.mark.looptime
async def test_the_backup_goes_to_another_endpoint() -> None:
    """Behind a real balancer the backup avoids the endpoint the first attempt went to."""
    served: list[tuple[int, AttemptKind]] = []
    slow_port = 2001

    def endpoint(port: int) -> Endpoint[object, object]:
        async def answer(request: object) -> object:
            served.append((port, current_attempt_kind()))
            slow = port == slow_port and len(served) > 40
            await asyncio.sleep(5.0 if slow else 0.01)
            return port

        return Endpoint(Address("127.0.0.1", port), FunctionService(answer))

    balancer: RoundRobin[object, object] = RoundRobin()
    balancer.update([endpoint(2001), endpoint(2002)])
    f: HedgeFilter[object, object] = HedgeFilter()
    svc = f.and_then(balancer)
    for _ in range(40):
        await svc(Req())
    while served[-1][0] != 2002:  # make the next pick land on the slow endpoint
        await svc(Req())
    assert await svc(Req()) == 2002
    assert served[-2:] == [(2001, AttemptKind.FIRST), (2002, AttemptKind.HEDGE)]


def test_from_params_adds_the_module_only_when_something_enables_hedging() -> None:
    """No client default and no method enabling hedging: the module is left out of the path."""
    assert HedgeFilter.from_params(Params()) is None
    assert HedgeFilter.from_params(Params(HedgeParam(False))) is None
    assert HedgeFilter.from_params(Params(HedgeParam(True))) is not None
    by_method = Params(MethodConfigs({"Get": MethodConfig(idempotent=True, hedge=Hedge())}))
    assert HedgeFilter.from_params(by_method) is not None


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"max_extra_load": 0}, "0"),
        ({"max_extra_load": 1.0}, "1.0"),
        ({"max_extra_load": "5%"}, "'5%'"),
        ({"min_delay": 0}, "0"),
        ({"window": 0.5}, "0.5"),
        ({"window": 61}, "61"),
        ({"enabled": "yes"}, "'yes'"),
    ],
)
def test_bad_hedge_settings_are_refused_naming_the_value(
    kwargs: dict[str, object], named: str
) -> None:
    """max_extra_load in (0, 1), min_delay > 0, window in [1, 60] s: anything else raises."""
    with pytest.raises(ConfigurationError) as info:
        Hedge(**kwargs)  # type: ignore[arg-type]
    assert named in str(info.value)


def test_hedge_param_and_filter_refuse_junk() -> None:
    """HedgeParam and HedgeFilter take True, False, a Hedge or None only."""
    with pytest.raises(ConfigurationError, match=r"0\.05"):
        HedgeParam(0.05)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="'p95'"):
        HedgeFilter(default="p95")  # type: ignore[arg-type]
