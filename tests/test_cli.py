"""The ``finpy`` command: argument parsing, errors naming bad values, a tiny bench run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from finpy.bench.suite import BenchOptions
from finpy.cli import bench_options, build_parser, main


def options(*argv: str) -> BenchOptions:
    args = build_parser().parse_args(["bench", *argv])
    opts = bench_options(args, ["bench", *argv])
    assert isinstance(opts, BenchOptions)
    return opts


def test_bench_defaults_to_every_scenario_and_peer_in_the_full_profile() -> None:
    """No options: all ten scenarios, all four clients, full profile."""
    opts = options()
    assert opts.profile == "full" and len(opts.scenarios) == 10
    assert opts.peers == ("plain", "grpc-retry", "tenacity", "finpy")
    assert opts.command == "finpy bench"


def test_scenarios_and_peers_are_selectable() -> None:
    """--scenario repeats or takes commas (kept in run order); --peers takes a list."""
    opts = options("--quick", "-s", "outage,slow_replica", "--scenario", "healthy", "-p", "finpy")
    assert opts.profile == "quick"
    assert opts.scenarios == ("healthy", "slow-replica", "outage")
    assert opts.peers == ("finpy",)


def test_load_overrides_are_passed_on() -> None:
    """--requests/--rate/--duration/--timeout override every run's load."""
    o = options("--requests", "50", "--rate", "20", "--duration", "3", "--timeout", "0.5").overrides
    assert (o.requests, o.rate, o.duration, o.timeout) == (50, 20.0, 3.0, 0.5)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["bench", "--scenario", "meltdown"], "unknown scenario 'meltdown'"),
        (["bench", "--peers", "plain,envoy"], "unknown peer 'envoy'"),
    ],
)
def test_unknown_names_exit_2_naming_them(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad scenario or peer name is an error that names it, exit status 2."""
    assert main(argv) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("bad", [["--requests", "0"], ["--rate", "fast"], ["--duration", "-1"]])
def test_bad_numbers_are_refused_by_the_parser(
    bad: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Counts and durations must be positive numbers."""
    with pytest.raises(SystemExit) as exc:
        main(["bench", *bad])
    assert exc.value.code == 2
    assert bad[1] in capsys.readouterr().err


def test_list_shows_every_scenario_and_peer(capsys: pytest.CaptureFixture[str]) -> None:
    """--list describes the scenarios of the chosen profile and names the peers."""
    assert main(["bench", "--list", "--quick"]) == 0
    out = capsys.readouterr().out
    assert "rolling-restart" in out and "discovery-outage" in out
    assert "peers: plain, grpc-retry, tenacity, finpy" in out


def test_demo_options() -> None:
    """finpy demo runs about 20 s by default: 8 s of load per client at 150 requests/s."""
    args = build_parser().parse_args(["demo"])
    assert (args.seconds, args.rate) == (8.0, 150.0)


def test_a_tiny_bench_run_prints_the_table_and_writes_json_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """finpy bench --scenario healthy --peers plain,finpy --requests 50 runs end to end."""
    out = tmp_path / "bench.jsonl"
    md = tmp_path / "bench.md"
    argv = ["bench", "--scenario", "healthy", "--peers", "plain,finpy", "--requests", "50"]
    assert main([*argv, "--no-progress", "--json", str(out), "--markdown", str(md)]) == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    runs = [r for r in records if r["type"] == "run"]
    assert [(r["peer"], r["planned"], r["attempts"]) for r in runs] == [
        ("plain", 50, 50),
        ("finpy", 50, 50),
    ]
    assert records[0]["command"].startswith("finpy bench --scenario healthy")
    text = capsys.readouterr().out
    assert "healthy" in text and "finpy bars" in text
    assert "| plain | 100.00% |" in md.read_text()


def test_python_dash_m_finpy_is_the_same_command() -> None:
    """python -m finpy --help lists the bench and demo subcommands."""
    result = subprocess.run(
        [sys.executable, "-m", "finpy", "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0
    assert "bench" in result.stdout and "demo" in result.stdout


def test_a_missing_rich_is_explained(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without the bench extra the command says what to install instead of a traceback."""
    for name in [m for m in sys.modules if m == "rich" or m.startswith("rich.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "rich", None)
    assert main(["bench", "--list"]) == 2
    assert "pip install 'finpy[bench]'" in capsys.readouterr().err
