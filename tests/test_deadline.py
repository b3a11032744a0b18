"""Tests of ``finpy.deadline``: the total deadline of a logical request (on virtual time)."""

from __future__ import annotations

import asyncio

import pytest

from finpy import (
    ConfigurationError,
    DeadlineExceededError,
    DeadlineFilter,
    DefaultTimeout,
    EnforceDeadline,
    FunctionService,
    ManualClock,
    Params,
    Service,
    current_deadline,
    deadline_after,
    deadline_at,
)
from finpy.clock import ClockParam


class Sleeper(Service[float, str]):
    """Sleeps the requested (virtual) seconds; records the deadline it saw and how it ended."""

    def __init__(self) -> None:
        self.calls = 0
        self.deadlines: list[float | None] = []
        self.cancelled = 0

    async def __call__(self, seconds: float, /) -> str:
        self.calls += 1
        self.deadlines.append(current_deadline())
        try:
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        return "done"


def now() -> float:
    return asyncio.get_running_loop().time()


@pytest.mark.looptime
async def test_expired_deadline_fails_locally_without_calling_the_service() -> None:
    """A request whose deadline has passed raises DeadlineExceededError unsent; the service is not called."""
    svc = Sleeper()
    f: DeadlineFilter[float, str] = DeadlineFilter()
    with deadline_at(now() - 0.25), pytest.raises(DeadlineExceededError, match="not sent") as info:
        await f(0, svc)
    assert info.value.request_sent is False
    assert info.value.status == "DEADLINE_EXCEEDED"
    assert svc.calls == 0
    with deadline_after(0), pytest.raises(DeadlineExceededError):  # zero time left: expired too
        await f(0, svc)
    assert svc.calls == 0


@pytest.mark.looptime
async def test_no_deadline_passes_through_untouched() -> None:
    """Without a default or a context deadline the service runs unbounded and sees no deadline."""
    svc = Sleeper()
    f: DeadlineFilter[float, str] = DeadlineFilter()
    assert await f(1000, svc) == "done"
    assert svc.deadlines == [None]


@pytest.mark.looptime
async def test_default_timeout_sets_the_deadline_seen_below() -> None:
    """The default timeout becomes the deadline in the context of the service, and is undone after."""
    svc = Sleeper()
    start = now()
    await DeadlineFilter[float, str](2.0)(0, svc)
    assert svc.deadlines == [pytest.approx(start + 2.0)]
    assert current_deadline() is None


@pytest.mark.looptime
@pytest.mark.parametrize(("caller", "default", "expected"), [(1.0, 5.0, 1.0), (5.0, 1.0, 1.0)])
async def test_earliest_of_context_deadline_and_default_wins(
    caller: float, default: float, expected: float
) -> None:
    """The deadline used is the earlier of the caller's (context) deadline and the default timeout."""
    svc = Sleeper()
    start = now()
    with deadline_after(caller):
        await DeadlineFilter[float, str](default)(0, svc)
    assert svc.deadlines == [pytest.approx(start + expected)]


@pytest.mark.looptime
async def test_deadline_is_enforced_on_virtual_time() -> None:
    """A call that outlives its deadline is cancelled and fails with DeadlineExceededError (sent) at the deadline."""
    svc = Sleeper()
    start = now()
    with pytest.raises(DeadlineExceededError, match=r"2000\.0 ms") as info:
        await DeadlineFilter[float, str](2.0)(10, svc)
    assert now() - start == pytest.approx(2.0)
    assert info.value.request_sent is True
    assert svc.cancelled == 1


@pytest.mark.looptime
async def test_call_finishing_before_the_deadline_succeeds() -> None:
    """A call that finishes before its deadline returns normally at its own pace."""
    svc = Sleeper()
    start = now()
    assert await DeadlineFilter[float, str](2.0)(1.5, svc) == "done"
    assert now() - start == pytest.approx(1.5)


@pytest.mark.looptime
async def test_enforce_false_sets_the_deadline_but_sets_no_timer() -> None:
    """EnforceDeadline(False) passes the deadline down (for the transport) without a local timer."""
    svc = Sleeper()
    start = now()
    f: DeadlineFilter[float, str] = DeadlineFilter.from_params(
        Params(DefaultTimeout(2.0), EnforceDeadline(False))
    )
    assert await f(10, svc) == "done"
    assert now() - start == pytest.approx(10)
    assert svc.deadlines == [pytest.approx(start + 2.0)]


@pytest.mark.looptime
async def test_expired_deadline_is_refused_even_when_not_enforced() -> None:
    """Without local enforcement an already expired request is still refused unsent."""
    svc = Sleeper()
    f: DeadlineFilter[float, str] = DeadlineFilter(enforce=False)
    with deadline_after(0), pytest.raises(DeadlineExceededError) as info:
        await f(0, svc)
    assert info.value.request_sent is False
    assert svc.calls == 0


@pytest.mark.looptime
async def test_services_own_timeout_error_is_not_reported_as_the_deadline() -> None:
    """A TimeoutError raised by the service itself (e.g. a connect timeout) passes through unchanged."""
    own = TimeoutError("connect timed out")

    async def connect(_: float) -> str:
        raise own

    with pytest.raises(TimeoutError) as info:
        await DeadlineFilter[float, str](5.0)(0, FunctionService(connect))
    assert info.value is own
    assert not isinstance(info.value, DeadlineExceededError)


@pytest.mark.looptime
async def test_caller_cancellation_is_not_turned_into_a_deadline_error() -> None:
    """Cancelling the caller cancels the call below and surfaces as CancelledError."""
    svc = Sleeper()
    task = asyncio.create_task(DeadlineFilter[float, str](5.0)(10, svc))
    await asyncio.sleep(1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert svc.cancelled == 1


@pytest.mark.looptime
async def test_from_params_reads_default_and_enforce_and_keeps_deadlines_on_the_loop_clock() -> (
    None
):
    """from_params uses DefaultTimeout and EnforceDeadline; a ClockParam does not move deadlines."""
    clock = ManualClock(100.0)
    svc = Sleeper()
    f: DeadlineFilter[float, str] = DeadlineFilter.from_params(
        Params(DefaultTimeout(3.0), EnforceDeadline(False), ClockParam(clock))
    )
    assert repr(f) == "DeadlineFilter(default=3.0, enforce=False)"
    now = asyncio.get_running_loop().time()
    await f(0, svc)
    assert svc.deadlines == [now + 3.0]  # the (virtual) loop clock, not the ManualClock at 100
    assert (
        repr(DeadlineFilter.from_params(Params())) == "DeadlineFilter(default=None, enforce=True)"
    )


@pytest.mark.parametrize("bad", [-1, float("nan"), "3"])
def test_bad_default_timeouts_are_rejected(bad: object) -> None:
    """DefaultTimeout and DeadlineFilter refuse negative, NaN and non-number timeouts, naming them."""
    with pytest.raises(ConfigurationError, match="default timeout"):
        DefaultTimeout(bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="timeout"):
        DeadlineFilter(bad)  # type: ignore[arg-type]
