"""``finpy stats TARGET``: what finpy sees for a target, as the text dump shows it.

It resolves the target the way a client would, connects to its endpoints
(bounded by ``--wait``) and prints the snapshot of that client: discovery state,
each endpoint with its status, load, latency estimate and breaker.  In a running
service, :func:`finpy.observe.dump` prints the same for every live client.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from typing import Any

from finpy.observe.dump import client_snapshot, format_snapshot

__all__ = ["add_stats_command", "run_stats"]


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be > 0 seconds, got {text!r}")
    return value


def add_stats_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``finpy stats`` on the ``finpy`` parser's subcommands."""
    p = sub.add_parser(
        "stats",
        help="resolve a gRPC target, connect, and print what finpy sees (the text dump)",
        description="Resolve TARGET as a finpy client would, connect to its endpoints and "
        "print the client's snapshot: discovery state and staleness, and each endpoint's "
        "status, load, latency estimate and breaker.",
    )
    p.add_argument("target", help="a finpy target, e.g. dns:///users.internal:50051")
    p.add_argument(
        "--wait",
        type=_seconds,
        default=5.0,
        help="seconds to wait for resolution and a READY endpoint (default 5)",
    )
    p.add_argument("--server-name", help="TLS/authority name (default: from the target)")
    p.set_defaults(run=run_stats)


async def _snapshot(target: str, wait: float, server_name: str | None) -> str:
    from finpy_protocols.grpc import Channel

    async with Channel(target, server_name=server_name) as channel:
        note = ""
        try:
            await asyncio.wait_for(_connected(channel), wait)
        except asyncio.TimeoutError:
            note = f"(some endpoints were still connecting after {wait:g} s)\n"
        return format_snapshot([client_snapshot(channel.client)]) + note


async def _connected(channel: Any) -> None:
    """Wait until the target is resolved and no endpoint's connection is still being made."""
    import grpc

    from finpy_protocols.grpc import GrpcTransport

    await channel.channel_ready()
    settled = (grpc.ChannelConnectivity.READY, grpc.ChannelConnectivity.TRANSIENT_FAILURE)
    eps = channel.client.endpoint_set
    for ep in () if eps is None else eps.endpoints:
        svc: Any = ep.service
        while svc is not None and not isinstance(svc, GrpcTransport):
            svc = getattr(svc, "service", None)
        if svc is None:
            continue
        ch = svc.channel
        while (state := ch.get_state(True)) not in settled:
            await ch.wait_for_state_change(state)


def run_stats(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """Run ``finpy stats``; returns the exit status."""
    print(asyncio.run(_snapshot(args.target, args.wait, args.server_name)), end="")
    return 0
