"""RetryFilter on virtual time: attempts, requeues, backoff, deadline capping, budget, streams."""

from __future__ import annotations

import asyncio
import itertools
import logging
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
    NoEndpointsError,
    Params,
    RoundRobin,
)
from finpy.endpoint import Endpoint
from finpy.retry import (
    AttemptKind,
    Backoff,
    Classification,
    ResponseClass,
    Retries,
    RetryBudget,
    RetryFilter,
    RetryStats,
    current_attempt_kind,
    is_marked_non_retryable,
)


class Flaky(Exception):
    """A failure the test classifier calls retryable."""


class Fatal(Exception):
    """A failure the test classifier calls non-retryable."""


def classifier(request: Any, response: Any, error: BaseException | None) -> ResponseClass:
    if error is None:
        return ResponseClass.SUCCESS
    if isinstance(error, Flaky):
        return ResponseClass.RETRYABLE
    if isinstance(error, NoEndpointsError):
        return ResponseClass.REQUEUE
    return ResponseClass.NON_RETRYABLE


class Req:
    def __init__(self, config: MethodConfig | None = None) -> None:
        self.method_config = config or MethodConfig()


class Script:
    """A service that plays outcomes in order (the last one forever) and records each attempt."""

    def __init__(self, *outcomes: object) -> None:
        self.outcomes = list(outcomes)
        self.calls: list[tuple[float, int, AttemptKind]] = []

    async def __call__(self, request: object) -> object:
        loop = asyncio.get_running_loop()
        self.calls.append((loop.time(), finpy.current_attempt(), current_attempt_kind()))
        outcome = self.outcomes.pop(0) if len(self.outcomes) > 1 else self.outcomes[0]
        if isinstance(outcome, type) and issubclass(outcome, BaseException):
            raise outcome()  # a fresh failure each time
        if isinstance(outcome, BaseException):
            raise outcome
        if callable(outcome):
            return await outcome()
        return outcome

    def times(self) -> list[float]:
        t0 = self.calls[0][0]
        return [round(t - t0, 6) for t, _, _ in self.calls]


def make(
    script: Script, budget: RetryBudget | None = None, **kwargs: Any
) -> tuple[Callable[[object], Any], RetryStats]:
    stats = RetryStats(budget)
    kwargs.setdefault("backoff", Backoff.none())
    f: RetryFilter[object, object] = RetryFilter(
        classifier=classifier,
        budget=budget or RetryBudget(),
        stats=stats,
        **kwargs,
    )
    return f.and_then(FunctionService(script)), stats


@pytest.mark.looptime
async def test_retries_a_retryable_failure_until_it_succeeds() -> None:
    """Two retryable failures then a success: three attempts numbered 1-3, the success returned."""
    script = Script(Flaky(), Flaky(), "ok")
    svc, stats = make(script)
    assert await svc(Req()) == "ok"
    assert [(n, k) for _, n, k in script.calls] == [
        (1, AttemptKind.FIRST),
        (2, AttemptKind.RETRY),
        (3, AttemptKind.RETRY),
    ]
    s = stats.statistics()
    assert (s.requests, s.retries, s.requeues) == (1, 2, 0)


@pytest.mark.looptime
async def test_requeues_a_never_sent_request_at_once_without_backoff() -> None:
    """A never-sent failure is requeued immediately (no backoff), marked as a REQUEUE attempt."""
    script = Script(NoEndpointsError("none yet"), "ok")
    svc, stats = make(script, backoff=Backoff.constant(1.0))
    assert await svc(Req()) == "ok"
    assert script.times() == [0.0, 0.0]
    assert script.calls[1][2] is AttemptKind.REQUEUE
    assert stats.statistics().requeues == 1


@pytest.mark.looptime
async def test_waits_the_backoff_between_retries_on_virtual_time() -> None:
    """With a 0.2 s constant backoff, attempts start at 0, 0.2 and 0.4 s."""
    script = Script(Flaky(), Flaky(), "ok")
    svc, _ = make(script, backoff=Backoff.constant(0.2))
    assert await svc(Req()) == "ok"
    assert script.times() == [0.0, 0.2, 0.4]


async def test_backoff_waits_on_the_filter_clock() -> None:
    """With a ManualClock the retry waits until the test moves that clock past the backoff."""
    clock = finpy.ManualClock()
    script = Script(Flaky(), "ok")
    svc, _ = make(script, backoff=Backoff.constant(2.0), clock=clock)
    call = asyncio.ensure_future(svc(Req()))
    for _ in range(5):
        await asyncio.sleep(0)
    assert len(script.calls) == 1 and clock.sleepers == 1
    clock.advance(1.9)
    await asyncio.sleep(0)
    assert len(script.calls) == 1
    clock.advance(0.1)
    assert await call == "ok"
    assert len(script.calls) == 2


@pytest.mark.looptime
async def test_full_jitter_waits_stay_within_their_bounds() -> None:
    """Default-style full jitter: retry n waits at most initial * 2 ** (n - 1)."""
    script = Script(Flaky(), Flaky(), Flaky(), Flaky(), "ok")
    svc, _ = make(script, backoff=Backoff.full_jitter(0.1, 10.0), max_attempts=5)
    assert await svc(Req()) == "ok"
    t = script.times()
    gaps = [b - a for a, b in itertools.pairwise(t)]
    assert all(0 <= g <= 0.1 * 2**i + 1e-9 for i, g in enumerate(gaps))


@pytest.mark.looptime
async def test_gives_up_after_max_attempts_with_the_last_failure_annotated() -> None:
    """After max_attempts the *last* failure is raised, unchanged in type, with what finpy did."""
    failures = [Flaky("first"), Flaky("second"), Flaky("third")]
    script = Script(*failures)
    svc, _ = make(script)
    with pytest.raises(Flaky) as info:
        await svc(Req())
    assert info.value is failures[2]
    assert info.value.finpy_attempts == 3  # type: ignore[attr-defined]
    note = info.value.finpy_note  # type: ignore[attr-defined]
    assert "3 attempts" in note and "no attempts left" in note
    assert note in getattr(info.value, "__notes__", [note])  # PEP 678 note on Python >= 3.11
    assert not is_marked_non_retryable(info.value)


@pytest.mark.looptime
async def test_finpy_errors_carry_the_note_in_their_message() -> None:
    """A finpy error that exhausted its attempts says so in its message (the gRPC details)."""
    script = Script(NoEndpointsError("nothing to send to"))
    svc, _ = make(script)
    with pytest.raises(NoEndpointsError) as info:
        await svc(Req())
    assert str(info.value).startswith("nothing to send to [finpy: 3 attempts (2 requeued)")


@pytest.mark.looptime
async def test_non_retryable_failure_is_raised_at_once_untouched() -> None:
    """A non-retryable failure on the first attempt is raised as is: one attempt, no note."""
    error = Fatal("no")
    script = Script(error)
    svc, stats = make(script)
    with pytest.raises(Fatal) as info:
        await svc(Req())
    assert info.value is error and not hasattr(error, "finpy_attempts")
    assert len(script.calls) == 1 and stats.statistics().retries == 0


@pytest.mark.looptime
async def test_never_sleeps_past_the_deadline_and_fails_fast() -> None:
    """Deadline 0.3 s, backoff 0.2 s: attempts at 0 and 0.2 s, then it gives up at once at 0.2 s."""
    script = Script(Flaky)
    svc, _ = make(script, backoff=Backoff.constant(0.2))
    loop = asyncio.get_running_loop()
    with finpy.deadline_after(0.3):
        t0 = loop.time()
        with pytest.raises(Flaky) as info:
            await svc(Req())
        assert loop.time() - t0 == pytest.approx(0.2)
    assert script.times() == [0.0, 0.2]
    assert "no time left before the deadline" in info.value.finpy_note  # type: ignore[attr-defined]


@pytest.mark.looptime
async def test_empty_budget_refuses_the_retry_and_marks_the_failure() -> None:
    """With no credit the failure is returned after one attempt, marked non-retryable, counted."""
    script = Script(Flaky())
    empty = RetryBudget(min_retries_per_sec=0, percent_can_retry=0)
    svc, stats = make(script, budget=empty)
    with pytest.raises(Flaky) as info:
        await svc(Req())
    assert len(script.calls) == 1
    assert is_marked_non_retryable(info.value)
    assert "retry budget exhausted" in info.value.finpy_note  # type: ignore[attr-defined]
    assert stats.statistics().budget_exhausted == 1


@pytest.mark.looptime
async def test_an_outage_costs_at_most_the_budget() -> None:
    """Everything fails for 10 s: attempts <= requests * 1.2 + the 100-retry reserve, not x3."""
    script = Script(Flaky)
    budget = RetryBudget()
    svc, stats = make(script, budget=budget, backoff=Backoff.none())
    for _ in range(1000):  # 100 requests/s for 10 s
        with pytest.raises(Flaky):
            await svc(Req())
        await asyncio.sleep(0.01)
    attempts = len(script.calls)
    assert attempts <= 1000 * 1.2 + 100
    assert attempts >= 1000 * 1.2  # the budget is used, not wasted
    assert stats.statistics().budget_exhausted > 0


@pytest.mark.looptime
async def test_per_method_config_overrides_attempts_backoff_and_classifier() -> None:
    """MethodConfig(max_attempts, backoff, classifier) wins over the filter's own settings."""

    def everything_retryable(request: Any, response: Any, error: BaseException | None) -> Any:
        return ResponseClass.SUCCESS if error is None else ResponseClass.RETRYABLE

    script = Script(Fatal(), Fatal(), Fatal(), Fatal(), "ok")
    svc, _ = make(script, max_attempts=2)
    config = MethodConfig(
        max_attempts=5, backoff=Backoff.constant(0.05), classifier=everything_retryable
    )
    assert await svc(Req(config)) == "ok"
    assert script.times() == [0.0, 0.05, 0.1, 0.15, 0.2]


@pytest.mark.looptime
async def test_max_attempts_one_means_never_again() -> None:
    """max_attempts=1 turns off retries and requeues alike."""
    script = Script(NoEndpointsError("none"))
    svc, _ = make(script, max_attempts=1)
    with pytest.raises(NoEndpointsError):
        await svc(Req())
    assert len(script.calls) == 1


@pytest.mark.looptime
async def test_server_pushback_sets_the_wait_and_restarts_the_backoff() -> None:
    """A pushback of 0.5 s is waited exactly; the backoff after it starts again from its first step."""
    pushed = Flaky("pushback")

    def with_pushback(request: Any, response: Any, error: BaseException | None) -> Any:
        if error is pushed:
            return Classification(ResponseClass.RETRYABLE, retry_after=0.5)
        return classifier(request, response, error)

    script = Script(Flaky(), pushed, Flaky(), "ok")
    svc, _ = make(script, backoff=Backoff.exponential(0.1, 10.0), max_attempts=4)
    assert await svc(Req(MethodConfig(classifier=with_pushback))) == "ok"
    assert script.times() == [
        0.0,
        0.1,
        0.6,
        0.7,
    ]  # 0.1 (step 1), 0.5 (pushback), 0.1 (step 1 again)


class Streaming:
    """A response still in progress (like a gRPC response stream)."""

    def finpy_on_complete(self, callback: Callable[[], None]) -> None:
        callback()


@pytest.mark.looptime
async def test_a_started_stream_is_never_retried_even_if_classified_retryable() -> None:
    """A response that is a live stream goes back to the caller, whatever the classifier says."""
    stream = Streaming()
    script = Script(stream)

    def dislikes_everything(request: Any, response: Any, error: BaseException | None) -> Any:
        return ResponseClass.RETRYABLE

    svc, stats = make(script)
    assert await svc(Req(MethodConfig(classifier=dislikes_everything))) is stream
    assert len(script.calls) == 1 and stats.statistics().retries == 0


@pytest.mark.looptime
async def test_a_response_classified_retryable_is_retried_and_the_last_one_returned() -> None:
    """A plain response the classifier calls retryable (an HTTP 503, say) is retried; if all fail, the last is returned."""

    def bad_replies(request: Any, response: Any, error: BaseException | None) -> Any:
        return ResponseClass.RETRYABLE if response != "good" else ResponseClass.SUCCESS

    script = Script("503-a", "503-b", "503-c")
    svc, _ = make(script)
    assert await svc(Req(MethodConfig(classifier=bad_replies))) == "503-c"
    assert len(script.calls) == 3


@pytest.mark.looptime
async def test_cancellation_is_never_retried() -> None:
    """A cancelled attempt propagates: no retry, no budget spent."""
    script = Script(asyncio.CancelledError())
    budget = RetryBudget()
    svc, _ = make(script, budget=budget)
    with pytest.raises(asyncio.CancelledError):
        await svc(Req())
    assert len(script.calls) == 1 and budget.statistics().withdrawals == 0


@pytest.mark.looptime
async def test_cancelling_the_caller_during_backoff_stops_everything() -> None:
    """Cancelling the caller while it waits to retry makes no further attempt."""
    script = Script(Flaky)
    svc, _ = make(script, backoff=Backoff.constant(5.0))
    task = asyncio.ensure_future(svc(Req()))
    await asyncio.sleep(1.0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(script.calls) == 1


@pytest.mark.looptime
async def test_a_failing_classifier_means_no_retry(caplog: pytest.LogCaptureFixture) -> None:
    """If the classifier itself raises, the original failure is raised and the bug is logged."""

    def broken(request: Any, response: Any, error: BaseException | None) -> Any:
        raise RuntimeError("classifier bug")

    error = Flaky()
    script = Script(error)
    svc, _ = make(script)
    with caplog.at_level(logging.ERROR, logger="finpy.retry"), pytest.raises(Flaky) as info:
        await svc(Req(MethodConfig(classifier=broken)))
    assert info.value is error and len(script.calls) == 1
    assert "classifier" in caplog.text


@pytest.mark.looptime
async def test_an_inner_layer_giving_up_stops_outer_layers() -> None:
    """Two stacked retry layers: when the inner one runs out of budget, the outer one does not retry."""
    script = Script(Flaky)
    inner: RetryFilter[object, object] = RetryFilter(
        classifier=classifier, budget=RetryBudget(min_retries_per_sec=0, percent_can_retry=0)
    )
    outer: RetryFilter[object, object] = RetryFilter(classifier=classifier, backoff=Backoff.none())
    svc = outer.and_then(inner).and_then(FunctionService(script))
    with pytest.raises(Flaky):
        await svc(Req())
    assert len(script.calls) == 1


@pytest.mark.looptime
async def test_each_attempt_goes_to_an_endpoint_not_tried_yet() -> None:
    """Behind a real balancer, three failing attempts reach three different endpoints, listed on the error."""
    seen: list[int] = []

    def endpoint(port: int) -> Endpoint[object, object]:
        async def fail(request: object) -> object:
            seen.append(port)
            raise Flaky(f"from {port}")

        return Endpoint(Address("127.0.0.1", port), FunctionService(fail))

    balancer: RoundRobin[object, object] = RoundRobin()
    balancer.update([endpoint(p) for p in (1001, 1002, 1003)])
    f: RetryFilter[object, object] = RetryFilter(classifier=classifier, backoff=Backoff.none())
    with pytest.raises(Flaky) as info:
        await f.and_then(balancer)(Req())
    assert sorted(seen) == [1001, 1002, 1003]
    assert info.value.finpy_endpoints_tried == tuple(f"127.0.0.1:{p}" for p in seen)  # type: ignore[attr-defined]


def test_from_params_reads_retries_and_adds_nothing_when_disabled() -> None:
    """Retries(max_attempts=1) with no method allowing more removes the module from the path."""
    assert RetryFilter.from_params(Params(Retries(max_attempts=1))) is None
    assert RetryFilter.from_params(Params()) is not None
    enabled_by_method = Params(
        Retries(max_attempts=1), MethodConfigs({"Get": MethodConfig(max_attempts=2)})
    )
    assert RetryFilter.from_params(enabled_by_method) is not None


@pytest.mark.parametrize(
    ("make_bad", "named"),
    [
        (lambda: Retries(max_attempts=0), "0"),
        (lambda: Retries(max_attempts=True), "True"),
        (lambda: Retries(backoff=0.1), "0.1"),  # type: ignore[arg-type]
        (lambda: MethodConfig(max_attempts=-2), "-2"),
        (lambda: MethodConfig(max_attempts=2.5), "2.5"),  # type: ignore[arg-type]
        (lambda: MethodConfig(backoff="fast"), "'fast'"),  # type: ignore[arg-type]
        (lambda: MethodConfig(classifier=3), "3"),  # type: ignore[arg-type]
        (lambda: MethodConfig(hedge="yes"), "'yes'"),  # type: ignore[arg-type]
        (lambda: RetryFilter(max_attempts=0), "0"),
    ],
)
def test_bad_retry_settings_are_refused_naming_the_value(
    make_bad: Callable[[], object], named: str
) -> None:
    """Bad attempts, backoff, classifier or hedge settings raise ConfigurationError naming the value."""
    with pytest.raises(ConfigurationError) as info:
        make_bad()
    assert named in str(info.value)


def test_method_retry_fields_inherit_like_the_others() -> None:
    """max_attempts/backoff/classifier/hedge left as None inherit from less specific patterns."""
    backoff = Backoff.constant(0.1)
    configs = MethodConfigs(
        {
            "*": MethodConfig(max_attempts=2, backoff=backoff),
            "svc.S/Get": MethodConfig(max_attempts=4, hedge=True, idempotent=True),
        }
    )
    get = configs.resolve("/svc.S/Get")
    assert (get.max_attempts, get.backoff, get.hedge) == (4, backoff, True)
    put = configs.resolve("/svc.S/Put")
    assert (put.max_attempts, put.backoff, put.hedge) == (2, backoff, None)


def test_repr_names_the_settings() -> None:
    """The filter's repr shows attempts, backoff and budget."""
    r = repr(RetryFilter(max_attempts=4, backoff=Backoff.constant(0.5)))
    assert "max_attempts=4" in r and "constant(0.5)" in r and "RetryBudget(" in r
