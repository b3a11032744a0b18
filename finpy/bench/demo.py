"""``finpy demo`` (what ``make demo`` runs): a short guided run, in plain words.

Five real gRPC backends start on 127.0.0.1 in a separate process; one answers
60 ms late and one fails every call with UNAVAILABLE.  The same open-loop load
(150 requests/s, a 1 s deadline each) goes first through plain ``grpc.aio``
with ``round_robin``, then through finpy with its defaults (plus marking the
Echo method idempotent, as a careful user would).  The demo then says what
finpy did: how many extra attempts it made (retries, hedges), which endpoints
it took out of rotation, and how much latency and how many failures that
saved, all read from the run itself (server-side counters, finpy's endpoint
set), never assumed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from rich.console import Console

from finpy.bench.backends import BackendProcess
from finpy.bench.loadgen import OpenLoopStatistics
from finpy.bench.peers import FinpyPeer, PeerClient
from finpy.bench.result import RunResult
from finpy.bench.runner import BenchRunner
from finpy.bench.scenarios import Scenario
from finpy.service import Status

__all__ = ["DemoReporter", "demo_scenario", "run_demo", "summarize"]

SLOW, FAILING = 0, 1


def demo_scenario(seconds: float = 8.0, rate: float = 150.0) -> Scenario:
    """Five backends: backend-0 is 60 ms slow, backend-1 always fails with UNAVAILABLE."""
    return Scenario(
        "demo",
        "demo",
        "backend-0 answers 60 ms late, backend-1 fails every call with UNAVAILABLE",
        rate=rate,
        duration=seconds,
        initial=(
            {"latency": 0.060},
            {"error_code": "UNAVAILABLE", "error_probability": 1.0},
        ),
    )


@dataclass
class DemoReporter:
    """Live lines while the demo runs, and the endpoints finpy took out of rotation."""

    console: Console
    addresses: tuple[str, ...] = ()
    ejected: set[str] = field(default_factory=set)
    _client: PeerClient | None = None
    _last: float = 0.0

    def watch(self, client: PeerClient) -> None:
        self._client = client
        self.ejected = set()

    def _sample(self) -> None:
        client = self._client
        if not isinstance(client, FinpyPeer):
            return
        eps = client.channel.client.endpoint_set
        if eps is None:
            return
        for ep in eps.endpoints:
            if ep.status is not Status.OPEN:
                self.ejected.add(ep.address.authority)

    def run_started(self, scenario: Scenario, peer: str, planned: int) -> None:
        self._last = 0.0

    def run_progress(self, stats: OpenLoopStatistics) -> None:
        self._sample()
        done = stats.completed / stats.planned if stats.planned else 0.0
        if done - self._last >= 0.25:
            self._last = done
            self.console.print(
                f"    {stats.completed:>5}/{stats.planned} answered, {stats.failed} failed so far"
            )

    def run_finished(self, result: RunResult) -> None:
        self._sample()

    def note(self, text: str) -> None:
        self.console.print(text)

    def name_of(self, authority: str) -> str:
        if authority in self.addresses:
            return f"backend-{self.addresses.index(authority)}"
        return authority


def _ms(seconds: float) -> str:
    return "n/a" if math.isnan(seconds) else f"{seconds * 1000:.1f} ms"


def summarize(plain: RunResult, finpy: RunResult, ejected: list[str]) -> list[str]:
    """What finpy did, in plain words, from the figures of both runs."""
    lines = []
    pf, ff = plain.load.planned - plain.load.ok, finpy.load.planned - finpy.load.ok
    lines.append(
        f"round_robin: {pf} of {plain.load.planned} requests failed "
        f"({plain.success_ratio * 100:.1f}% success), p99 {_ms(plain.latency.p99)}."
    )
    lines.append(
        f"finpy:       {ff} of {finpy.load.planned} requests failed "
        f"({finpy.success_ratio * 100:.1f}% success), p99 {_ms(finpy.latency.p99)}."
    )
    extra = finpy.attempts - finpy.load.sent
    if extra > 0:
        lines.append(
            f"finpy made {extra} extra attempts (retries or hedges) for {finpy.load.sent} "
            f"requests: {finpy.amplification:.2f} attempts per request, as the backends counted."
        )
    else:
        lines.append(
            "finpy retried nothing: every request was one attempt "
            f"({finpy.attempts} attempts for {finpy.load.sent} requests, as the backends counted)."
        )
    if ejected:
        lines.append(
            f"finpy took {len(ejected)} endpoint(s) out of rotation during the run: "
            + ", ".join(ejected)
            + "."
        )
    else:
        lines.append("finpy took no endpoint out of rotation (every endpoint stayed OPEN).")
    saved = plain.latency.p99 - finpy.latency.p99
    if not math.isnan(saved):
        if saved > 0:
            lines.append(f"Latency saved: finpy's p99 was {_ms(saved)} lower than round_robin's.")
        else:
            lines.append(
                f"No latency saved: finpy's p99 was {_ms(-saved)} higher than round_robin's."
            )
    avoided = pf - ff
    if avoided > 0:
        lines.append(f"Failures avoided: {avoided} requests that failed under round_robin.")
    elif avoided < 0:
        lines.append(f"finpy failed {-avoided} more requests than round_robin.")
    return lines


async def run_demo(
    seconds: float = 8.0, rate: float = 150.0, console: Console | None = None
) -> tuple[RunResult, RunResult, list[str]]:
    """Run the demo and print it; returns both runs and the summary lines."""
    console = console if console is not None else Console(highlight=False)
    scenario = demo_scenario(seconds, rate)
    console.print("[b]finpy demo[/]: the service mesh inside the process\n")
    console.print("Starting 5 real gRPC backends on 127.0.0.1 (in a separate process)...")
    async with BackendProcess(5) as backends:
        reporter = DemoReporter(console, backends.addresses)
        runner = BenchRunner(backends, reporter=reporter, on_client=reporter.watch)
        console.print(
            f"  backend-{SLOW} answers 60 ms late; backend-{FAILING} fails every call with "
            "UNAVAILABLE; the other three are healthy."
        )
        console.print(
            f"  Load: {rate:g} requests/s for {seconds:g}s, open loop, deadline 1 s each.\n"
        )
        results: dict[str, RunResult] = {}
        for peer, words in (
            ("plain", "plain grpc.aio with round_robin (what most Python services run)"),
            ("finpy", "finpy with its defaults (Echo marked idempotent)"),
        ):
            console.print(f"[b]{words}[/]")
            results[peer] = await runner.run(scenario, peer)
            r = results[peer]
            console.print(
                f"    done: {r.success_ratio * 100:.1f}% success, p50 {_ms(r.latency.p50)}, "
                f"p99 {_ms(r.latency.p99)}, {r.amplification:.2f} attempts/request\n"
            )
        console.print(f"[dim]finpy configuration: {results['finpy'].config}[/]\n")
    ejected = sorted(reporter.name_of(a) for a in reporter.ejected)
    lines = summarize(results["plain"], results["finpy"], ejected)
    console.print("[b]What finpy did[/]")
    for line in lines:
        console.print("  " + line)
    console.print(
        "\nFull comparison (gRPC retries, tenacity, ten scenarios): [b]finpy bench --quick[/]"
    )
    return results["plain"], results["finpy"], lines
