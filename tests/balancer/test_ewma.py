"""Tests of ``finpy.balancer.ewma``: the peak-EWMA estimate and the P2C balancer over it."""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from finpy import Address, ConfigurationError, Endpoint, FunctionService, ManualClock, Status
from finpy.balancer import Balancer, P2CPeakEwma, PeakEwma
from finpy.balancer.ewma import peak_ewma

TAU = 10.0


def test_first_sample_is_the_estimate() -> None:
    """An endpoint's first sample becomes its estimate; none before that."""
    m = PeakEwma(TAU, clock=ManualClock())
    assert m.estimate(0.0) is None
    m.observe(0.020, 1.0)
    assert m.estimate(1.0) == pytest.approx(0.020)


def test_higher_sample_jumps_to_the_new_peak() -> None:
    """A sample above the estimate replaces it at once, however recent the last one."""
    m = PeakEwma(TAU, clock=ManualClock())
    m.observe(0.010, 0.0)
    m.observe(0.050, 0.001)
    assert m.estimate(0.001) == pytest.approx(0.050)


def test_lower_sample_moves_the_estimate_by_its_time_weight() -> None:
    """A lower sample pulls the estimate by weight 1 - exp(-dt/decay)."""
    m = PeakEwma(TAU, clock=ManualClock())
    m.observe(0.050, 0.0)
    m.observe(0.010, 2.0)
    w = math.exp(-2.0 / TAU)
    assert m.estimate(2.0) == pytest.approx(0.050 * w + 0.010 * (1 - w))


def test_idle_estimate_decays_towards_zero() -> None:
    """Without samples the estimate decays exponentially with the decay time constant."""
    m = PeakEwma(TAU, clock=ManualClock())
    m.observe(0.100, 0.0)
    assert m.estimate(10.0) == pytest.approx(0.100 * math.exp(-1.0))
    assert m.estimate(30.0) == pytest.approx(0.100 * math.exp(-3.0))


@pytest.mark.parametrize("rate", [10, 100, 1000])
def test_recovery_after_a_peak_does_not_depend_on_the_request_rate(rate: int) -> None:
    """After a peak, steady samples bring the estimate back as r + (peak - r) e^(-t/decay)."""
    m = PeakEwma(TAU, clock=ManualClock())
    m.observe(0.100, 0.0)
    for k in range(1, rate * 10 + 1):
        m.observe(0.001, k / rate)
    assert m.estimate(10.0) == pytest.approx(0.001 + 0.099 * math.exp(-1.0), rel=1e-9)


def test_cost_is_estimate_times_pending_plus_one() -> None:
    """Cost = estimate x (pending + 1)."""
    m = PeakEwma(TAU, clock=ManualClock())
    m.observe(0.004, 0.0)
    assert m.cost(0, 0.0) == pytest.approx(0.004)
    assert m.cost(3, 0.0) == pytest.approx(0.016)


def test_unknown_endpoint_is_free_while_idle_and_penalised_while_probed() -> None:
    """No history: cost 0 with nothing in flight, above any real cost with something in flight."""
    m = PeakEwma(TAU, clock=ManualClock())
    known = PeakEwma(TAU, clock=ManualClock())
    known.observe(30.0, 0.0)
    assert m.cost(0, 0.0) == 0.0
    assert m.cost(1, 0.0) > known.cost(1000, 0.0)
    assert m.cost(2, 0.0) > m.cost(1, 0.0)


def test_in_flight_requests_bound_the_estimate_by_their_mean_age() -> None:
    """An endpoint that stops answering looks slow before any response arrives."""
    clock = ManualClock()
    m = PeakEwma(TAU, clock=clock)
    m.end(m.begin(), True)  # warm-up
    m.end(m.begin(), True)
    started = m.begin()
    clock.advance(5.0)
    assert m.estimate() == pytest.approx(5.0)
    m.end(started, True)
    assert m.inflight == 0
    assert m.estimate() == pytest.approx(5.0)  # the sample itself is the new peak


def test_first_answer_only_warms_the_endpoint_up() -> None:
    """The first answer (which paid for connecting) is not a sample; the second is."""
    clock = ManualClock()
    m = PeakEwma(TAU, clock=clock)
    t = m.begin()
    clock.advance(0.050)
    m.end(t, True)
    assert m.samples == 0
    t = m.begin()
    clock.advance(0.002)
    m.end(t, True)
    assert m.samples == 1
    assert m.estimate() == pytest.approx(0.002)


def test_failure_raises_but_never_lowers_the_estimate() -> None:
    """A slow failure counts as a sample; a fast one does not lower the estimate."""
    clock = ManualClock()
    m = PeakEwma(TAU, clock=clock)
    m.observe(0.050, 0.0)
    t = m.begin()
    clock.advance(0.001)
    m.end(t, False)
    assert m.estimate() == pytest.approx(0.050 * math.exp(-0.001 / TAU))
    t = m.begin()
    clock.advance(0.200)
    m.end(t, False)
    assert m.estimate() == pytest.approx(0.200)


def test_failure_does_not_start_a_history() -> None:
    """A failure on an unknown endpoint leaves it unknown (fast errors are not fast servers)."""
    clock = ManualClock()
    m = PeakEwma(TAU, clock=clock)
    m.end(m.begin(), False)
    assert m.samples == 0
    assert m.estimate() is None


def test_streaming_response_is_not_a_sample() -> None:
    """A response that is still streaming ends the measurement without a sample."""
    clock = ManualClock()
    m = PeakEwma(TAU, clock=clock)
    t = m.begin()
    clock.advance(0.3)
    m.end(t, None)
    assert m.samples == 0 and m.inflight == 0


def test_bad_decay_is_rejected() -> None:
    """A non-positive decay is a configuration error naming the value."""
    with pytest.raises(ConfigurationError, match="-1"):
        PeakEwma(-1)
    with pytest.raises(ConfigurationError, match="max_effort"):
        P2CPeakEwma(max_effort=-2)


async def test_endpoint_feeds_its_observer() -> None:
    """An endpoint with a PeakEwma measures each call's round trip on the clock."""
    clock = ManualClock()

    async def answer(request: str) -> str:
        clock.advance(0.025)
        return request

    ep: Endpoint[str, str] = Endpoint(Address("10.0.0.1", 1), FunctionService(answer))
    meter = peak_ewma(ep, TAU, clock)
    assert peak_ewma(ep, TAU, clock) is meter  # attached once
    assert await ep("x") == "x"  # warm-up
    assert await ep("x") == "x"
    assert meter.samples == 1
    assert meter.estimate() == pytest.approx(0.025)


def _learned(eps: list[Endpoint[str, str]], clock: ManualClock, rtts: list[float]) -> None:
    for ep, rtt in zip(eps, rtts, strict=True):
        peak_ewma(ep, TAU, clock).observe(rtt, clock.now())


def test_p2c_prefers_the_cheaper_endpoint(make_endpoints: Callable[..., Any]) -> None:
    """With two endpoints both are always compared, and the clearly cheaper always wins."""
    clock = ManualClock()
    b: P2CPeakEwma[str, str] = P2CPeakEwma(clock=clock, rng=random.Random(1))
    eps = make_endpoints(2)
    b.update(eps)
    _learned(eps, clock, [0.010, 0.100])
    assert {b.pick() for _ in range(200)} == {eps[0]}


def test_p2c_healthier_wins_before_cheaper(
    make_endpoints: Callable[..., Any], set_health: Callable[..., None]
) -> None:
    """An OPEN endpoint beats a cheaper BUSY one."""
    clock = ManualClock()
    b: P2CPeakEwma[str, str] = P2CPeakEwma(clock=clock, rng=random.Random(2))
    eps = make_endpoints(2)
    b.update(eps)
    _learned(eps, clock, [0.001, 0.100])
    set_health(eps[0], Status.BUSY)
    assert {b.pick() for _ in range(200)} == {eps[1]}


def test_p2c_spreads_evenly_over_equal_endpoints(
    make_endpoints: Callable[..., Any], count_picks: Callable[..., Counter[str]]
) -> None:
    """Equal endpoints get equal shares of picks (fixed seed, within 5%)."""
    clock = ManualClock()
    b: P2CPeakEwma[str, str] = P2CPeakEwma(clock=clock, rng=random.Random(3))
    eps = make_endpoints(10)
    b.update(eps)
    _learned(eps, clock, [0.005] * 10)
    counts = count_picks(b, 50_000)
    assert len(counts) == 10
    for c in counts.values():
        assert abs(c - 5000) < 250


def test_p2c_moves_traffic_away_from_a_slow_endpoint(
    make_endpoints: Callable[..., Any], simulate: Callable[..., Any]
) -> None:
    """Under load on virtual time, an endpoint 60x slower gets a small share of requests."""
    clock = ManualClock()
    b: P2CPeakEwma[str, str] = P2CPeakEwma(clock=clock, rng=random.Random(4))
    eps = make_endpoints(5)
    b.update(eps)
    slow = eps[0]
    sim = simulate(
        b,
        clock,
        requests=20_000,
        rate=2000.0,
        service_time=lambda ep: 0.060 if ep is slow else 0.001,
    )
    share = sim.served[slow.address.authority] / 20_000
    assert share < 0.02
    for ep in eps[1:]:
        assert sim.served[ep.address.authority] > 4000


def test_p2c_respects_weights_under_load(
    make_endpoints: Callable[..., Any], simulate: Callable[..., Any]
) -> None:
    """An endpoint of weight 3 carries about three times the requests of weight 1 under load."""
    clock = ManualClock()
    b: P2CPeakEwma[str, str] = P2CPeakEwma(clock=clock, rng=random.Random(5))
    eps = make_endpoints(4, weights=[3.0, 1.0, 1.0, 1.0])
    b.update(eps)
    sim = simulate(b, clock, requests=40_000, rate=20_000.0, service_time=lambda ep: 0.002)
    heavy = sim.served[eps[0].address.authority]
    light = [sim.served[e.address.authority] for e in eps[1:]]
    ratio = heavy / (sum(light) / 3)
    assert 2.6 < ratio < 3.6


def test_p2c_keeps_estimates_across_updates(make_endpoints: Callable[..., Any]) -> None:
    """Endpoints that stay in the set keep their estimates; new ones start unknown."""
    clock = ManualClock()
    b: P2CPeakEwma[str, str] = P2CPeakEwma(clock=clock)
    eps = make_endpoints(3)
    b.update(eps)
    _learned(eps, clock, [0.001, 0.002, 0.003])
    more = make_endpoints(1, first=3)
    b.update([*eps[1:], *more])
    assert isinstance(eps[1].observer, PeakEwma) and eps[1].observer.samples == 1
    assert isinstance(more[0].observer, PeakEwma) and more[0].observer.samples == 0


def test_p2c_with_one_or_no_endpoint(make_endpoints: Callable[..., Any]) -> None:
    """One endpoint is always picked (even unhealthy); none is a NoEndpointsError."""
    from finpy import NoEndpointsError

    b: P2CPeakEwma[str, str] = P2CPeakEwma()
    with pytest.raises(NoEndpointsError):
        b.pick()
    eps = make_endpoints(1)
    b.update(eps)
    assert b.pick() is eps[0]


async def test_p2c_call_dispatches_and_measures(make_endpoints: Callable[..., Any]) -> None:
    """Calling the balancer sends to the picked endpoint, which records a sample."""
    b: Balancer[str, str] = P2CPeakEwma(rng=random.Random(6))
    eps = make_endpoints(3)
    b.update(eps)
    replies = {await b("hi") for _ in range(20)}
    assert replies <= {e.address.authority for e in eps}
    meters = [e.observer for e in eps if isinstance(e.observer, PeakEwma)]
    assert len(meters) == 3
    assert sum(m.samples for m in meters) == 20 - 3  # each endpoint's first answer warms it up
    assert b.picks == 20


def test_p2c_treats_close_estimates_as_a_tie(
    make_endpoints: Callable[..., Any], count_picks: Callable[..., Counter[str]]
) -> None:
    """Estimates within the tolerance (1.5x) are a tie: equal loads split the traffic."""
    clock = ManualClock()
    b: P2CPeakEwma[str, str] = P2CPeakEwma(clock=clock, rng=random.Random(31))
    eps = make_endpoints(2)
    b.update(eps)
    _learned(eps, clock, [0.010, 0.014])
    counts = count_picks(b, 4000)
    assert counts[eps[1].address.authority] == pytest.approx(2000, abs=150)
    eps[1].pending = 1  # loads still decide
    assert {b.pick() for _ in range(100)} == {eps[0]}
    strict: P2CPeakEwma[str, str] = P2CPeakEwma(clock=clock, tolerance=0.0)
    strict.update(eps)
    eps[1].pending = 0
    assert {strict.pick() for _ in range(100)} == {eps[0]}
    with pytest.raises(ConfigurationError, match="tolerance"):
        P2CPeakEwma(tolerance=-1)
