"""The figures of one client in one scenario, and their JSON form."""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from finpy.bench.histogram import LatencySummary
from finpy.bench.loadgen import LoadResult

__all__ = [
    "BUSY_LAG",
    "BUSY_OTHERS",
    "OverheadFigures",
    "OverheadResult",
    "OverheadRound",
    "RunResult",
    "to_jsonable",
]

#: Generator lag (p99, seconds) above which a run may be *busy*: the client could not
#: fire requests on time.  It is busy (its figures describe the machine as much as the
#: client, and are not compared) when other processes also used at least
#: :data:`BUSY_OTHERS` CPU cores meanwhile; otherwise the client saturated itself and
#: that is its own result.
BUSY_LAG = 0.005
BUSY_OTHERS = 0.3


@dataclass(frozen=True, slots=True)
class RunResult:
    """What one client did in one load scenario (client side and server side)."""

    scenario: str
    peer: str
    config: str
    """The client's configuration, in words (what exactly ran)."""
    load: LoadResult
    attempts: int
    """Calls the backends received during the run (every attempt, retry and hedge)."""
    attempts_by_backend: tuple[int, ...]
    rate: float
    duration: float
    timeout: float
    capacity_rps: float | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    others_cpu: float | None = None
    """CPU cores other processes (not the client, not the backends) used during the load."""

    @property
    def success_ratio(self) -> float:
        return self.load.success_ratio

    @property
    def late(self) -> bool:
        """Whether the load generator fell behind (p99 lag > :data:`BUSY_LAG`)."""
        return self.load.fire_lag.p99 > BUSY_LAG

    @property
    def busy(self) -> bool:
        """Late *and* other processes took the CPU meanwhile: the figures are not comparable."""
        return self.late and self.others_cpu is not None and self.others_cpu >= BUSY_OTHERS

    @property
    def busy_reason(self) -> str:
        lag = self.load.fire_lag
        others = (
            ""
            if self.others_cpu is None
            else f"other processes used {self.others_cpu:.1f} CPU cores and "
        )
        return (
            f"the machine was busy during the {self.peer} run: {others}requests fired up to "
            f"{lag.max * 1000:.0f} ms late (p99 {lag.p99 * 1000:.0f} ms)"
        )

    @property
    def amplification(self) -> float:
        """Attempts received by the backends per logical request sent."""
        return self.attempts / self.load.sent if self.load.sent else math.nan

    @property
    def goodput_rps(self) -> float:
        """Successful requests per second of the schedule."""
        span = self.load.planned / self.rate
        return self.load.ok / span if span > 0 else math.nan

    @property
    def latency(self) -> LatencySummary:
        return self.load.latency

    def to_json(self) -> dict[str, Any]:
        """A flat JSON-able record (latencies in milliseconds)."""
        load = self.load
        return {
            "type": "run",
            "scenario": self.scenario,
            "peer": self.peer,
            "config": self.config,
            "rate": self.rate,
            "duration_s": self.duration,
            "timeout_s": self.timeout,
            "planned": load.planned,
            "sent": load.sent,
            "dropped": load.dropped,
            "ok": load.ok,
            "success_ratio": load.success_ratio,
            "statuses": dict(load.statuses),
            "latency_ms": _ms(load.latency),
            "ok_latency_ms": _ms(load.ok_latency),
            "failed_latency_ms": _ms(load.failed_latency),
            "fire_lag_ms": _ms(load.fire_lag),
            "attempts": self.attempts,
            "attempts_by_backend": list(self.attempts_by_backend),
            "attempts_per_request": self.amplification,
            "goodput_rps": self.goodput_rps,
            "capacity_rps": self.capacity_rps,
            "elapsed_s": load.elapsed,
            "busy": self.busy,
            "others_cpu": self.others_cpu,
            "notes": list(self.notes),
        }


@dataclass(frozen=True, slots=True)
class OverheadFigures:
    """One client at one concurrency in the overhead scenario."""

    client: str
    concurrency: int
    calls: int
    cpu_seconds: float
    """Client process CPU (all threads, user + system) spent on the calls."""
    wall_seconds: float
    latency: LatencySummary
    errors: int = 0

    @property
    def cpu_us_per_call(self) -> float:
        return self.cpu_seconds / self.calls * 1e6 if self.calls else math.nan

    @property
    def calls_per_second(self) -> float:
        return self.calls / self.wall_seconds if self.wall_seconds > 0 else math.nan


@dataclass(frozen=True, slots=True)
class OverheadRound:
    """One client's batch in one round of the overhead scenario."""

    client: str
    concurrency: int
    round: int
    calls: int
    cpu_seconds: float
    p50: float


@dataclass(frozen=True, slots=True)
class OverheadResult:
    """The overhead scenario: every client at every concurrency level, same run."""

    figures: tuple[OverheadFigures, ...]
    config: Mapping[str, str] = field(default_factory=dict)
    """Configuration of each client, in words."""
    rounds: tuple[OverheadRound, ...] = ()
    """Per-round batches, for paired comparisons."""

    def get(self, client: str, concurrency: int) -> OverheadFigures | None:
        for f in self.figures:
            if f.client == client and f.concurrency == concurrency:
                return f
        return None

    def _pairs(self, concurrency: int, a: str, b: str) -> list[tuple[OverheadRound, OverheadRound]]:
        by_round: dict[int, dict[str, OverheadRound]] = {}
        for r in self.rounds:
            if r.concurrency == concurrency:
                by_round.setdefault(r.round, {})[r.client] = r
        return [(d[a], d[b]) for _, d in sorted(by_round.items()) if a in d and b in d]

    def cpu_ratio(self, concurrency: int, a: str = "finpy", b: str = "plain") -> float:
        """Median over rounds of ``a``'s CPU per call over ``b``'s (falls back to the totals)."""
        ratios = [
            (x.cpu_seconds / x.calls) / (y.cpu_seconds / y.calls)
            for x, y in self._pairs(concurrency, a, b)
            if x.calls and y.calls and y.cpu_seconds > 0
        ]
        if ratios:
            return statistics.median(ratios)
        fa, fb = self.get(a, concurrency), self.get(b, concurrency)
        if fa is None or fb is None or not fb.cpu_us_per_call > 0:
            return math.nan
        return fa.cpu_us_per_call / fb.cpu_us_per_call

    def added_p50(self, concurrency: int, a: str = "finpy", b: str = "plain") -> float:
        """Median over rounds of ``a``'s p50 minus ``b``'s, seconds (falls back to the totals)."""
        diffs = [x.p50 - y.p50 for x, y in self._pairs(concurrency, a, b)]
        if diffs:
            return statistics.median(diffs)
        fa, fb = self.get(a, concurrency), self.get(b, concurrency)
        if fa is None or fb is None:
            return math.nan
        return fa.latency.p50 - fb.latency.p50

    def to_json(self) -> list[dict[str, Any]]:
        return [
            {
                "type": "overhead",
                "scenario": "overhead",
                "peer": f.client,
                "config": self.config.get(f.client, ""),
                "concurrency": f.concurrency,
                "calls": f.calls,
                "errors": f.errors,
                "cpu_us_per_call": f.cpu_us_per_call,
                "calls_per_second": f.calls_per_second,
                "latency_ms": _ms(f.latency),
                "cpu_ratio_vs_plain": (
                    None if f.client == "plain" else self.cpu_ratio(f.concurrency, f.client)
                ),
                "added_p50_us_vs_plain": (
                    None if f.client == "plain" else self.added_p50(f.concurrency, f.client) * 1e6
                ),
            }
            for f in self.figures
        ]


def _ms(s: LatencySummary) -> dict[str, float | int | None]:
    out: dict[str, float | int | None] = {"count": s.count}
    for f in dataclasses.fields(s):
        if f.name != "count":
            v = getattr(s, f.name)
            out[f.name] = None if math.isnan(v) else round(v * 1000, 4)
    return out


def to_jsonable(value: Any) -> Any:
    """NaN and infinities become ``None`` so every line is strict JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    return value
