"""A human-readable snapshot of every live client: the base of an admin page.

:func:`snapshot` reads the statistics of each live client (see
:mod:`finpy.observe.registry`) into frozen :class:`ClientSnapshot` objects;
:func:`format_snapshot` renders them as plain text and :func:`dump` prints it::

    >>> finpy.observe.dump()
    finpy: 1 live client
    client 'users' (open): static:///10.0.0.1:50051,10.0.0.2:50051, 1204 requests
      discovery   Bound, 2 addresses, healthy, last good update 12.0 s ago
      retries     budget balance 118; 3 retries, 0 requeues, 0/0 hedges won/sent, 0 refused
      balancer    P2CPeakEwma, 2 endpoints, 0 unhealthy
      endpoint         status  load  estimate  breaker  ejections
      10.0.0.1:50051   open       1    1.3 ms  alive            0
      10.0.0.2:50051   busy       0   40.2 ms  dead             1

Reading statistics changes nothing; a snapshot is O(endpoints).  Metadata and
credentials never appear (clients do not keep any).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

from finpy.balancer.stats import BalancerStatistics, EndpointStatistics
from finpy.endpoint_set import EndpointSetStatistics
from finpy.observe.registry import live_clients
from finpy.resolver.guard import DiscoveryStatistics
from finpy.retry.statistics import RetryStatistics

if TYPE_CHECKING:
    from finpy.client import Client

__all__ = ["ClientSnapshot", "client_snapshot", "dump", "format_snapshot", "snapshot"]


@dataclass(frozen=True, slots=True)
class ClientSnapshot:
    """What one client looks like right now."""

    label: str
    target: str
    status: str
    requests: int
    started: bool
    """Whether the client has begun resolving (it does at its first request)."""
    resolution_state: str | None
    """The state its endpoint set sees (``Bound``, ``Pending``, ...)."""
    discovery: DiscoveryStatistics | None
    """Last-known-good guard statistics: staleness, failures (``None``: unguarded)."""
    endpoint_set: EndpointSetStatistics | None
    balancer: BalancerStatistics | None
    endpoints: tuple[EndpointStatistics, ...]
    retries: RetryStatistics | None


def client_snapshot(client: Client[Any, Any]) -> ClientSnapshot:
    """The snapshot of one client."""
    stats = client.statistics()
    eps = client.endpoint_set
    balancer = None if eps is None else eps.balancer
    res = client.resolution
    discovery = None
    read = getattr(res, "statistics", None)
    if callable(read):
        value = read()
        discovery = value if isinstance(value, DiscoveryStatistics) else None
    balancer_stats = getattr(balancer, "statistics", None)
    endpoint_stats = getattr(balancer, "endpoint_statistics", None)
    return ClientSnapshot(
        label=client.label,
        target=client.target,
        status=stats.status,
        requests=stats.requests,
        started=eps is not None,
        resolution_state=None if res is None else type(res.state).__name__,
        discovery=discovery,
        endpoint_set=stats.endpoints,
        balancer=balancer_stats() if callable(balancer_stats) else None,
        endpoints=tuple(endpoint_stats()) if callable(endpoint_stats) else (),
        retries=stats.retries,
    )


def snapshot(clients: Iterable[Client[Any, Any]] | None = None) -> tuple[ClientSnapshot, ...]:
    """Snapshots of ``clients`` (default: every live client of the process)."""
    return tuple(client_snapshot(c) for c in (live_clients() if clients is None else clients))


def _ms(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds * 1000:.1f} ms" if seconds < 10 else f"{seconds:.1f} s"


def _discovery_line(s: ClientSnapshot) -> str:
    d = s.discovery
    if d is None:
        return f"{s.resolution_state or 'not started'}"
    parts = [d.state, f"{d.addresses} address{'es' if d.addresses != 1 else ''}"]
    parts.append("healthy" if d.healthy else f"STALE for {d.stale_for:.1f} s")
    if d.last_good_age is not None:
        parts.append(f"last good update {d.last_good_age:.1f} s ago")
    if d.failures or d.rejected_empty or d.rejected_malformed:
        parts.append(
            f"{d.failures} failures, {d.rejected_empty + d.rejected_malformed} updates rejected"
        )
    if not d.healthy and d.last_error:
        parts.append(f"last error: {d.last_error}")
    return ", ".join(parts)


def _retry_line(r: RetryStatistics) -> str:
    balance = "unlimited" if r.budget_balance is None else str(r.budget_balance)
    return (
        f"budget balance {balance}; {r.retries} retries, {r.requeues} requeues, "
        f"{r.hedges_won}/{r.hedges_sent} hedges won/sent, {r.budget_exhausted} refused"
    )


def _endpoint_table(endpoints: Sequence[EndpointStatistics]) -> list[str]:
    rows = [("endpoint", "status", "load", "estimate", "breaker", "ejections")]
    for e in endpoints:
        rows.append(
            (
                e.address,
                e.status,
                str(e.pending),
                _ms(e.estimate),
                e.breaker or "-",
                str(e.ejections),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [
            cell.ljust(widths[i]) if i in (0, 1, 4) else cell.rjust(widths[i])
            for i, cell in enumerate(row)
        ]
        lines.append("  ".join(cells).rstrip())
    return lines


def format_snapshot(snapshots: Sequence[ClientSnapshot] | None = None) -> str:
    """The snapshots (default: of every live client) as plain text."""
    snaps = snapshot() if snapshots is None else snapshots
    n = len(snaps)
    lines = [f"finpy: {n} live client{'s' if n != 1 else ''}"]
    for s in snaps:
        head = f"client {s.label!r} ({s.status})"
        if s.target != s.label:
            head += f": {s.target}"
        lines.append(f"{head}, {s.requests} request{'s' if s.requests != 1 else ''}")
        if not s.started:
            lines.append("  not started (resolves at its first request)")
            continue
        lines.append(f"  discovery   {_discovery_line(s)}")
        if s.retries is not None:
            lines.append(f"  retries     {_retry_line(s.retries)}")
        b = s.balancer
        if b is not None:
            panic = ", PANIC (picking among all)" if b.panic else ""
            lines.append(
                f"  balancer    {b.kind}, {b.endpoints} endpoints, {b.unhealthy} unhealthy{panic}"
            )
        es = s.endpoint_set
        if es is not None and es.draining:
            lines.append(f"  draining    {es.draining} removed endpoint(s) finishing requests")
        if s.endpoints:
            lines.extend("  " + line for line in _endpoint_table(s.endpoints))
        else:
            lines.append("  no endpoints")
    return "\n".join(lines) + "\n"


def dump(file: TextIO | None = None) -> None:
    """Print :func:`format_snapshot` of every live client (to stderr by default)."""
    out = sys.stderr if file is None else file
    out.write(format_snapshot())
    out.flush()
