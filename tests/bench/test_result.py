"""Run figures: amplification, goodput, paired overhead medians, strict JSON."""

from __future__ import annotations

import json
import math
from collections.abc import Callable

import pytest

from finpy.bench.histogram import LatencyRecorder
from finpy.bench.result import (
    OverheadFigures,
    OverheadResult,
    OverheadRound,
    RunResult,
    to_jsonable,
)

MakeRun = Callable[..., RunResult]


def test_amplification_is_attempts_received_per_request_sent(make_run: MakeRun) -> None:
    """3 attempts for each of 100 requests is an amplification of 3.0."""
    r = make_run("outage", "tenacity", planned=100, ok=0, attempts=300)
    assert r.amplification == 3.0
    assert r.to_json()["attempts_per_request"] == 3.0


def test_goodput_is_successes_per_second_of_schedule(make_run: MakeRun) -> None:
    """200 successes in a 300-request schedule at 300/s is 200 calls/s."""
    r = make_run("overload", "finpy", planned=300, ok=200, rate=300)
    assert r.goodput_rps == pytest.approx(200)
    assert r.success_ratio == pytest.approx(2 / 3)


def rounds(cpu: list[tuple[float, float]]) -> OverheadResult:
    """Paired rounds: (plain cpu, finpy cpu) seconds for 100 calls each."""
    out: list[OverheadRound] = []
    for i, (plain, finpy) in enumerate(cpu):
        out.append(OverheadRound("plain", 1, i, 100, plain, 0.001))
        out.append(OverheadRound("finpy", 1, i, 100, finpy, 0.001 + 10e-6 * i))
    lat = LatencyRecorder([0.001]).statistics()
    figures = tuple(
        OverheadFigures(c, 1, 100 * len(cpu), sum(x[k] for x in cpu), 1.0, lat)
        for k, c in enumerate(("plain", "finpy"))
    )
    return OverheadResult(figures, rounds=tuple(out))


def test_overhead_ratio_is_the_median_of_paired_rounds() -> None:
    """One round spoiled by noise (finpy 3x) does not move the median ratio (1.1x)."""
    o = rounds([(0.03, 0.033), (0.03, 0.033), (0.03, 0.09), (0.03, 0.033), (0.03, 0.033)])
    assert o.cpu_ratio(1) == pytest.approx(1.1)
    totals = o.get("finpy", 1).cpu_us_per_call / o.get("plain", 1).cpu_us_per_call  # type: ignore[union-attr]
    assert totals == pytest.approx(1.48)  # the sum would have been swayed
    assert o.added_p50(1) == pytest.approx(20e-6)  # median of 0, 10, 20, 30, 40 us


def test_overhead_without_rounds_falls_back_to_totals() -> None:
    """Figures without per-round data still compare (totals), and a missing client is NaN."""
    o = rounds([(0.03, 0.036)])
    o = OverheadResult(o.figures)
    assert o.cpu_ratio(1) == pytest.approx(1.2)
    assert math.isnan(o.cpu_ratio(32))


def test_json_forms_are_strict(make_run: MakeRun) -> None:
    """NaN becomes null everywhere, so every record is strict JSON."""
    r = make_run("outage", "plain", ok=0)
    text = json.dumps(to_jsonable(r.to_json()), allow_nan=False)
    assert json.loads(text)["ok_latency_ms"]["p50"] is None
    (plain, finpy) = rounds([(0.03, 0.033)]).to_json()
    assert plain["cpu_ratio_vs_plain"] is None and finpy["cpu_ratio_vs_plain"] == pytest.approx(1.1)
    assert to_jsonable({"a": [math.inf, 1.0]}) == {"a": [None, 1.0]}
