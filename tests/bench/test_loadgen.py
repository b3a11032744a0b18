"""The open-loop generator: fixed schedule, latency from the schedule, bounds, drops."""

from __future__ import annotations

import asyncio

import grpc
import grpc.aio
import pytest

import finpy
from finpy.bench.loadgen import LoadSpec, OpenLoop
from finpy.bench.outcome import DROPPED, LOADGEN_TIMEOUT


class LateClock:
    """The loop clock, but every sleep overshoots by ``lag``: a saturated client machine."""

    def __init__(self, lag: float) -> None:
        self.lag = lag

    def now(self) -> float:
        return asyncio.get_running_loop().time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds + self.lag)


@pytest.mark.looptime
async def test_requests_fire_at_their_scheduled_times_regardless_of_replies() -> None:
    """Request i fires at t0 + i/rate even while every earlier request is still waiting."""
    loop = asyncio.get_running_loop()
    fired: list[float] = []

    async def slow(timeout: float) -> None:
        fired.append(loop.time())
        await asyncio.sleep(0.95)  # far longer than the 0.1 s interval

    gen = OpenLoop(LoadSpec(rate=10, duration=1.0, timeout=1.0), slow)
    t0 = loop.time()
    result = await gen.run()
    assert [round(t - t0, 6) for t in fired] == [round(i / 10, 6) for i in range(10)]
    assert result.sent == 10 and result.ok == 10 and result.dropped == 0
    assert result.latency.p50 == pytest.approx(0.95)
    assert result.elapsed == pytest.approx(0.9 + 0.95)


@pytest.mark.looptime
async def test_latency_counts_from_the_schedule_not_from_the_send() -> None:
    """When the generator fires late, the lateness is charged to the request's latency."""
    gen = OpenLoop(
        LoadSpec(rate=10, duration=0.5, timeout=1.0),
        lambda timeout: asyncio.sleep(0.2),
        clock=LateClock(0.05),
    )
    result = await gen.run()
    assert result.fire_lag.max == pytest.approx(0.05)  # the schedule is absolute: no drift
    assert result.latency.min == pytest.approx(0.2)  # request 0 is sent on time
    assert result.latency.max == pytest.approx(0.25)  # the others pay for the late send


@pytest.mark.looptime
async def test_every_request_gets_the_deadline() -> None:
    """The call receives the spec's timeout, which is each request's deadline."""
    seen: list[float] = []

    async def call(timeout: float) -> None:
        seen.append(timeout)

    await OpenLoop(LoadSpec(rate=100, duration=0.05, timeout=0.25), call).run()
    assert seen == [0.25] * 5


@pytest.mark.looptime
async def test_run_is_bounded_by_count_and_by_time() -> None:
    """The planned count is the lower of the request bound and rate x duration."""
    assert LoadSpec(rate=100, duration=2, timeout=1, requests=50).planned == 50
    assert LoadSpec(rate=100, duration=0.3, timeout=1, requests=50).planned == 30
    calls = 0

    async def call(timeout: float) -> None:
        nonlocal calls
        calls += 1

    loop = asyncio.get_running_loop()
    t0 = loop.time()
    result = await OpenLoop(LoadSpec(rate=100, duration=10, timeout=1, requests=7), call).run()
    assert calls == 7 and result.planned == 7
    assert loop.time() - t0 == pytest.approx(0.06)


@pytest.mark.looptime
async def test_requests_over_the_outstanding_bound_are_dropped_and_reported() -> None:
    """A request due while max_outstanding are in flight is not sent and counts as a drop."""
    gen = OpenLoop(
        LoadSpec(rate=10, duration=1.0, timeout=5.0, max_outstanding=3),
        lambda timeout: asyncio.sleep(2.0),
    )
    result = await gen.run()
    assert (result.sent, result.dropped) == (3, 7)
    assert result.statuses == {"OK": 3, DROPPED: 7}
    assert result.success_ratio == pytest.approx(0.3)
    assert result.errors == {DROPPED: 7}


@pytest.mark.looptime
async def test_failures_are_counted_by_grpc_status_with_their_latency() -> None:
    """Errors are grouped by status name and their latencies kept apart from successes."""
    n = 0

    async def call(timeout: float) -> None:
        nonlocal n
        n += 1
        if n % 2 == 0:
            await asyncio.sleep(0.01)
            raise grpc.aio.AioRpcError(
                grpc.StatusCode.UNAVAILABLE, grpc.aio.Metadata(), grpc.aio.Metadata(), "down", None
            )
        await asyncio.sleep(0.1)

    result = await OpenLoop(LoadSpec(rate=100, duration=0.1, timeout=1.0), call).run()
    assert result.statuses == {"OK": 5, "UNAVAILABLE": 5}
    assert result.ok_latency.p50 == pytest.approx(0.1)
    assert result.failed_latency.p50 == pytest.approx(0.01)


@pytest.mark.looptime
async def test_a_client_that_ignores_its_deadline_is_stopped_and_flagged() -> None:
    """A call still running past deadline + grace is cancelled and reported as LOADGEN_TIMEOUT."""
    cancelled = 0

    async def hang(timeout: float) -> None:
        nonlocal cancelled
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled += 1
            raise

    loop = asyncio.get_running_loop()
    t0 = loop.time()
    spec = LoadSpec(rate=10, duration=0.2, timeout=0.5, hard_stop_grace=0.25)
    result = await OpenLoop(spec, hang).run()
    assert result.statuses == {LOADGEN_TIMEOUT: 2} and cancelled == 2
    assert loop.time() - t0 == pytest.approx(0.1 + 0.75)


@pytest.mark.looptime
async def test_statistics_show_progress_while_running() -> None:
    """statistics() reports scheduled, completed and outstanding requests mid-run."""
    gen = OpenLoop(LoadSpec(rate=10, duration=1.0, timeout=5), lambda t: asyncio.sleep(0.25))
    task = asyncio.create_task(gen.run())
    await asyncio.sleep(0.42)
    s = gen.statistics()
    assert (s.planned, s.scheduled, s.completed, s.outstanding) == (10, 5, 2, 3)
    assert "2/10 done" in repr(gen)
    await task
    assert gen.statistics().completed == 10


@pytest.mark.parametrize(
    ("kwargs", "bad"),
    [
        ({"rate": 0}, "rate"),
        ({"rate": float("inf")}, "rate"),
        ({"duration": -1}, "duration"),
        ({"timeout": "1"}, "timeout"),
        ({"requests": 0}, "requests"),
        ({"max_outstanding": 0}, "max_outstanding"),
        ({"hard_stop_grace": -1}, "hard_stop_grace"),
    ],
)
def test_bad_load_specs_are_rejected_naming_the_value(kwargs: dict[str, object], bad: str) -> None:
    """Each invalid field raises ConfigurationError naming the field."""
    base: dict[str, object] = {"rate": 10, "duration": 1, "timeout": 1}
    with pytest.raises(finpy.ConfigurationError, match=bad):
        LoadSpec(**{**base, **kwargs})  # type: ignore[arg-type]
