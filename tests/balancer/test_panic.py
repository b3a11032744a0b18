"""Tests of ``finpy.balancer.panic`` and panic mode in the health-aware balancers."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from finpy import ConfigurationError, ManualClock, Status
from finpy.balancer import HealthGauge, P2CPeakEwma, RandomBalancer


def test_gauge_counts_unhealthy_and_panics_above_half(
    make_endpoints: Callable[..., Any], set_health: Callable[..., None]
) -> None:
    """More than half unhealthy is panic; exactly half is not."""
    eps = make_endpoints(10)
    g = HealthGauge()
    for ep in eps[:5]:
        set_health(ep, Status.BUSY)
    assert g.refresh(eps) is False
    assert (g.unhealthy, g.healthy, g.panics) == (5, 5, 0)
    set_health(eps[5], Status.CLOSED)
    assert g.refresh(eps) is True
    assert g.panics == 1
    assert g.refresh(eps) is True
    assert g.panics == 1  # still the same panic
    for ep in eps:
        set_health(ep, Status.OPEN)
    assert g.refresh(eps) is False
    assert "unhealthy=0/10" in repr(g)


def test_gauge_recounts_within_max_4n_64_picks(
    make_endpoints: Callable[..., Any], set_health: Callable[..., None]
) -> None:
    """A change of health is noticed after at most max(4n, 64) ticks, not before."""
    eps = make_endpoints(4)
    g = HealthGauge()
    g.refresh(eps)
    for ep in eps[:3]:
        set_health(ep, Status.BUSY)
    ticks = 0
    while not g.tick(eps):
        ticks += 1
    assert ticks == 63


def test_a_single_unhealthy_endpoint_is_no_panic(
    make_endpoints: Callable[..., Any], set_health: Callable[..., None]
) -> None:
    """One endpoint is never 'the majority' to panic about."""
    eps = make_endpoints(1)
    set_health(eps[0], Status.BUSY)
    assert HealthGauge().refresh(eps) is False


def test_bad_threshold_is_rejected() -> None:
    """A threshold outside [0, 1] is a configuration error naming the value."""
    with pytest.raises(ConfigurationError, match=r"1\.5"):
        HealthGauge(1.5)
    with pytest.raises(ConfigurationError, match="'half'"):
        P2CPeakEwma(panic_threshold="half")  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", [P2CPeakEwma, RandomBalancer])
def test_unhealthy_endpoints_get_no_traffic_outside_panic(
    kind: Callable[..., Any],
    make_endpoints: Callable[..., Any],
    set_health: Callable[..., None],
    count_picks: Callable[..., Counter[str]],
) -> None:
    """With 4 of 10 endpoints BUSY, every pick goes to an OPEN one (fixed seed)."""
    b = kind(rng=random.Random(7))
    eps = make_endpoints(10)
    for ep in eps[:4]:
        set_health(ep, Status.BUSY)
    b.update(eps)
    counts = count_picks(b, 20_000)
    busy = {e.address.authority for e in eps[:4]}
    assert not busy & set(counts)
    assert not b.health.panic


@pytest.mark.parametrize("kind", [P2CPeakEwma, RandomBalancer])
def test_panic_spreads_traffic_over_all_endpoints(
    kind: Callable[..., Any],
    make_endpoints: Callable[..., Any],
    set_health: Callable[..., None],
    count_picks: Callable[..., Counter[str]],
) -> None:
    """With 6 of 10 endpoints BUSY the balancer panics and the BUSY ones carry real traffic."""
    b = kind(rng=random.Random(8), **({"clock": ManualClock()} if kind is P2CPeakEwma else {}))
    eps = make_endpoints(10)
    for ep in eps[:6]:
        set_health(ep, Status.BUSY)
    b.update(eps)
    counts = count_picks(b, 20_000)
    busy_share = sum(counts[e.address.authority] for e in eps[:6]) / 20_000
    assert b.health.panic and b.statistics().panic
    assert b.statistics().panics == 1
    # P2C still prefers the OPEN one of each pair: BUSY wins only BUSY/BUSY pairs (1/3)
    expected = 6 / 10 * 5 / 9 if kind is P2CPeakEwma else 0.6
    assert busy_share == pytest.approx(expected, abs=0.02)
    # each healthy endpoint carries at most ~2x its fair share, not 10/4x
    for e in eps[6:]:
        assert counts[e.address.authority] < 2 * 2000 * 1.1


def test_panic_ends_when_endpoints_recover(
    make_endpoints: Callable[..., Any],
    set_health: Callable[..., None],
    count_picks: Callable[..., Counter[str]],
) -> None:
    """After the endpoints recover, the next recount leaves panic and avoids the unhealthy again."""
    b: P2CPeakEwma[str, str] = P2CPeakEwma(clock=ManualClock(), rng=random.Random(9))
    eps = make_endpoints(10)
    for ep in eps[:6]:
        set_health(ep, Status.BUSY)
    b.update(eps)
    assert b.statistics().panic
    for ep in eps[1:6]:
        set_health(ep, Status.OPEN)
    count_picks(b, 64)  # one recount period
    assert not b.statistics().panic
    counts = count_picks(b, 5000)
    assert counts[eps[0].address.authority] == 0


def test_stale_count_is_corrected_when_draws_find_nothing_healthy(
    make_endpoints: Callable[..., Any], set_health: Callable[..., None]
) -> None:
    """If every endpoint goes down between recounts, the first pick notices and panics."""
    b: P2CPeakEwma[str, str] = P2CPeakEwma(clock=ManualClock(), rng=random.Random(10))
    eps = make_endpoints(100)
    b.update(eps)
    for ep in eps:
        set_health(ep, Status.BUSY)
    b.pick()
    assert b.health.panic
