"""The SRV resolver: ``srv:///_grpc._tcp.users.example.com``.

One SRV query gives ``priority weight port target`` records; each target is
then resolved to its A/AAAA addresses (:mod:`finpy.resolver.dns`).

* **Priorities are failover tiers**: the lowest priority number whose targets
  resolve to at least one address is the live set; a tier whose targets are
  all gone (NXDOMAIN, no address) fails over to the next one.  With
  ``all_tiers=True`` every tier is published instead, each address carrying its
  ``priority`` in its metadata, for a priority-aware balancer or router.
* **Weights are address weights**: an SRV weight is shared by the addresses of
  its target.  Weight 0 means "only if nothing else" (RFC 2782): such a record
  gets 1/100 of the smallest positive weight of its tier, or 1 if all are 0.
* A single target of ``.`` means the service is decidedly not available:
  ``Negative``.
* A target whose lookup *failed* (timeout, refused) fails the whole update:
  publishing the rest would drop that target's addresses because of a
  discovery problem.

``srv://127.0.0.1:5353/_grpc._tcp.name`` asks that nameserver; the refresh
follows the smallest TTL of the SRV and address records, clamped like DNS.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from finpy.address import Address
from finpy.clock import SYSTEM_CLOCK, Clock
from finpy.errors import ConfigurationError, TargetError
from finpy.resolver.background import Backoff, background_resolution
from finpy.resolver.dns import (
    DnsQuery,
    _refresh_delay,
    dnspython_query,
    nameserver_of,
)
from finpy.resolver.guard import MalformedUpdateError
from finpy.resolver.resolution import Resolution
from finpy.resolver.state import Bound, Failed, Negative, ResolutionState
from finpy.resolver.target import Target

__all__ = ["SrvRecord", "SrvResolver", "parse_srv", "srv_addresses"]


@dataclass(frozen=True, slots=True)
class SrvRecord:
    """One SRV record: ``priority weight port target``."""

    priority: int
    weight: int
    port: int
    target: str


def parse_srv(text: str) -> SrvRecord:
    """Parse the presentation form ``"10 60 5060 host.example.com."``."""
    parts = text.split()
    if len(parts) != 4 or not all(p.isdigit() for p in parts[:3]):
        raise MalformedUpdateError(f"invalid SRV record {text!r}")
    prio, weight, port = (int(p) for p in parts[:3])
    if prio > 65535 or weight > 65535 or not 0 <= port <= 65535:
        raise MalformedUpdateError(f"SRV record out of range: {text!r}")
    target = parts[3].rstrip(".") or "."
    return SrvRecord(prio, weight, port, target)


def _weights(records: Sequence[SrvRecord]) -> dict[SrvRecord, float]:
    positive = [r.weight for r in records if r.weight > 0]
    zero_weight = min(positive) / 100.0 if positive else 1.0
    return {r: float(r.weight) if r.weight > 0 else zero_weight for r in records}


def srv_addresses(
    records: Sequence[SrvRecord],
    targets: Mapping[str, tuple[str, ...]],
    *,
    all_tiers: bool = False,
) -> list[Address]:
    """The addresses of ``records`` given each target's IPs (the pure part).

    Returns the lowest tier with any address (or every tier with ``all_tiers``).
    """
    tiers: dict[int, list[SrvRecord]] = {}
    for r in records:
        if r.target != "." and r.port > 0:
            tiers.setdefault(r.priority, []).append(r)
    out: list[Address] = []
    for prio in sorted(tiers):
        tier = tiers[prio]
        weights = _weights(tier)
        tier_addresses: dict[tuple[str, int], Address] = {}
        for r in tier:
            ips = targets.get(r.target, ())
            for ip in ips:
                key = (ip, r.port)
                share = weights[r] / len(ips)
                old = tier_addresses.get(key)
                if old is not None:  # two records for one address: add their shares
                    share += old.weight
                tier_addresses[key] = Address(
                    ip,
                    r.port,
                    share,
                    {"priority": str(prio), "srv_target": r.target},
                )
        if tier_addresses:
            out.extend(tier_addresses.values())
            if not all_tiers:
                break
    return out


class SrvResolver:
    """Resolves ``srv:///_service._proto.name`` through SRV then A/AAAA records."""

    scheme = "srv"

    def __init__(
        self,
        *,
        min_ttl: float = 1.0,
        max_ttl: float = 300.0,
        negative_refresh: float = 5.0,
        all_tiers: bool = False,
        families: Sequence[str] = ("A", "AAAA"),
        timeout: float = 2.0,
        lifetime: float = 5.0,
        query: DnsQuery | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        if not 0 < min_ttl <= max_ttl:
            raise ConfigurationError(
                f"SRV TTL bounds must satisfy 0 < min_ttl <= max_ttl, got {min_ttl!r}, {max_ttl!r}"
            )
        if negative_refresh <= 0:
            raise ConfigurationError(f"negative_refresh must be > 0, got {negative_refresh!r}")
        self.min_ttl, self.max_ttl = float(min_ttl), float(max_ttl)
        self.negative_refresh = float(negative_refresh)
        self.all_tiers = all_tiers
        self.families = tuple(families)
        self._timeout, self._lifetime = timeout, lifetime
        self._query = query
        self._clock = clock

    def validate(self, target: Target) -> None:
        nameserver_of(target)
        name = target.endpoint.rstrip(".")
        if ":" in name or "/" in name or not name or any(not p for p in name.split(".")):
            raise TargetError(
                f"invalid SRV name {target.endpoint!r} in {target.raw!r}: "
                "expected 'srv:///_service._proto.domain' (no port: SRV records carry it)"
            )

    async def _lookup(self, query: DnsQuery, name: str) -> tuple[ResolutionState, float | None]:
        srv = await query(name, "SRV")
        if srv.error is not None:
            return Failed(srv.error), None
        if srv.nxdomain:
            return Negative(f"{name}: NXDOMAIN"), None
        try:
            records = [parse_srv(t) for t in srv.records]
        except MalformedUpdateError as e:
            return Failed(e), None
        if len(records) == 1 and records[0].target == ".":
            return Negative(f"{name}: service decidedly not available (SRV target '.')"), None
        names = sorted({r.target for r in records if r.target != "."})
        results = await asyncio.gather(
            *(asyncio.gather(*(query(n, f) for f in self.families)) for n in names)
        )
        ttls: list[float] = [srv.ttl] if srv.ttl is not None else []
        targets: dict[str, tuple[str, ...]] = {}
        for n, lookups in zip(names, results, strict=True):
            errors = [lk.error for lk in lookups if lk.error is not None]
            if errors:
                return Failed(errors[0]), None
            targets[n] = tuple(ip for lk in lookups for ip in lk.records)
            ttls.extend(lk.ttl for lk in lookups if lk.records and lk.ttl is not None)
        addresses = srv_addresses(records, targets, all_tiers=self.all_tiers)
        return Bound(addresses), min(ttls) if ttls else None

    def resolve(self, target: Target) -> Resolution:
        self.validate(target)
        name = target.endpoint.rstrip(".")
        query = self._query or dnspython_query(
            nameserver_of(target), timeout=self._timeout, lifetime=self._lifetime
        )

        async def refresh_loop(res: Resolution) -> None:
            backoff = Backoff(0.5, 30.0)
            while True:
                state, ttl = await self._lookup(query, name)
                res.publish(state)
                delay = _refresh_delay(
                    state, ttl, backoff, self.min_ttl, self.max_ttl, self.negative_refresh
                )
                await self._clock.sleep(delay)

        return background_resolution(target.raw, refresh_loop, clock=self._clock)

    def __repr__(self) -> str:
        return f"SrvResolver(all_tiers={self.all_tiers})"
