"""One whole bench: the selected scenarios for the selected clients, judged.

:func:`run_bench` starts the backend process, primes the interpreter (a short
unrecorded run of every client, so imports and first-call costs do not land
in the first measured run), runs the overhead scenario and then every load
scenario for every client taking part, and judges finpy's figures against the
bars and the peers against their claims.
"""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from finpy.bench.backends import BackendProcess
from finpy.bench.bars import evaluate
from finpy.bench.report import BenchReport
from finpy.bench.result import OverheadResult, RunResult
from finpy.bench.runner import BenchRunner, Overrides, Reporter, plan_runs
from finpy.bench.scenarios import PROFILES, Scenario, build
from finpy.bench.verify import verify_peers

__all__ = ["BenchOptions", "run_bench"]


@dataclass(frozen=True, slots=True)
class BenchOptions:
    """What to run."""

    scenarios: tuple[str, ...]
    peers: tuple[str, ...]
    profile: str = "quick"
    overrides: Overrides = field(default_factory=Overrides)
    prime: bool = True
    command: str = ""


def _git_revision() -> str | None:
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return None
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def _meta(options: BenchOptions) -> dict[str, Any]:
    import grpc

    import finpy

    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": options.command,
        "profile": options.profile,
        "scenarios": list(options.scenarios),
        "peers": list(options.peers),
        "finpy": finpy.__version__,
        "revision": _git_revision(),
        "python": sys.version.split()[0],
        "grpcio": grpc.__version__,
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "loadavg_at_start": list(load) if load else None,
    }


async def run_bench(options: BenchOptions, reporter: Reporter | None = None) -> BenchReport:
    """Run the bench described by ``options`` and return its report."""
    meta = _meta(options)
    started = time.monotonic()
    profile = PROFILES[options.profile]
    scenarios = [build(n, profile) for n in options.scenarios]
    scenarios = [options.overrides.apply(s) if s.kind == "load" else s for s in scenarios]
    plans = plan_runs(scenarios, options.peers)
    size = max((s.backends for s in scenarios), default=1)
    runs: list[RunResult] = []
    overhead: OverheadResult | None = None
    async with BackendProcess(size) as backends:
        runner = BenchRunner(backends, reporter=reporter, overrides=options.overrides)
        load_peers = sorted(
            {p for plan in plans if plan.scenario.kind == "load" for p in plan.peers}
        )
        if options.prime and load_peers:
            await _prime(runner, load_peers, size)
        for plan in plans:
            if plan.scenario.kind == "overhead":
                if plan.peers:
                    overhead = await runner.run_overhead(plan.scenario, plan.peers)
                continue
            for peer in plan.peers:
                runs.append(await _run_once_more_if_busy(runner, plan.scenario, peer, reporter))
    by_name = {s.name: s for s in scenarios}
    meta["duration_s"] = round(time.monotonic() - started, 1)
    return BenchReport(
        meta=meta,
        scenarios=by_name,
        runs=tuple(runs),
        overhead=overhead,
        bars=tuple(evaluate(runs, overhead, by_name)),
        checks=tuple(verify_peers(runs)),
        skipped={p.scenario.name: p.skipped for p in plans if p.skipped},
    )


async def _run_once_more_if_busy(
    runner: BenchRunner, scenario: Scenario, peer: str, reporter: Reporter | None
) -> RunResult:
    """Run; if the machine was busy (the generator fell behind), run once more.

    The run whose generator kept time better is kept, with a note; a run that is
    busy both times stays busy, and the bars that rest on it are not judged.
    """
    run = await runner.run(scenario, peer)
    if not run.busy:
        return run
    if reporter is not None:
        reporter.note(f"  {scenario.name} / {peer}: {run.busy_reason}; running it again")
    again = await runner.run(scenario, peer)
    first_lag = run.load.fire_lag.p99 * 1000
    kept = again if again.load.fire_lag.p99 <= run.load.fire_lag.p99 else run
    note = f"run twice: the first time requests fired up to {run.load.fire_lag.max * 1000:.0f} ms late (p99 {first_lag:.0f} ms)"
    notes = (*kept.notes, note)
    if kept.busy:
        notes = (*notes, kept.busy_reason + "; not compared")
    return replace(kept, notes=notes)


async def _prime(runner: BenchRunner, peers: Sequence[str], size: int) -> None:
    """A short unrecorded healthy run of every client: first-call costs land here."""
    quiet = BenchRunner(runner.backends, overrides=Overrides())
    base = build("healthy", "quick")
    prime: Scenario = replace(base, duration=0.25, backends=min(size, base.backends))
    for peer in peers:
        await quiet.run(prime, peer)
