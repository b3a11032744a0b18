"""The overhead scenario: what finpy costs per call, next to plain ``grpc.aio``.

One healthy backend with no added latency (in another process, so only the
client is measured), and two clients calling the same unary method on it:
a plain ``grpc.aio`` channel and a finpy :class:`~finpy_protocols.grpc.Channel`
with its defaults.  At each concurrency level (1 and 32 by default) ``calls``
calls are made closed-loop by that many workers, and the *client process* CPU
(``time.process_time``: every thread, user and system, grpc's own threads
included) and wall time are measured around them, plus each call's latency.

To keep a shared, noisy machine from favouring one client, the calls are split
into rounds and the clients alternate (A B, then B A, ...); each client's
channel is warmed up before it is measured, and garbage is collected before
every measured batch.  The figures shown are sums over rounds; the bars use
the *median over rounds* of the paired comparison (finpy's CPU per call over
plain's in the same round, finpy's p50 minus plain's), so a burst of noise
from another process during one round cannot decide the verdict.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import grpc.aio

from finpy.bench.histogram import LatencyRecorder
from finpy.bench.peers import echo_method
from finpy.bench.result import OverheadFigures, OverheadResult, OverheadRound
from finpy.errors import ConfigurationError
from finpy.testing.echo import EchoRequest

__all__ = ["CLIENTS", "measure_overhead"]

TIMEOUT = 1.0

ChannelMaker = Callable[[str], Any]


def _plain(address: str) -> Any:
    return grpc.aio.insecure_channel(address)


def _finpy(address: str) -> Any:
    from finpy_protocols.grpc import Channel

    return Channel(f"static:///{address}")


def _finpy_traced(address: str) -> Any:
    """finpy with tracing on: an SDK tracer provider, every span sampled, kept in memory."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from finpy_protocols.grpc import Channel

    provider = TracerProvider()  # default sampler: parent-based, always on (100%)
    provider.add_span_processor(SimpleSpanProcessor(InMemorySpanExporter()))
    return Channel(f"static:///{address}", tracer_provider=provider)


#: The clients of the overhead scenario and their configuration in words.
CLIENTS: dict[str, tuple[ChannelMaker, str]] = {
    "plain": (_plain, "grpc.aio.insecure_channel(address)"),
    "finpy": (_finpy, "finpy_protocols.grpc.Channel('static:///address') with its defaults"),
    "finpy-traced": (
        _finpy_traced,
        "the same with tracing on: OpenTelemetry SDK TracerProvider, 100% sampled, "
        "SimpleSpanProcessor + InMemorySpanExporter",
    ),
}


async def _batch(
    call: Callable[[], Awaitable[object]],
    calls: int,
    concurrency: int,
    *recs: LatencyRecorder,
) -> tuple[float, float, int]:
    """``calls`` calls by ``concurrency`` workers: (cpu seconds, wall seconds, errors)."""
    remaining = calls
    errors = 0
    clock = time.perf_counter

    async def worker() -> None:
        nonlocal remaining, errors
        while remaining > 0:
            remaining -= 1
            start = clock()
            try:
                await call()
            except Exception:
                errors += 1
            took = clock() - start
            for rec in recs:
                rec.record(took)

    gc.collect()
    cpu0, wall0 = time.process_time(), clock()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.process_time() - cpu0, clock() - wall0, errors


async def measure_overhead(
    address: str,
    *,
    calls: int = 2000,
    concurrencies: Sequence[int] = (1, 32),
    clients: Sequence[str] = ("plain", "finpy"),
    rounds: int | None = None,
    warm_up: int | None = None,
) -> OverheadResult:
    """Measure every client at every concurrency level against ``address`` (``host:port``).

    ``rounds`` (default: 4 to 10, about 250 calls each) splits the calls; the
    clients alternate within each round, and the per-round figures let the
    bars take medians of paired ratios, which one noisy moment cannot sway.
    """
    if isinstance(calls, bool) or not isinstance(calls, int) or calls < 1:
        raise ConfigurationError(f"calls must be a positive integer, got {calls!r}")
    if not concurrencies or any(not isinstance(c, int) or c < 1 for c in concurrencies):
        raise ConfigurationError(f"concurrencies must be positive integers, got {concurrencies!r}")
    for c in clients:
        if c not in CLIENTS:
            raise ConfigurationError(f"unknown overhead client {c!r} (known: {', '.join(CLIENTS)})")
    if rounds is None:
        rounds = max(4, min(10, calls // 250))
    rounds = max(1, min(rounds, calls))
    if warm_up is None:  # enough to open the connection and warm the code paths
        warm_up = min(100, max(10, calls // (2 * rounds)))
    request = EchoRequest(message="overhead")
    figures: list[OverheadFigures] = []
    per_round: list[OverheadRound] = []
    for level in concurrencies:
        cpu = dict.fromkeys(clients, 0.0)
        wall = dict.fromkeys(clients, 0.0)
        errors = dict.fromkeys(clients, 0)
        recs = {c: LatencyRecorder() for c in clients}
        done = dict.fromkeys(clients, 0)
        for r in range(rounds):
            share = calls // rounds + (1 if r < calls % rounds else 0)
            order = list(clients) if r % 2 == 0 else list(reversed(clients))
            for name in order:
                channel = CLIENTS[name][0](address)
                try:
                    echo = echo_method(channel)

                    def call(echo: Any = echo) -> Awaitable[object]:
                        return echo(request, timeout=TIMEOUT)  # type: ignore[no-any-return]

                    await _batch(call, warm_up, min(level, warm_up), LatencyRecorder())
                    this_round = LatencyRecorder()
                    used_cpu, used_wall, failed = await _batch(
                        call, share, level, recs[name], this_round
                    )
                finally:
                    await channel.close()
                per_round.append(
                    OverheadRound(name, level, r, share, used_cpu, this_round.percentile(50))
                )
                cpu[name] += used_cpu
                wall[name] += used_wall
                errors[name] += failed
                done[name] += share
        figures.extend(
            OverheadFigures(
                client=name,
                concurrency=level,
                calls=done[name],
                cpu_seconds=cpu[name],
                wall_seconds=wall[name],
                latency=recs[name].statistics(),
                errors=errors[name],
            )
            for name in clients
        )
    return OverheadResult(
        tuple(figures), {c: CLIENTS[c][1] for c in clients}, rounds=tuple(per_round)
    )
