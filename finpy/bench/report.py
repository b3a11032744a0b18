"""Everything the bench shows: the tables, the progress display, JSON lines, Markdown, a PNG.

:class:`BenchReport` gathers the figures of one bench run; the functions
below render it for people (a ``rich`` table per scenario, finpy's bars beside
its figures, and the peer checks), for machines (one JSON object per line:
``meta``, ``run``, ``overhead``, ``bar``, ``peer_check``), for the docs
(Markdown tables, the form ``docs/benchmarks.md`` quotes) and as a chart
(latency percentiles per client per scenario; needs matplotlib, skipped
cleanly without it).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from finpy.bench.bars import BarCheck
from finpy.bench.loadgen import OpenLoopStatistics
from finpy.bench.result import OverheadFigures, OverheadResult, RunResult, to_jsonable
from finpy.bench.scenarios import Scenario
from finpy.bench.verify import PeerCheck

__all__ = [
    "BenchReport",
    "ProgressReporter",
    "json_records",
    "render",
    "to_markdown",
    "write_chart",
    "write_json_lines",
]


@dataclass(frozen=True)
class BenchReport:
    """The figures of one bench run."""

    meta: Mapping[str, Any]
    scenarios: Mapping[str, Scenario]
    runs: tuple[RunResult, ...] = ()
    overhead: OverheadResult | None = None
    bars: tuple[BarCheck, ...] = ()
    checks: tuple[PeerCheck, ...] = ()
    skipped: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Selected peers that could not take part, by scenario."""

    def runs_of(self, scenario: str) -> list[RunResult]:
        return [r for r in self.runs if r.scenario == scenario]

    def bars_of(self, scenario: str) -> list[BarCheck]:
        return [b for b in self.bars if b.scenario == scenario]


def _ms(x: float) -> str:
    return "-" if math.isnan(x) else f"{x * 1000:.1f}"


def _pct(x: float) -> str:
    return "-" if math.isnan(x) else f"{x * 100:.2f}%"


def _errors(r: RunResult) -> str:
    errs = r.load.errors
    return ", ".join(f"{k} {v}" for k, v in errs.items()) if errs else "-"


def _others(r: RunResult) -> str:
    """CPU cores other processes used during the run (the machine's noise)."""
    return "-" if r.others_cpu is None else f"{r.others_cpu:.1f}"


def _mark(b: BarCheck, rich: bool) -> str:
    if b.met is None:
        return "[dim]not judged[/]" if rich else "not judged"
    if rich:
        return "[green]met[/]" if b.met else "[red]not met[/]"
    return "met" if b.met else "**not met**"


def _bar_line(b: BarCheck, rich: bool) -> str:
    if b.met is None:
        return f"{_mark(b, rich)}: {b.bar} ({b.why})"
    return f"{_mark(b, rich)}: {b.bar}: {b.value} (target {b.target})"


#: Table column each bar metric is marked in (bars on figures the table does not show,
#: such as the p99 of failed calls or goodput, are only listed under it).
_COLUMN_OF = {
    "success": "success",
    "failed": "success",
    "p99": "p99",
    "attempts": "attempts",
}


def _with_marks(text: str, column: str, bars: Sequence[BarCheck], rich: bool = True) -> str:
    """``text`` followed by a mark per bar judged on this column: met, not met, not judged."""
    marks = ""
    for b in bars:
        if _COLUMN_OF.get(b.metric) == column:
            if rich:
                marks += "[dim]?[/]" if b.met is None else "[green]✓[/]" if b.met else "[red]✗[/]"
            else:
                marks += "?" if b.met is None else "✓" if b.met else "✗"
    return f"{text} {marks}" if marks else text


# -- terminal --------------------------------------------------------------------------


def render(report: BenchReport, console: Console) -> None:
    """Print the report: a table per scenario, finpy's bars marked beside its figures
    (a check mark per bar on the figure it judges) and listed under the table."""
    if report.overhead is not None:
        _render_overhead(report, console)
    for name, scenario in report.scenarios.items():
        runs = report.runs_of(name)
        if not runs:
            continue
        console.rule(f"[b]{scenario.title}[/]", align="left")
        console.print(scenario.description)
        for line in scenario.describe():
            console.print(f"  [dim]{line}[/]")
        table = Table(box=box.SIMPLE_HEAD, padding=(0, 1))
        table.add_column("client")
        for col in ("success", "p50 ms", "p99 ms", "p99.9 ms", "attempts/req"):
            table.add_column(col, justify="right", no_wrap=True)
        table.add_column("errors by status")
        table.add_column("others' CPU", justify="right")
        bars = report.bars_of(name)
        for r in runs:
            lat = r.latency
            mine = bars if r.peer == "finpy" else []
            table.add_row(
                f"{r.peer} (busy)" if r.busy else r.peer,
                _with_marks(_pct(r.success_ratio), "success", mine),
                _ms(lat.p50),
                _with_marks(_ms(lat.p99), "p99", mine),
                _ms(lat.p999),
                _with_marks(f"{r.amplification:.2f}", "attempts", mine),
                _errors(r),
                _others(r),
                style="bold" if r.peer == "finpy" else None,
            )
        console.print(table)
        for b in bars:
            console.print(f"  finpy bar {_bar_line(b, True)}")
        for r in runs:
            if r.peer == "finpy":
                console.print(f"  [dim]finpy configuration: {r.config}[/]")
            for n in r.notes:
                console.print(f"  [yellow]note ({r.peer}): {n}[/]")
        skipped = report.skipped.get(name)
        if skipped:
            console.print(f"  [dim]not run here: {', '.join(skipped)} (see the description)[/]")
        console.print()
    if report.checks:
        console.rule("[b]peer checks[/]: does each peer do what it claims?", align="left")
        table = Table(box=box.SIMPLE_HEAD, padding=(0, 1))
        for col in ("peer", "claim", "evidence (this run)", "verdict"):
            table.add_column(col)
        for c in report.checks:
            verdict = (
                "[dim]not shown[/]" if c.ok is None else "[green]yes[/]" if c.ok else "[red]NO[/]"
            )
            table.add_row(c.peer, c.claim, c.evidence, verdict)
        console.print(table)
    met, not_met, unjudged = _summary_counts(report.bars)
    console.print(
        f"[b]finpy bars[/]: {met} met, {not_met} not met"
        + (f", {unjudged} not judged" if unjudged else "")
        + " (judged against peers and the healthy run measured in this run)"
    )


def _render_overhead(report: BenchReport, console: Console) -> None:
    o = report.overhead
    assert o is not None
    console.rule("[b]overhead[/]", align="left")
    console.print(
        "One healthy 0 ms backend in another process; closed-loop calls; client process CPU only."
    )
    table = Table(box=box.SIMPLE_HEAD, padding=(0, 1))
    for col in (
        "client",
        "concurrency",
        "CPU us/call",
        "CPU vs plain",
        "calls/s",
        "p50 ms",
        "p50 vs plain",
        "p99 ms",
        "errors",
    ):
        table.add_column(col, justify="left" if col == "client" else "right")
    for f in o.figures:
        cells = _overhead_cells(o, f)
        table.add_row(
            f.client,
            str(f.concurrency),
            cells[0],
            cells[1],
            cells[2],
            cells[3],
            cells[4],
            cells[5],
            str(f.errors),
        )
    console.print(table)
    for b in report.bars_of("overhead"):
        console.print(f"  finpy bar {_bar_line(b, True)}")
    console.print()


def _overhead_cells(o: OverheadResult, f: OverheadFigures) -> list[str]:
    """CPU us/call, CPU vs plain, calls/s, p50 ms, p50 vs plain, p99 ms (medians of rounds)."""
    plain = f.client == "plain"
    ratio = math.nan if plain else o.cpu_ratio(f.concurrency, f.client)
    added = math.nan if plain else o.added_p50(f.concurrency, f.client)
    return [
        f"{f.cpu_us_per_call:.0f}",
        "-" if math.isnan(ratio) else f"{ratio:.2f}x",
        f"{f.calls_per_second:.0f}",
        f"{f.latency.p50 * 1000:.3f}",
        "-" if math.isnan(added) else f"{added * 1e6:+.0f} us",
        f"{f.latency.p99 * 1000:.3f}",
    ]


# -- progress ---------------------------------------------------------------------------


class ProgressReporter:
    """A live progress bar per run, and one summary line per finished run."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            auto_refresh=False,
        )
        self._task: Any = None

    def __enter__(self) -> ProgressReporter:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def run_started(self, scenario: Scenario, peer: str, planned: int) -> None:
        if self._task is not None:
            self._progress.remove_task(self._task)
        self._task = self._progress.add_task(f"{scenario.name} / {peer}", total=planned, detail="")
        self._progress.refresh()

    def run_progress(self, stats: OpenLoopStatistics) -> None:
        if self._task is None:
            return
        detail = f"in flight {stats.outstanding}, failed {stats.failed}"
        if stats.dropped:
            detail += f", dropped {stats.dropped}"
        self._progress.update(self._task, completed=stats.completed, detail=detail)
        self._progress.refresh()

    def run_finished(self, result: RunResult) -> None:
        if self._task is not None:
            self._progress.remove_task(self._task)
            self._task = None
        lat = result.latency
        self._progress.console.print(
            f"{result.scenario:>16} / {result.peer:<10} {result.load.planned:>6} requests  "
            f"success {_pct(result.success_ratio):>8}  p99 {_ms(lat.p99):>7} ms  "
            f"attempts/req {result.amplification:.2f}"
        )
        self._progress.refresh()

    def note(self, text: str) -> None:
        self._progress.console.print(text)
        self._progress.refresh()


# -- machines ---------------------------------------------------------------------------


def json_records(report: BenchReport) -> list[dict[str, Any]]:
    """Every record of the report, as JSON-able dicts (first: ``meta``)."""
    records: list[dict[str, Any]] = [{"type": "meta", **report.meta}]
    for name, s in report.scenarios.items():
        records.append(
            {
                "type": "scenario",
                "scenario": name,
                "title": s.title,
                "description": s.description,
                "setup": s.describe(),
            }
        )
    if report.overhead is not None:
        records.extend(report.overhead.to_json())
    records.extend(r.to_json() for r in report.runs)
    records.extend(b.to_json() for b in report.bars)
    records.extend(c.to_json() for c in report.checks)
    return [to_jsonable(r) for r in records]


def write_json_lines(report: BenchReport, out: IO[str]) -> None:
    """One strict-JSON object per line."""
    for record in json_records(report):
        out.write(json.dumps(record, allow_nan=False) + "\n")


# -- docs -------------------------------------------------------------------------------


def to_markdown(report: BenchReport) -> str:
    """The figures as Markdown tables (what docs/benchmarks.md quotes)."""
    m = report.meta
    lines: list[str] = []
    if m.get("command"):
        lines += [
            f"Command: `{m['command']}` — started {m.get('date', '?')}, took "
            f"{m.get('duration_s', '?')} s; finpy {m.get('finpy', '?')} "
            f"(revision {m.get('revision') or 'unknown'}), Python {m.get('python', '?')}, "
            f"grpcio {m.get('grpcio', '?')}, {m.get('cpus', '?')} CPUs, load average at start "
            f"{_loadavg(m.get('loadavg_at_start'))}.",
            "",
        ]
    o = report.overhead
    if o is not None:
        lines += [
            "### overhead",
            "",
            "| client | concurrency | CPU us/call | CPU vs plain | calls/s | p50 ms "
            "| p50 vs plain | p99 ms |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {f.client} | {f.concurrency} | " + " | ".join(_overhead_cells(o, f)) + " |"
            for f in o.figures
        ]
        lines += [""] + [f"- finpy bar {_bar_line(b, False)}" for b in report.bars_of("overhead")]
        lines.append("")
    for name, scenario in report.scenarios.items():
        runs = report.runs_of(name)
        if not runs:
            continue
        lines += [
            f"### {scenario.title}",
            "",
            f"{scenario.description} ({'; '.join(scenario.describe())})",
            "",
            "| client | success | p50 ms | p99 ms | p99.9 ms | attempts/req | errors by status "
            "| others' CPU |",
            "|---|---:|---:|---:|---:|---:|---|---:|",
        ]
        bars = report.bars_of(name)
        for r in runs:
            lat = r.latency
            mine = bars if r.peer == "finpy" else []
            peer = f"{r.peer} (busy)" if r.busy else r.peer
            lines.append(
                f"| {peer} | {_with_marks(_pct(r.success_ratio), 'success', mine, False)} | "
                f"{_ms(lat.p50)} | {_with_marks(_ms(lat.p99), 'p99', mine, False)} | "
                f"{_ms(lat.p999)} | {_with_marks(f'{r.amplification:.2f}', 'attempts', mine, False)} "
                f"| {_errors(r)} | {_others(r)} |"
            )
        lines.append("")
        lines += [f"- finpy bar {_bar_line(b, False)}" for b in report.bars_of(name)]
        for r in runs:
            lines += [f"- note ({r.peer}): {n}" for n in r.notes]
        lines.append("")
    if report.checks:
        lines += [
            "### peer checks",
            "",
            "| peer | claim | evidence | verdict |",
            "|---|---|---|---|",
        ]
        for c in report.checks:
            verdict = "not shown" if c.ok is None else "yes" if c.ok else "**no**"
            lines.append(f"| {c.peer} | {c.claim} | {c.evidence} | {verdict} |")
        lines.append("")
    return "\n".join(lines)


def _loadavg(value: Any) -> str:
    if not isinstance(value, (list, tuple)) or not value:
        return "unknown"
    return "/".join(f"{float(v):.2f}" for v in value)


# -- chart ------------------------------------------------------------------------------


def write_chart(report: BenchReport, path: str | Path) -> bool:
    """Latency percentiles per client per scenario as a PNG; ``False`` without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import FuncFormatter, NullFormatter
    except ImportError:
        return False
    names = [n for n in report.scenarios if report.runs_of(n)]
    if not names:
        return False
    cols = min(3, len(names))
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.6 * rows), squeeze=False)
    for ax, name in zip(_flat(axes), names, strict=False):
        runs = report.runs_of(name)
        width = 0.8 / len(runs)
        for k, r in enumerate(runs):
            lat = r.latency
            values = [lat.p50, lat.p99, lat.p999]
            xs = [i + (k - (len(runs) - 1) / 2) * width for i in range(3)]
            ax.bar(
                xs,
                [0 if math.isnan(v) else v * 1000 for v in values],
                width,
                label=r.peer,
                color=_COLORS.get(r.peer),
            )
        ax.set_xticks(range(3), ["p50", "p99", "p99.9"])
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_ylabel("ms")
        ax.set_title(report.scenarios[name].title)
        ax.legend(fontsize="small")
    for ax in list(_flat(axes))[len(names) :]:
        ax.set_visible(False)
    fig.suptitle(f"finpy bench: latency percentiles ({report.meta.get('profile', '')})")
    fig.tight_layout()
    fig.savefig(str(path), dpi=100)
    plt.close(fig)
    return True


#: One colour per client in every panel of the chart.
_COLORS = {
    "plain": "tab:blue",
    "grpc-retry": "tab:orange",
    "tenacity": "tab:green",
    "finpy": "tab:red",
}


def _flat(axes: Any) -> Iterable[Any]:
    for row in axes:
        yield from row


def _summary_counts(bars: Sequence[BarCheck]) -> tuple[int, int, int]:
    """(met, not met, not judged)."""
    met = sum(1 for b in bars if b.met is True)
    not_met = sum(1 for b in bars if b.met is False)
    return met, not_met, len(bars) - met - not_met
