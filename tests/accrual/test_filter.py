"""Tests of ``finpy.accrual.filter``: the breaker in the endpoint stack, failing open."""

from __future__ import annotations

import asyncio
import random

import grpc
import grpc.aio
import pytest

from finpy import (
    AttemptTimeout,
    ClockParam,
    ConfigurationError,
    FunctionService,
    ManualClock,
    Params,
    Service,
    Status,
    default_endpoint_stack,
)
from finpy.accrual import BreakerState, FailureAccrual, FailureAccrualFilter
from finpy.balancer.stats import find_breaker


class Flaky(Service[str, str]):
    """A backend whose next answers are scripted: an exception to raise or a reply."""

    def __init__(self) -> None:
        self.fail_with: BaseException | None = None
        self.calls = 0

    async def __call__(self, request: str, /) -> str:
        self.calls += 1
        if self.fail_with is not None:
            raise self.fail_with
        return "ok"


def _unavailable() -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(
        grpc.StatusCode.UNAVAILABLE, grpc.aio.Metadata(), grpc.aio.Metadata(), "down", ""
    )


def _accrual(clock: ManualClock) -> tuple[FailureAccrualFilter[str, str], Flaky, Service[str, str]]:
    backend = Flaky()
    f: FailureAccrualFilter[str, str] = FailureAccrualFilter.create(
        clock=clock, rng=random.Random(50)
    )
    return f, backend, f.and_then(backend)


async def test_failures_eject_and_the_service_reports_busy() -> None:
    """Five UNAVAILABLE answers make the endpoint's service BUSY."""
    clock = ManualClock()
    f, backend, svc = _accrual(clock)
    backend.fail_with = _unavailable()
    for _ in range(5):
        with pytest.raises(grpc.aio.AioRpcError):
            await svc("x")
    assert f.breaker.state is BreakerState.DEAD
    assert svc.status is Status.BUSY


async def test_dead_endpoint_still_serves_requests_that_reach_it() -> None:
    """Fail open: a request sent to a dead endpoint is passed through, not rejected."""
    clock = ManualClock()
    f, backend, svc = _accrual(clock)
    backend.fail_with = _unavailable()
    for _ in range(5):
        with pytest.raises(grpc.aio.AioRpcError):
            await svc("x")
    backend.fail_with = None
    assert await svc("x") == "ok"
    assert backend.calls == 6
    assert f.breaker.state is BreakerState.DEAD  # not the probe: no revival


async def test_probe_after_backoff_revives() -> None:
    """After the backoff the next request probes; its success makes the endpoint OPEN again."""
    clock = ManualClock()
    f, backend, svc = _accrual(clock)
    backend.fail_with = _unavailable()
    for _ in range(5):
        with pytest.raises(grpc.aio.AioRpcError):
            await svc("x")
    clock.advance(5.0)
    assert svc.status is Status.OPEN  # probe open
    backend.fail_with = None
    assert await svc("x") == "ok"
    assert f.breaker.state is BreakerState.ALIVE and f.breaker.revivals == 1


async def test_application_errors_do_not_eject() -> None:
    """NOT_FOUND answers are a healthy endpoint answering."""
    clock = ManualClock()
    f, backend, svc = _accrual(clock)
    backend.fail_with = grpc.aio.AioRpcError(
        grpc.StatusCode.NOT_FOUND, grpc.aio.Metadata(), grpc.aio.Metadata(), "no such user", ""
    )
    for _ in range(20):
        with pytest.raises(grpc.aio.AioRpcError):
            await svc("x")
    assert f.breaker.state is BreakerState.ALIVE
    assert f.breaker.policy.statistics().window_failures == 0


async def test_cancelled_probe_is_not_a_verdict() -> None:
    """A probe cancelled by its caller leaves the endpoint waiting for another probe."""
    clock = ManualClock()
    f, backend, svc = _accrual(clock)
    backend.fail_with = _unavailable()
    for _ in range(5):
        with pytest.raises(grpc.aio.AioRpcError):
            await svc("x")
    clock.advance(5.0)
    backend.fail_with = asyncio.CancelledError()
    with pytest.raises(asyncio.CancelledError):
        await svc("x")
    assert f.breaker.state is BreakerState.PROBE_OPEN


@pytest.mark.looptime
async def test_timeouts_below_count_as_failures() -> None:
    """In the default endpoint stack the breaker sits above the attempt timeout and sees it."""
    clock = ManualClock()
    roles = default_endpoint_stack().roles
    assert roles.index("failure_accrual") < roles.index("attempt_timeout")

    async def hang(request: str) -> str:
        await asyncio.sleep(3600)
        return request

    params = Params(AttemptTimeout(0.001), ClockParam(clock))
    svc = default_endpoint_stack().make(params, FunctionService(hang))
    breaker = find_breaker(svc)
    assert breaker is not None
    for _ in range(5):
        with pytest.raises(Exception, match="attempt exceeded"):
            await svc("x")
    assert breaker.state is BreakerState.DEAD


def test_disabled_accrual_adds_nothing() -> None:
    """FailureAccrual(enabled=False) leaves the endpoint stack without a breaker."""
    backend = Flaky()
    svc = default_endpoint_stack().make(Params(FailureAccrual(enabled=False)), backend)
    assert svc is backend


@pytest.mark.parametrize(
    ("kwargs", "bad"),
    [
        ({"consecutive_failures": None, "success_rate": None}, "needs"),
        ({"success_rate": 0}, "success_rate"),
        ({"backoff_base": -1}, "-1"),
        ({"failure_statuses": "UNAVAILABLE"}, "UNAVAILABLE"),
        ({"classifier": 3}, "classifier"),
    ],
)
def test_bad_settings_are_rejected(kwargs: dict[str, object], bad: str) -> None:
    """Each bad FailureAccrual setting is a configuration error naming it."""
    with pytest.raises(ConfigurationError, match=bad):
        FailureAccrual(**kwargs)  # type: ignore[arg-type]
