"""The report's forms: strict JSON lines, Markdown for the docs, the terminal tables, the chart."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.console import Console

from finpy.bench.bars import evaluate
from finpy.bench.report import BenchReport, render, to_markdown, write_chart, write_json_lines
from finpy.bench.result import RunResult
from finpy.bench.scenarios import build
from finpy.bench.verify import verify_peers

MakeRun = Callable[..., RunResult]


@pytest.fixture
def report(make_run: MakeRun) -> BenchReport:
    runs = (
        make_run("healthy", "plain", by_backend=(200,) * 5),
        make_run("healthy", "finpy", by_backend=(200,) * 5),
        make_run("outage", "plain", ok=0),
        make_run("outage", "finpy", ok=0, attempts=1100),
    )
    scenarios = {n: build(n) for n in ("healthy", "outage")}
    return BenchReport(
        meta={"profile": "quick", "command": "finpy bench --quick"},
        scenarios=scenarios,
        runs=runs,
        bars=tuple(evaluate(runs, None, scenarios)),
        checks=tuple(verify_peers(runs)),
        skipped={"outage": ("tenacity",)},
    )


def test_json_lines_are_strict_json_one_record_per_line(report: BenchReport) -> None:
    """Every line parses (NaN becomes null); meta first, then scenarios, runs, bars, checks."""
    out = io.StringIO()
    write_json_lines(report, out)
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["type"] for r in records] == (
        ["meta"] + ["scenario"] * 2 + ["run"] * 4 + ["bar"] * 2 + ["peer_check"] * 2
    )
    run = next(r for r in records if r["type"] == "run" and r["scenario"] == "outage")
    assert run["ok_latency_ms"]["p99"] is None  # no success: NaN -> null
    assert run["statuses"] == {"OK": 0, "UNAVAILABLE": 1000}
    assert run["attempts_per_request"] == 1.0 and run["success_ratio"] == 0.0
    assert records[0]["command"] == "finpy bench --quick"


def test_markdown_has_a_table_per_scenario_and_finpy_bars(report: BenchReport) -> None:
    """The docs form: one table per scenario, marks on finpy's figures, bar verdicts listed."""
    md = to_markdown(report)
    assert "### healthy" in md and "### outage" in md and "### peer checks" in md
    assert "| finpy | 0.00% | 1.0 | 5.0 | 5.0 | 1.10 ✓ | UNAVAILABLE 1000 |" in md
    assert "- finpy bar met: attempts/request <= 1.25 (budget): 1.100" in md


def test_terminal_tables_show_every_client_and_the_bar_summary(report: BenchReport) -> None:
    """The rendered report names every client, finpy's bars, notes and the final tally."""
    console = Console(file=io.StringIO(), width=140, color_system=None)
    render(report, console)
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert text.count("plain") >= 2 and "finpy bar met" in text
    assert "not run here: tenacity" in text
    assert "finpy bars: 2 met, 0 not met" in text


def test_chart_is_written_when_matplotlib_is_there(report: BenchReport, tmp_path: Path) -> None:
    """With matplotlib installed a PNG is written."""
    pytest.importorskip("matplotlib")
    path = tmp_path / "bench.png"
    assert write_chart(report, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_chart_is_skipped_cleanly_without_matplotlib(
    report: BenchReport, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without matplotlib write_chart returns False and writes nothing."""
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    path = tmp_path / "bench.png"
    assert write_chart(report, path) is False
    assert not path.exists()
