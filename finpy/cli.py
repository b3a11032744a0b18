"""The ``finpy`` command: ``finpy bench`` and ``finpy demo``.

``finpy bench`` runs the scenario benchmark (:mod:`finpy.bench`) and prints
a table per scenario with finpy's bars beside its figures; ``--json``,
``--markdown`` and ``--png`` also write the figures for machines, for the docs
and as a chart.  ``finpy demo`` is the short guided run of :mod:`finpy.bench.demo`.
Subcommands are registered in :data:`COMMANDS`, so more (``finpy stats``) slot in.
"""

from __future__ import annotations

import os

# grpc's C core logs connection churn (GOAWAY on restarts) at INFO to stderr, which
# would tear through the progress display; errors are still shown.
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")

import argparse
import asyncio
import logging
import shlex
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from finpy.errors import ConfigurationError

if TYPE_CHECKING:  # the bench imports grpc and rich: only when a subcommand needs them
    from rich.console import Console

    from finpy.bench.loadgen import OpenLoopStatistics
    from finpy.bench.result import RunResult
    from finpy.bench.scenarios import Scenario
    from finpy.bench.suite import BenchOptions

__all__ = ["COMMANDS", "build_parser", "main"]


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be > 0, got {text!r}")
    return value


def _add_bench(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from finpy.bench.peers import PEERS
    from finpy.bench.scenarios import SCENARIOS

    p = sub.add_parser(
        "bench",
        help="scenario benchmark: finpy next to plain grpc.aio, gRPC retries and tenacity",
        description="Open-loop scenario benchmark of finpy and its peers on local backends "
        "(in a separate process). Prints a table per scenario with finpy's design bars "
        "judged against peers measured in the same run.",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="short runs: every scenario and peer in about a minute (default: full profile, "
        "about 9 minutes)",
    )
    p.add_argument(
        "--scenario",
        "-s",
        action="append",
        metavar="NAME",
        help=f"scenario(s) to run, repeatable or comma-separated (default: all): "
        f"{', '.join(SCENARIOS)}",
    )
    p.add_argument(
        "--peers",
        "-p",
        metavar="LIST",
        default=",".join(PEERS),
        help=f"comma-separated clients (default: all): {', '.join(PEERS)}",
    )
    p.add_argument("--requests", type=_positive_int, help="at most N requests per run")
    p.add_argument("--rate", type=_positive_float, help="offered load in requests/s (all runs)")
    p.add_argument("--duration", type=_positive_float, help="seconds of load per run")
    p.add_argument("--timeout", type=_positive_float, help="deadline of every request (s)")
    p.add_argument("--json", metavar="PATH", help="write JSON lines to PATH ('-': stdout)")
    p.add_argument("--markdown", metavar="PATH", help="write the figures as Markdown tables")
    p.add_argument("--png", metavar="PATH", help="write a latency chart (needs matplotlib)")
    p.add_argument("--no-progress", action="store_true", help="no live progress display")
    p.add_argument("--list", action="store_true", help="list scenarios and peers, then exit")
    p.add_argument("--verbose", "-v", action="store_true", help="show finpy's warnings")
    p.set_defaults(run=_bench)


def _add_demo(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "demo",
        help="a 20-second guided run: round_robin vs finpy on a slow and a failing replica",
        description="A short guided run on an embedded cluster of 5 local gRPC backends "
        "(one slow, one failing): plain round_robin, then finpy's defaults, and what finpy did.",
    )
    p.add_argument(
        "--seconds",
        type=_positive_float,
        default=8.0,
        help="seconds of load per client (default 8)",
    )
    p.add_argument("--rate", type=_positive_float, default=150.0, help="requests/s (default 150)")
    p.set_defaults(run=_demo)


def _add_stats(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from finpy.observe.command import add_stats_command

    add_stats_command(sub)


#: Subcommand registrars, in help order.
COMMANDS: dict[str, Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]] = {
    "bench": _add_bench,
    "demo": _add_demo,
    "stats": _add_stats,
}


def build_parser() -> argparse.ArgumentParser:
    """The ``finpy`` argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="finpy", description="finpy: the service mesh inside the process."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for register in COMMANDS.values():
        register(sub)
    return parser


def _split(values: Sequence[str] | None) -> list[str]:
    return [v.strip() for item in values or () for v in item.split(",") if v.strip()]


def bench_options(args: argparse.Namespace, argv: Sequence[str]) -> BenchOptions:
    """The :class:`finpy.bench.suite.BenchOptions` of parsed ``finpy bench`` arguments."""
    from finpy.bench.peers import parse_peers
    from finpy.bench.runner import Overrides
    from finpy.bench.scenarios import SCENARIOS, build, canonical_name
    from finpy.bench.suite import BenchOptions

    names = [canonical_name(n) for n in _split(args.scenario)] or list(SCENARIOS)
    for n in names:
        build(n)  # raises ConfigurationError naming an unknown scenario
    order = list(SCENARIOS)
    names = sorted(dict.fromkeys(names), key=order.index)
    return BenchOptions(
        scenarios=tuple(names),
        peers=parse_peers(args.peers),
        profile="quick" if args.quick else "full",
        overrides=Overrides(
            requests=args.requests, rate=args.rate, duration=args.duration, timeout=args.timeout
        ),
        command="finpy " + shlex.join(argv),
    )


def _bench(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from rich.console import Console

    from finpy.bench import report as rep
    from finpy.bench.peers import PEERS
    from finpy.bench.scenarios import SCENARIOS, build
    from finpy.bench.suite import run_bench

    json_to_stdout = args.json == "-"
    console = Console(stderr=json_to_stdout, highlight=False)
    if not console.is_terminal:
        console.width = max(console.width, 120)  # logs and files: room for the tables
    if args.list:
        for name in SCENARIOS:
            s = build(name, "quick" if args.quick else "full")
            console.print(f"[b]{name}[/]: {s.description}")
            for line in s.describe():
                console.print(f"    {line}")
        console.print("[b]peers[/]: " + ", ".join(PEERS))
        return 0
    options = bench_options(args, argv)
    if not args.verbose:
        logging.getLogger("finpy").setLevel(logging.ERROR)
    console.print(
        f"[b]finpy bench[/] ({options.profile}): {', '.join(options.scenarios)}; "
        f"clients: {', '.join(options.peers)}"
    )
    if args.no_progress or not console.is_terminal:
        report = asyncio.run(run_bench(options, _LineReporter(console)))
    else:
        with rep.ProgressReporter(console) as live:
            report = asyncio.run(run_bench(options, live))
    console.print()
    rep.render(report, console)
    if args.json:
        if json_to_stdout:
            rep.write_json_lines(report, sys.stdout)
        else:
            with open(args.json, "w", encoding="utf-8") as f:
                rep.write_json_lines(report, f)
            console.print(f"JSON lines written to {args.json}")
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as f:
            f.write(rep.to_markdown(report))
        console.print(f"Markdown written to {args.markdown}")
    if args.png:
        if rep.write_chart(report, args.png):
            console.print(f"chart written to {args.png}")
        else:
            console.print("no chart: matplotlib is not installed (pip install matplotlib)")
    return 0


class _LineReporter:
    """Progress as plain lines (no terminal, or --no-progress)."""

    def __init__(self, console: Console) -> None:
        self._console = console

    def run_started(self, scenario: Scenario, peer: str, planned: int) -> None:
        pass

    def run_progress(self, stats: OpenLoopStatistics) -> None:
        pass

    def run_finished(self, result: RunResult) -> None:
        lat = result.latency
        self._console.print(
            f"{result.scenario:>16} / {result.peer:<10} {result.load.planned:>6} requests  "
            f"success {result.success_ratio * 100:7.2f}%  p99 {lat.p99 * 1000:7.1f} ms  "
            f"attempts/req {result.amplification:.2f}"
        )

    def note(self, text: str) -> None:
        self._console.print(text)


def _demo(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from finpy.bench.demo import run_demo

    logging.getLogger("finpy").setLevel(logging.ERROR)
    asyncio.run(run_demo(seconds=args.seconds, rate=args.rate))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``finpy`` console script; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status: int = args.run(args, argv)
    except ModuleNotFoundError as e:
        if (e.name or "").partition(".")[0] != "rich":
            raise
        print(
            f"finpy {args.command}: needs the 'rich' package: pip install 'finpy[bench]'",
            file=sys.stderr,
        )
        return 2
    except ConfigurationError as e:
        print(f"finpy {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"finpy {args.command}: interrupted", file=sys.stderr)
        return 130
    return status
