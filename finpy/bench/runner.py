"""Runs scenarios against clients: one client at a time, on the same backends.

For each scenario and each client taking part, one *run*:

1. every backend is reset (healthy, listening, counters zero) and the client is
   built and warmed up (connections open) against the healthy cluster;
2. the scenario's initial faults are applied and the server counters zeroed,
   so the fault starts in steady state and the warm-up is not counted (a
   scenario with ``faults_from_start``, such as a replica that is down before
   the client ever connects, applies them before step 1's warm-up instead);
3. the open-loop load runs while the scenario's timeline (stops, restarts,
   discovery failures) is played against the same clock;
4. when every request has answered, the server counters give the attempts the
   backends received; attempts / logical requests is the load amplification.

Clients never run concurrently (they would share the CPU and the backends),
so scenarios x clients runs are sequential and the bench is as long as their
sum.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from finpy.bench import machine
from finpy.bench.backends import BackendProcess
from finpy.bench.discovery import AddressFile
from finpy.bench.loadgen import LoadResult, LoadSpec, OpenLoop, OpenLoopStatistics
from finpy.bench.peers import PeerClient, PeerContext, make_peer
from finpy.bench.result import OverheadResult, RunResult
from finpy.bench.scenarios import Event, Scenario
from finpy.errors import ConfigurationError

__all__ = ["BenchRunner", "NullReporter", "Overrides", "Reporter", "RunPlan", "plan_runs"]

#: How late (seconds) a timeline event may be applied before the run notes it.
EVENT_SLACK = 0.05
WARM_UP_CALLS = 20


class Reporter(Protocol):
    """What the runner tells a progress display."""

    def run_started(self, scenario: Scenario, peer: str, planned: int) -> None: ...

    def run_progress(self, stats: OpenLoopStatistics) -> None: ...

    def run_finished(self, result: RunResult) -> None: ...

    def note(self, text: str) -> None: ...


class NullReporter:
    """A reporter that shows nothing."""

    def run_started(self, scenario: Scenario, peer: str, planned: int) -> None:
        pass

    def run_progress(self, stats: OpenLoopStatistics) -> None:
        pass

    def run_finished(self, result: RunResult) -> None:
        pass

    def note(self, text: str) -> None:
        pass


@dataclass(frozen=True, slots=True)
class Overrides:
    """Command-line overrides of every scenario's load (``None``: the scenario's own)."""

    requests: int | None = None
    rate: float | None = None
    duration: float | None = None
    timeout: float | None = None

    def apply(self, s: Scenario) -> Scenario:
        """``s`` with the overrides; a run shortened by ``duration`` or ``requests`` keeps
        only the timeline events that still fall inside it."""
        if s.kind != "load":
            return s
        rate = self.rate if self.rate is not None else s.rate
        duration = self.duration if self.duration is not None else s.duration
        if self.requests is not None:
            duration = min(duration, self.requests / rate)
        changes: dict[str, object] = {}
        if rate != s.rate:
            changes["rate"] = rate
        if self.timeout is not None:
            changes["timeout"] = self.timeout
        if duration != s.duration:
            changes["duration"] = duration
            changes["events"] = tuple(e for e in s.events if e.at <= duration)
        return replace(s, **changes) if changes else s  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class RunPlan:
    """One scenario and the clients that take part in it."""

    scenario: Scenario
    peers: tuple[str, ...]
    skipped: tuple[str, ...] = field(default_factory=tuple)
    """Selected peers that cannot take part in this scenario."""


def plan_runs(scenarios: Sequence[Scenario], peers: Sequence[str]) -> list[RunPlan]:
    """Which selected peers run in which selected scenario (scenario order kept)."""
    plans = []
    for s in scenarios:
        allowed = s.peers if s.peers is not None else tuple(peers)
        taking = tuple(p for p in peers if p in allowed)
        skipped = tuple(p for p in peers if p not in allowed)
        plans.append(RunPlan(s, taking, skipped))
    return plans


class BenchRunner:
    """Runs load scenarios for clients against one :class:`BackendProcess`."""

    def __init__(
        self,
        backends: BackendProcess,
        *,
        reporter: Reporter | None = None,
        overrides: Overrides | None = None,
        max_outstanding: int = 2000,
        warm_up_calls: int = WARM_UP_CALLS,
        on_client: Callable[[PeerClient], None] | None = None,
    ) -> None:
        self.backends = backends
        self.reporter: Reporter = reporter if reporter is not None else NullReporter()
        self.overrides = overrides or Overrides()
        self.max_outstanding = max_outstanding
        self.warm_up_calls = warm_up_calls
        #: Told about each client before its measured run (the demo watches finpy's endpoints).
        self.on_client = on_client

    def _addresses(self, scenario: Scenario) -> tuple[str, ...]:
        addresses = self.backends.addresses[: scenario.backends]
        if len(addresses) < scenario.backends:
            raise ConfigurationError(
                f"scenario {scenario.name} needs {scenario.backends} backends, the backend "
                f"process has {len(self.backends.addresses)}"
            )
        return addresses

    async def run(self, scenario: Scenario, peer: str) -> RunResult:
        """One run of ``peer`` in ``scenario`` (see the module docstring)."""
        if scenario.kind != "load":
            raise ConfigurationError(f"scenario {scenario.name} is not a load scenario")
        scenario = self.overrides.apply(scenario)
        addresses = self._addresses(scenario)
        spec = LoadSpec(
            rate=scenario.rate,
            duration=scenario.duration,
            timeout=scenario.timeout,
            requests=self.overrides.requests,
            max_outstanding=self.max_outstanding,
        )
        uses_discovery = any(e.action.startswith("discovery") for e in scenario.events)
        discovery = AddressFile(addresses) if uses_discovery else None
        ctx = PeerContext(addresses, scenario.finpy, discovery)

        await self.backends.reset()
        if scenario.faults_from_start:
            await self._initial_faults(scenario)
        client = make_peer(peer, ctx, scenario.timeout)
        notes: list[str] = []
        try:
            if uses_discovery and peer != "finpy":
                notes.append("discovery events do not apply: static address list")
            await client.warm_up(self.warm_up_calls, scenario.timeout)
            if not scenario.faults_from_start:
                await self._initial_faults(scenario)
            await self.backends.reset_counters()
            if self.on_client is not None:
                self.on_client(client)
            client.begin_run()
            self.reporter.run_started(scenario, peer, spec.planned)
            pids = (os.getpid(), *((self.backends.pid,) if self.backends.pid else ()))
            before = machine.snapshot(pids, time.monotonic())
            result = await self._load(scenario, spec, client, discovery, notes)
            others = machine.others_cpu(before, machine.snapshot(pids, time.monotonic()))
            await asyncio.sleep(0.05)  # let attempts still on the wire land
            counters = await self.backends.counters()
            notes.extend(client.run_notes())
        finally:
            await client.aclose()
            if discovery is not None:
                discovery.close()
        run = RunResult(
            scenario=scenario.name,
            peer=peer,
            config=client.config,
            load=result,
            attempts=counters.total,
            attempts_by_backend=counters.attempts[: scenario.backends],
            rate=scenario.rate,
            duration=scenario.duration,
            timeout=scenario.timeout,
            capacity_rps=scenario.capacity_rps,
            notes=tuple(notes),
            others_cpu=others,
        )
        if run.late and not run.busy:
            lag = result.fire_lag
            run = replace(
                run,
                notes=(
                    *run.notes,
                    f"requests fired up to {lag.max * 1000:.0f} ms late (p99 "
                    f"{lag.p99 * 1000:.0f} ms) while the rest of the machine was quiet"
                    + ("" if others is None else f" ({others:.1f} CPU cores)")
                    + ": the client's own cost",
                ),
            )
        self.reporter.run_finished(run)
        return run

    async def _initial_faults(self, scenario: Scenario) -> None:
        for i in range(scenario.backends):
            behavior = scenario.behavior_of(i)
            if behavior:
                await self.backends.set(i, behavior)

    async def _load(
        self,
        scenario: Scenario,
        spec: LoadSpec,
        client: PeerClient,
        discovery: AddressFile | None,
        notes: list[str],
    ) -> LoadResult:
        loop = asyncio.get_running_loop()
        gen = OpenLoop(spec, client.call)
        t0 = loop.time() + 0.02
        timeline = loop.create_task(self._timeline(scenario.events, t0, discovery, notes))
        ticker = loop.create_task(self._tick(gen))
        try:
            result = await gen.run(start_at=t0)
            await timeline  # a run shortened by --requests may end before its timeline
        finally:
            for t in (timeline, ticker):
                t.cancel()
            await asyncio.gather(timeline, ticker, return_exceptions=True)
        return result

    async def _tick(self, gen: OpenLoop) -> None:
        while True:
            self.reporter.run_progress(gen.statistics())
            await asyncio.sleep(0.2)

    async def _timeline(
        self,
        events: Sequence[Event],
        t0: float,
        discovery: AddressFile | None,
        notes: list[str],
    ) -> None:
        loop = asyncio.get_running_loop()
        for e in events:
            delay = t0 + e.at - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            late = loop.time() - (t0 + e.at)
            await self._apply(e, discovery)
            if late > EVENT_SLACK:
                notes.append(f"{e.describe()} applied {late * 1000:.0f} ms late")

    async def _apply(self, e: Event, discovery: AddressFile | None) -> None:
        b = self.backends
        if e.action == "set":
            assert e.backend is not None
            await b.set(e.backend, e.behavior)
        elif e.action == "stop":
            assert e.backend is not None
            await b.stop(e.backend)
        elif e.action == "kill":
            assert e.backend is not None
            await b.kill(e.backend)
        elif e.action == "start":
            assert e.backend is not None
            await b.start_backend(e.backend)
        elif discovery is None:
            return
        elif e.action == "discovery_unreachable":
            discovery.unreachable()
        elif e.action == "discovery_malformed":
            discovery.malformed()
        elif e.action == "discovery_empty":
            discovery.empty()
        elif e.action == "discovery_restore":
            discovery.restore()

    async def run_overhead(self, scenario: Scenario, peers: Sequence[str]) -> OverheadResult:
        """The overhead scenario against backend 0 (see :mod:`finpy.bench.overhead`)."""
        from finpy.bench.overhead import measure_overhead

        await self.backends.reset()
        calls = self.overrides.requests or scenario.calls or scenario.requests
        self.reporter.note(f"overhead: {calls} calls per client and concurrency level")
        start = time.perf_counter()
        result = await measure_overhead(
            self.backends.addresses[0],
            calls=calls,
            # finpy with tracing on is measured beside finpy (observability's cost)
            clients=(*peers, "finpy-traced") if "finpy" in peers else tuple(peers),
        )
        self.reporter.note(f"overhead measured in {time.perf_counter() - start:.1f}s")
        return result
