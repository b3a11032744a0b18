"""Hedged (backup) requests: a second attempt when the first is slower than usual.

A few slow replies (a GC pause, a busy replica) set a service's tail latency.
For an idempotent method, waiting for the slowest ones is optional: when the
first attempt has been outstanding longer than the latency percentile
``p(1 - max_extra_load)`` of recent successful calls, send a backup to another
endpoint and take whichever succeeds first ("The Tail at Scale"; Finagle's
``BackupRequestFilter``).  With ``max_extra_load = 0.05`` the backup goes at the
p95 latency, so about 5% of calls send one.

Bounds, so hedging cannot become a storm of its own:

* a budget of its own, ``max_extra_load`` backups per request over the
  histogram window (no reserve), and the client's shared retry budget: a
  backup is sent only when *both* grant it;
* a floor on the delay (``min_delay``) and no backup that could only start
  after the deadline;
* only methods declared idempotent that enable hedging
  (``MethodConfig(idempotent=True, hedge=True)`` or a client-wide
  ``HedgeParam`` for idempotent methods).

The first success wins; the loser is cancelled (its task is awaited, so nothing
is left behind, and for gRPC the call is cancelled on the server too).  If the
first to finish failed, the other one is awaited; if both fail, the later
failure is raised for the retry layer above to judge.  The hedge layer sits
below the retry layer, so a backup goes to an endpoint the request has not
tried yet.  Backups run with :data:`~finpy.retry.attempt.AttemptKind.HEDGE`
as their attempt kind and are counted (``hedges_sent``, ``hedges_won``).

Hedging applies to calls whose response is one message: a protocol surface
turns it off for streaming methods (the gRPC channel does).
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from typing import Any, TypeVar

from finpy.clock import SYSTEM_CLOCK, Clock, ClockParam, LoopClock
from finpy.context import _ATTEMPT, _DEADLINE, _TRIED
from finpy.errors import AttemptTimeoutError, ConfigurationError
from finpy.filter import Filter
from finpy.method import MethodConfig, MethodConfigs
from finpy.params import Param, Params
from finpy.retry.attempt import _KIND, AttemptKind
from finpy.retry.budget import RetryBudget, RetryBudgetParam
from finpy.retry.histogram import LatencyHistogram
from finpy.retry.statistics import RetryStats, RetryStatsParam
from finpy.service import Service

__all__ = ["Hedge", "HedgeFilter", "HedgeParam", "HedgeStatistics"]

Req = TypeVar("Req")
Rep = TypeVar("Rep")

#: How often the backup delay is recomputed from the histogram (seconds).
REFRESH_INTERVAL = 1.0
#: At most this many methods get their own hedging state per client.
_MAX_METHODS = 1024


@dataclass(frozen=True, slots=True)
class Hedge:
    """How a method hedges.

    Args:
        max_extra_load: share of extra requests hedging may add, in ``(0, 1)``;
            the backup goes at the ``1 - max_extra_load`` latency percentile.
        min_delay: never send a backup sooner than this (seconds, ``> 0``).
        window: seconds of latency history (and of the hedge budget), ``[1, 60]``.
        enabled: ``False`` turns hedging off where a broader pattern turned it on.
    """

    max_extra_load: float = 0.05
    min_delay: float = 0.001
    window: float = 30.0
    enabled: bool = True

    def __post_init__(self) -> None:
        mel = self.max_extra_load
        if isinstance(mel, bool) or not isinstance(mel, (int, float)) or not 0 < mel < 1:
            raise ConfigurationError(
                f"hedge max_extra_load must be in (0, 1) (0.05 is 5%), got {mel!r}"
            )
        md = self.min_delay
        if isinstance(md, bool) or not isinstance(md, (int, float)) or not 0 < md < math.inf:
            raise ConfigurationError(f"hedge min_delay must be > 0 seconds, got {md!r}")
        w = self.window
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not 1 <= w <= 60:
            raise ConfigurationError(f"hedge window must be in [1, 60] seconds, got {w!r}")
        if not isinstance(self.enabled, bool):
            raise ConfigurationError(f"hedge enabled must be True or False, got {self.enabled!r}")

    @property
    def percentile(self) -> float:
        """The latency quantile after which a backup is sent."""
        return 1.0 - self.max_extra_load

    @property
    def min_samples(self) -> int:
        """Latencies needed before the percentile means anything (and hedging starts)."""
        return max(10, math.ceil(1.0 / self.max_extra_load))


_DEFAULT_HEDGE = Hedge()


@dataclass(frozen=True, slots=True)
class HedgeParam(Param):
    """Client-wide hedging of idempotent methods (``None``: only where methods enable it)."""

    hedge: Hedge | bool | None = None

    def __post_init__(self) -> None:
        if self.hedge is not None and not isinstance(self.hedge, (bool, Hedge)):
            raise ConfigurationError(
                f"hedge must be True, False or a finpy.retry.Hedge, got {self.hedge!r}"
            )


def _policy(value: Hedge | bool | None) -> Hedge | None:
    if value is None or value is False:
        return None
    if value is True:
        return _DEFAULT_HEDGE
    return value if value.enabled else None


@dataclass(frozen=True, slots=True)
class HedgeStatistics:
    """A snapshot of one method's hedging."""

    delay: float | None
    """Current backup delay (seconds); ``None`` until enough latencies are known."""
    samples: int
    """Latencies in the window."""
    budget_balance: int
    """Backups the hedge budget (``max_extra_load``) would grant now."""


class _MethodState:
    """Latencies, budget and current delay of one hedged method."""

    __slots__ = ("budget", "delay", "histogram", "next_refresh", "policy")

    def __init__(self, policy: Hedge, clock: Clock) -> None:
        self.policy = policy
        self.histogram = LatencyHistogram(policy.window, clock=clock)
        ttl = min(60.0, max(1.0, policy.window))
        self.budget = RetryBudget(
            ttl=ttl, min_retries_per_sec=0.0, percent_can_retry=policy.max_extra_load, clock=clock
        )
        self.delay: float | None = None
        self.next_refresh = -math.inf

    def current_delay(self, now: float) -> float | None:
        if now >= self.next_refresh or (
            self.delay is None and self.histogram.count >= self.policy.min_samples
        ):
            self.next_refresh = now + REFRESH_INTERVAL
            if self.histogram.count < self.policy.min_samples:
                self.delay = None
            else:
                p = self.histogram.percentile(self.policy.percentile)
                self.delay = None if p is None else max(self.policy.min_delay, p)
        return self.delay


class HedgeFilter(Filter[Req, Rep]):
    """Sends a backup attempt when the first is slower than the recent p(1 - max_extra_load)."""

    __slots__ = ("_budget", "_clock", "_default", "_methods", "_stats")

    def __init__(
        self,
        *,
        default: Hedge | bool | None = None,
        budget: RetryBudget | None = None,
        stats: RetryStats | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        if default is not None and not isinstance(default, (bool, Hedge)):
            raise ConfigurationError(
                f"hedge must be True, False or a finpy.retry.Hedge, got {default!r}"
            )
        self._default = default
        self._budget = budget if budget is not None else RetryBudget(clock=clock)
        self._stats = stats if stats is not None else RetryStats(self._budget)
        self._clock = clock
        self._methods: dict[Any, _MethodState] = {}

    # -- configuration --------------------------------------------------------------------

    def policy_for(self, request: Any) -> Hedge | None:
        """The hedging policy of ``request``'s method (``None``: not hedged)."""
        config = getattr(request, "method_config", None)
        if not isinstance(config, MethodConfig) or not config.is_idempotent:
            return None
        return _policy(config.hedge if config.hedge is not None else self._default)

    def _state(self, request: Any, policy: Hedge) -> _MethodState:
        key = getattr(request, "method", None)
        state = self._methods.get(key)
        if state is None or state.policy is not policy:
            if len(self._methods) >= _MAX_METHODS:
                self._methods.clear()
            state = self._methods[key] = _MethodState(policy, self._clock)
        return state

    def statistics(self, method: Any = None) -> HedgeStatistics | None:
        """Hedging state of ``method`` (the request's ``method`` attribute), if it has any."""
        state = self._methods.get(method)
        if state is None:
            return None
        return HedgeStatistics(
            delay=state.current_delay(self._clock.now()),
            samples=state.histogram.count,
            budget_balance=state.budget.balance,
        )

    # -- serving --------------------------------------------------------------------------

    async def __call__(self, request: Req, service: Service[Req, Rep], /) -> Rep:
        if _ATTEMPT.get() == 0:  # no retry layer above to count the request in the budget
            self._budget.deposit()
        policy = self.policy_for(request)
        if policy is None:
            return await service(request)
        state = self._state(request, policy)
        if _ATTEMPT.get() <= 1:  # once per logical request, not per retry
            state.budget.deposit()
        clock = self._clock
        now = clock.now()
        delay = state.current_delay(now)
        deadline = _DEADLINE.get()  # on the loop clock, whatever ClockParam says
        if delay is None or (deadline is not None and SYSTEM_CLOCK.now() + delay >= deadline):
            return await self._timed(state, service, request, now)
        if _TRIED.get() is None:  # no retry layer above: track endpoints for the backup
            token = _TRIED.set([])
            try:
                return await self._race(state, service, request, delay, now)
            finally:
                _TRIED.reset(token)
        return await self._race(state, service, request, delay, now)

    async def _timed(
        self, state: _MethodState, service: Service[Req, Rep], request: Req, start: float
    ) -> Rep:
        """Call ``service`` and record the latency of a success (or an attempt timeout)."""
        try:
            response = await service(request)
        except AttemptTimeoutError:
            state.histogram.add(self._clock.now() - start)
            raise
        state.histogram.add(self._clock.now() - start)
        return response

    async def _wait(self, task: asyncio.Task[Rep], delay: float) -> None:
        """Return when ``task`` is done or ``delay`` has passed on the filter's clock."""
        if isinstance(self._clock, LoopClock):
            await asyncio.wait((task,), timeout=delay)
            return
        timer = asyncio.ensure_future(self._clock.sleep(delay))
        try:
            await asyncio.wait((task, timer), return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not timer.done():
                timer.cancel()
                await asyncio.gather(timer, return_exceptions=True)

    async def _race(
        self,
        state: _MethodState,
        service: Service[Req, Rep],
        request: Req,
        delay: float,
        start: float,
    ) -> Rep:
        loop = asyncio.get_running_loop()
        # [first attempt, backup]: a list, so the finally below can drop both tasks (a
        # raised failure's traceback holds this frame; the tasks hold the failure)
        tasks = [loop.create_task(self._timed(state, service, request, start))]
        backup_start = start
        superseded = False
        try:
            primary = tasks[0]
            await self._wait(primary, delay)
            if primary.done():
                return primary.result()
            # the hedge budget is checked first but only spent with the client's
            if state.budget.balance < 1 or not self._budget.try_withdraw():
                self._stats.note_budget_exhausted("hedge")
                return await primary
            state.budget.try_withdraw()
            self._stats.hedges_sent += 1
            backup_start = self._clock.now()
            token = _KIND.set(AttemptKind.HEDGE)
            try:
                tasks.append(loop.create_task(self._timed(state, service, request, backup_start)))
            finally:
                _KIND.reset(token)
            backup = tasks[1]
            pending: set[asyncio.Task[Rep]] = {primary, backup}
            failure: BaseException | None = None
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in (primary, backup):  # on a tie the primary wins
                    if task not in done:
                        continue
                    if task.cancelled():
                        failure = asyncio.CancelledError()
                        continue
                    error = task.exception()
                    if error is None:
                        if task is backup:
                            self._stats.hedges_won += 1
                        superseded = True
                        return task.result()
                    failure = error
            assert failure is not None
            try:
                raise failure
            finally:
                failure = error = None
        finally:
            await self._cancel_losers(state, tasks, start, backup_start, superseded)
            tasks.clear()
            primary = backup = task = None  # type: ignore[assignment]

    async def _cancel_losers(
        self,
        state: _MethodState,
        tasks: list[asyncio.Task[Rep]],
        start: float,
        backup_start: float,
        superseded: bool,
    ) -> None:
        """Cancel whatever is still running and wait until it has stopped."""
        losers = []
        now = self._clock.now()
        for task, began in zip(tasks, (start, backup_start), strict=False):
            if not task.done():
                if superseded:  # it took at least this long: keep the tail visible
                    state.histogram.add(now - began)
                task.cancel()
                losers.append(task)
        if losers:
            await asyncio.gather(*losers, return_exceptions=True)

    @staticmethod
    def from_params(params: Params) -> HedgeFilter[Req, Rep] | None:
        """The filter when the client or any method enables hedging, else ``None``."""
        default = params[HedgeParam].hedge
        if _policy(default) is None and not any(
            _policy(c.hedge) is not None for _, c in params[MethodConfigs]
        ):
            return None
        return HedgeFilter(
            default=default,
            budget=params[RetryBudgetParam].budget,
            stats=params[RetryStatsParam].stats,
            clock=params[ClockParam].clock,
        )

    def __repr__(self) -> str:
        return f"HedgeFilter(default={self._default!r}, methods={len(self._methods)})"
