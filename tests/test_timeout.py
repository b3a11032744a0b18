"""Tests of ``finpy.timeout``: the per-attempt timeout (on virtual time)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest

from finpy import (
    AttemptTimeout,
    AttemptTimeoutError,
    AttemptTimeoutFilter,
    ConfigurationError,
    DeadlineExceededError,
    DeadlineFilter,
    FunctionService,
    MethodConfig,
    MethodConfigs,
    Params,
    Service,
    current_deadline,
    deadline_after,
)


@dataclass
class Call:
    """A request: how long the backend takes, and the method's config."""

    seconds: float
    method_config: MethodConfig = field(default_factory=MethodConfig)


class Sleeper(Service[Call, str]):
    def __init__(self) -> None:
        self.deadlines: list[float | None] = []
        self.cancelled = 0

    async def __call__(self, call: Call, /) -> str:
        self.deadlines.append(current_deadline())
        try:
            await asyncio.sleep(call.seconds)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        return "done"


def now() -> float:
    return asyncio.get_running_loop().time()


@pytest.mark.looptime
async def test_attempt_longer_than_its_timeout_fails_at_the_timeout() -> None:
    """An attempt outliving its timeout is cancelled and raises AttemptTimeoutError (sent) at that time."""
    svc = Sleeper()
    start = now()
    with pytest.raises(AttemptTimeoutError, match=r"500\.0 ms") as info:
        await AttemptTimeoutFilter[Call, str](0.5)(Call(10), svc)
    assert now() - start == pytest.approx(0.5)
    assert info.value.request_sent is True
    assert isinstance(info.value, DeadlineExceededError)
    assert svc.cancelled == 1


@pytest.mark.looptime
async def test_attempt_within_its_timeout_succeeds_and_sees_its_deadline() -> None:
    """A quick attempt returns normally; below the filter the context deadline is the attempt's."""
    svc = Sleeper()
    start = now()
    assert await AttemptTimeoutFilter[Call, str](0.5)(Call(0.2), svc) == "done"
    assert svc.deadlines == [pytest.approx(start + 0.5)]
    assert current_deadline() is None


@pytest.mark.looptime
@pytest.mark.parametrize("client_wide", [None, 0.1, 5.0])
async def test_method_attempt_timeout_wins_over_the_client_wide_one(
    client_wide: float | None,
) -> None:
    """request.method_config.attempt_timeout replaces the filter's own timeout, tighter or looser."""
    svc = Sleeper()
    start = now()
    with pytest.raises(AttemptTimeoutError):
        await AttemptTimeoutFilter[Call, str](client_wide)(
            Call(10, MethodConfig(attempt_timeout=1.0)), svc
        )
    assert now() - start == pytest.approx(1.0)


@pytest.mark.looptime
async def test_method_config_without_attempt_timeout_keeps_the_filters() -> None:
    """A method config that sets no attempt timeout leaves the client-wide one in force."""
    svc = Sleeper()
    start = now()
    with pytest.raises(AttemptTimeoutError):
        await AttemptTimeoutFilter[Call, str](0.3)(Call(10, MethodConfig(timeout=9.0)), svc)
    assert now() - start == pytest.approx(0.3)


@pytest.mark.looptime
async def test_tighter_outer_deadline_means_no_extra_timer() -> None:
    """When the request's deadline comes first, the filter adds no timer and leaves the deadline alone."""
    svc = Sleeper()
    start = now()
    with deadline_after(1.0):
        # 1.5 s > 1.0 s deadline but < 2 s attempt timeout: only the (unenforced here) deadline applies
        assert await AttemptTimeoutFilter[Call, str](2.0)(Call(1.5), svc) == "done"
    assert svc.deadlines == [pytest.approx(start + 1.0)]


@pytest.mark.looptime
async def test_attempt_timeout_inside_a_longer_deadline_is_an_attempt_timeout() -> None:
    """Under a DeadlineFilter, an attempt timeout fires first and surfaces as AttemptTimeoutError."""
    svc = Sleeper()
    start = now()
    stack = (
        DeadlineFilter[Call, str](5.0).and_then(AttemptTimeoutFilter[Call, str](1.0)).and_then(svc)
    )
    with pytest.raises(AttemptTimeoutError):
        await stack(Call(10))
    assert now() - start == pytest.approx(1.0)


@pytest.mark.looptime
async def test_no_timeout_passes_through() -> None:
    """With no timeout from the filter or the method, the attempt is unbounded."""
    svc = Sleeper()
    assert await AttemptTimeoutFilter[Call, str](None)(Call(100), svc) == "done"
    assert svc.deadlines == [None]


@pytest.mark.looptime
async def test_services_own_timeout_error_is_not_an_attempt_timeout() -> None:
    """A TimeoutError raised by the service itself is passed through, not relabelled as a sent attempt timeout."""
    own = TimeoutError("connect timed out")

    async def connect(_: Call) -> str:
        raise own

    with pytest.raises(TimeoutError) as info:
        await AttemptTimeoutFilter[Call, str](5.0)(Call(0), FunctionService(connect))
    assert info.value is own


def test_from_params_is_none_when_nothing_is_configured() -> None:
    """No AttemptTimeout and no per-method attempt timeout: no module in the path."""
    assert AttemptTimeoutFilter.from_params(Params()) is None
    assert (
        AttemptTimeoutFilter.from_params(Params(MethodConfigs({"*": MethodConfig(timeout=1.0)})))
        is None
    )


def test_from_params_builds_the_filter_from_attempt_timeout() -> None:
    """AttemptTimeout(s) gives a filter with that timeout."""
    f = AttemptTimeoutFilter[Call, str].from_params(Params(AttemptTimeout(0.2)))
    assert repr(f) == "AttemptTimeoutFilter(0.2)"


@pytest.mark.looptime
async def test_from_params_builds_the_filter_for_per_method_attempt_timeouts() -> None:
    """A per-method attempt timeout alone is enough to put the filter in the path (and it is enforced)."""
    params = Params(MethodConfigs({"Slow": MethodConfig(attempt_timeout=0.25)}))
    f = AttemptTimeoutFilter[Call, str].from_params(params)
    assert f is not None
    config = params[MethodConfigs].resolve("/svc/Slow")
    start = now()
    with pytest.raises(AttemptTimeoutError):
        await f(Call(10, config), Sleeper())
    assert now() - start == pytest.approx(0.25)


@pytest.mark.parametrize("bad", [0, -1, float("nan"), "1"])
def test_bad_attempt_timeouts_are_rejected(bad: object) -> None:
    """Attempt timeouts must be > 0 seconds, in the param and in the filter."""
    with pytest.raises(ConfigurationError, match="attempt timeout"):
        AttemptTimeout(bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="attempt timeout"):
        AttemptTimeoutFilter(bad)  # type: ignore[arg-type]
