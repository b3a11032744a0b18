"""The bars of the design notes (DESIGN.md §4), judged from one bench run.

Every bar is judged against figures measured in the *same* run (the healthy
scenario, the plain ``round_robin`` peer), never against numbers from another
machine or another day: these machines are shared and noisy, ratios are not.
A bar whose reference was not measured in this run (scenario or peer not
selected) is reported as not judged (``met is None``) with the reason, and so
is a bar that rests on a *busy* run: one during which the load generator could
not fire on time (another process had the CPU), whose latencies describe the
machine as much as the client (:data:`~finpy.bench.result.BUSY_LAG`).

Where the design notes leave a figure open, this module fixes it and says so:

* "the healthy run's p99" is finpy's own p99 in the ``healthy`` scenario;
* outage "failures returned fast": p99 of failed calls <= 10% of the deadline;
* overload "base": the backends' service time plus finpy's healthy p99;
* all "p99" figures are over every completed request (successes and failures).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from finpy.bench.result import OverheadResult, RunResult
from finpy.bench.scenarios import SCENARIOS, Scenario

__all__ = ["BarCheck", "evaluate"]

FINPY = "finpy"
PLAIN = "plain"


@dataclass(frozen=True, slots=True)
class BarCheck:
    """One bar for one scenario: finpy's figure, the target, and whether it is met."""

    scenario: str
    bar: str
    value: str
    target: str
    met: bool | None
    """``None``: not judged in this run (see ``why``)."""
    why: str = ""
    metric: str = ""
    """Which figure the bar is about: ``success``, ``p99``, ``attempts``, ``failed_p99``,
    ``ok_p99``, ``goodput``, ``failed``, ``cpu`` or ``p50`` (the table marks it there)."""

    @property
    def verdict(self) -> str:
        return "not judged" if self.met is None else "met" if self.met else "not met"

    def to_json(self) -> dict[str, object]:
        return {
            "type": "bar",
            "scenario": self.scenario,
            "bar": self.bar,
            "value": self.value,
            "target": self.target,
            "met": self.met,
            "verdict": self.verdict,
            "why": self.why,
            "metric": self.metric,
        }


def _pct(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{x * 100:.2f}%"


def _ms(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{x * 1000:.1f} ms"


def _x(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{x:.3f}"


class _Judge:
    def __init__(self, scenario: str, busy: str = "") -> None:
        self.scenario = scenario
        #: Why the figures cannot be compared (a busy run), or "".
        self.busy = busy
        self.checks: list[BarCheck] = []

    def _check(
        self, metric: str, bar: str, value: str, target: str, met: bool | None, why: str
    ) -> None:
        if self.busy:
            met, why = None, self.busy
        self.checks.append(BarCheck(self.scenario, bar, value, target, met, why, metric))

    def missing(self, metric: str, bar: str, why: str) -> None:
        self.checks.append(BarCheck(self.scenario, bar, "n/a", "n/a", None, why, metric))

    def at_least(
        self,
        metric: str,
        bar: str,
        value: float,
        floor: float,
        fmt: Callable[[float], str],
        note: str = "",
    ) -> None:
        met = None if math.isnan(value) or math.isnan(floor) else value >= floor
        target = f">= {fmt(floor)}" + (f", {note}" if note else "")
        self._check(metric, bar, fmt(value), target, met, "no figure" if met is None else "")

    def at_most(
        self,
        metric: str,
        bar: str,
        value: float,
        ceiling: float,
        fmt: Callable[[float], str],
        note: str = "",
    ) -> None:
        met = None if math.isnan(value) or math.isnan(ceiling) else value <= ceiling
        target = f"<= {fmt(ceiling)}" + (f", {note}" if note else "")
        self._check(metric, bar, fmt(value), target, met, "no figure" if met is None else "")


def _service_time(scenario: Scenario | None) -> float:
    if scenario is None:
        return math.nan
    return max((float(b.get("latency", 0.0)) for b in scenario.initial), default=0.0)


def evaluate(
    results: Iterable[RunResult],
    overhead: OverheadResult | None = None,
    scenarios: Mapping[str, Scenario] | None = None,
) -> list[BarCheck]:
    """Judge finpy's figures against the bars, for every scenario finpy ran."""
    by_key = {(r.scenario, r.peer): r for r in results}
    scenarios = scenarios or {}
    checks: list[BarCheck] = []

    def get(scenario: str, peer: str = FINPY) -> RunResult | None:
        return by_key.get((scenario, peer))

    healthy = get("healthy")

    def vs_healthy(j: _Judge, r: RunResult, factor: float) -> None:
        bar = f"p99 <= {factor:g}x healthy p99"
        if healthy is None:
            j.missing("p99", bar, "the healthy scenario was not run")
        elif healthy.busy and not j.busy:
            j.missing("p99", bar, "healthy run: " + healthy.busy_reason)
        else:
            ref = healthy.latency.p99
            j.at_most("p99", bar, r.latency.p99, factor * ref, _ms, f"healthy {_ms(ref)}")

    def vs_plain(j: _Judge, r: RunResult, fraction: float, label: str) -> None:
        bar = f"p99 <= {label} of round_robin's"
        plain = get(r.scenario, PLAIN)
        if plain is None:
            j.missing("p99", bar, "the plain round_robin peer was not run")
        elif plain.busy and not j.busy:
            j.missing("p99", bar, plain.busy_reason)
        else:
            ref = plain.latency.p99
            j.at_most("p99", bar, r.latency.p99, fraction * ref, _ms, f"round_robin {_ms(ref)}")

    if overhead is not None:
        j = _Judge("overhead")
        levels = sorted(
            {f.concurrency for f in overhead.figures if f.client == FINPY}
            & {f.concurrency for f in overhead.figures if f.client == PLAIN}
        )
        bar = "client CPU per call <= 1.15x plain grpc.aio"
        if levels:
            ratios = {c: overhead.cpu_ratio(c) for c in levels}
            worst = max(levels, key=lambda c: ratios[c])
            j.at_most(
                "cpu",
                bar,
                ratios[worst],
                1.15,
                _x,
                f"median of paired rounds, worst level: concurrency {worst}",
            )
        else:
            j.missing("cpu", bar, "finpy and plain were not both measured")
        bar = "added p50 latency at concurrency 1 <= 30 us"
        if 1 in levels:
            j.at_most(
                "p50",
                bar,
                overhead.added_p50(1),
                30e-6,
                lambda s: "n/a" if math.isnan(s) else f"{s * 1e6:.1f} us",
                "median of paired rounds",
            )
        else:
            j.missing("p50", bar, "concurrency 1 not run")
        checks += j.checks

    for name in sorted({s for s, p in by_key if p == FINPY}, key=_order):
        r = by_key[(name, FINPY)]
        j = _Judge(name, r.busy_reason if r.busy else "")
        if name == "slow-replica":
            j.at_least("success", "success >= 99.9%", r.success_ratio, 0.999, _pct)
            vs_healthy(j, r, 3)
            vs_plain(j, r, 1 / 5, "1/5")
        elif name == "failing-replica":
            j.at_least("success", "success >= 99.9%", r.success_ratio, 0.999, _pct)
            j.at_most("attempts", "attempts/request <= 1.05", r.amplification, 1.05, _x)
            vs_healthy(j, r, 3)
        elif name == "outage":
            j.at_most("attempts", "attempts/request <= 1.25 (budget)", r.amplification, 1.25, _x)
            j.at_most(
                "failed_p99",
                "failures returned fast (failed p99 <= 10% of the deadline)",
                r.load.failed_latency.p99,
                0.1 * r.timeout,
                _ms,
            )
        elif name == "heavy-tail":
            j.at_least("success", "success >= 99.9%", r.success_ratio, 0.999, _pct)
            vs_plain(j, r, 1 / 3, "1/3")
            j.at_most("attempts", "<= 5% extra attempts", r.amplification, 1.05, _x)
        elif name == "down-replica":
            j.at_least("success", "100% success", r.success_ratio, 1.0, _pct)
            vs_healthy(j, r, 1.5)
        elif name == "rolling-restart":
            j.at_least("success", "success >= 99.95%", r.success_ratio, 0.9995, _pct)
        elif name == "overload":
            cap = r.capacity_rps if r.capacity_rps is not None else math.nan
            j.at_least(
                "goodput",
                "goodput >= 95% of capacity",
                r.goodput_rps / cap,
                0.95,
                _pct,
                f"{r.goodput_rps:.0f} of {cap:g} calls/s",
            )
            j.at_most("attempts", "attempts/request <= 1.1", r.amplification, 1.1, _x)
            j.at_most(
                "failed_p99",
                "refused calls fail fast (failed p99 <= 5 ms)",
                r.load.failed_latency.p99,
                0.005,
                _ms,
            )
            bar = "successful p99 <= 1.5x base"
            base_service = _service_time(scenarios.get(name))
            if healthy is None or math.isnan(base_service):
                j.missing("ok_p99", bar, "needs the healthy scenario and the overload definition")
            elif healthy.busy and not j.busy:
                j.missing("ok_p99", bar, "healthy run: " + healthy.busy_reason)
            else:
                base = base_service + healthy.latency.p99
                j.at_most(
                    "ok_p99",
                    bar,
                    r.load.ok_latency.p99,
                    1.5 * base,
                    _ms,
                    f"base = {_ms(base_service)} service + healthy p99 {_ms(healthy.latency.p99)}",
                )
        elif name == "discovery-outage":
            failed = r.load.planned - r.load.ok
            j.at_most("failed", "0 failed requests", float(failed), 0.0, lambda v: f"{v:.0f}")
        checks += j.checks
    return checks


def _order(name: str) -> int:
    order = list(SCENARIOS)
    return order.index(name) if name in order else len(order)
