"""The DNS resolver: ``dns:///users.svc:50051`` through dnspython's async resolver.

Targets follow gRPC's syntax:

* ``dns:///host:port`` — the system's nameservers (``/etc/resolv.conf``);
* ``dns://127.0.0.1:5353/host:port`` — ask that nameserver (an IP, port 53
  unless given);
* the port defaults to 443 as in gRPC; an IP literal host needs no lookup.

A and AAAA are queried together and the answer is refreshed when its TTL runs
out, the TTL clamped to ``[min_ttl, max_ttl]`` (default ``[1 s, 5 min]``:
a zero TTL must not turn into a query storm, an hour-long one must not pin a
dead address).  What the answers mean:

* addresses in either family: ``Bound``;
* NXDOMAIN for both: ``Negative`` (the guard keeps a last good set);
* the name exists but has no address: ``Bound([])`` (suspect, kept out);
* timeouts, refused queries, unreachable nameservers: ``Failed``, retried with
  jittered exponential backoff; the client keeps its last known good set.

The pure part (:func:`combine`, :func:`clamp_ttl`) is separate from the
queries, which go through a :class:`DnsQuery` callable (dnspython by default).
"""

from __future__ import annotations

import asyncio
import ipaddress
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import dns.asyncresolver
import dns.exception
import dns.resolver

from finpy.address import Address
from finpy.clock import SYSTEM_CLOCK, Clock
from finpy.errors import ConfigurationError, TargetError
from finpy.resolver.background import Backoff, background_resolution
from finpy.resolver.resolution import Resolution
from finpy.resolver.state import Bound, Failed, Negative, ResolutionState
from finpy.resolver.target import Target

__all__ = [
    "DEFAULT_PORT",
    "DnsQuery",
    "DnsResolver",
    "Lookup",
    "clamp_ttl",
    "combine",
    "dnspython_query",
    "nameserver_of",
]

DEFAULT_PORT = 443


@dataclass(frozen=True, slots=True)
class Lookup:
    """The outcome of one DNS query: records, NXDOMAIN, no answer, or an error."""

    records: tuple[str, ...] = ()
    ttl: float | None = None
    nxdomain: bool = False
    error: BaseException | None = None


DnsQuery = Callable[[str, str], Awaitable[Lookup]]
"""``await query(name, rdtype)`` -> :class:`Lookup` (rdtype: ``"A"``, ``"AAAA"``, ``"SRV"``)."""


def clamp_ttl(ttl: float | None, min_ttl: float, max_ttl: float) -> float:
    """The refresh delay for a record ``ttl`` (``None``: ``min_ttl``)."""
    if ttl is None or not math.isfinite(ttl):
        return min_ttl
    return min(max(float(ttl), min_ttl), max_ttl)


def combine(
    host: str, port: int, lookups: Sequence[Lookup]
) -> tuple[ResolutionState, float | None]:
    """Turn the A/AAAA lookups of ``host`` into a state and the smallest TTL seen."""
    addresses: list[Address] = []
    seen: set[str] = set()
    ttls = [lk.ttl for lk in lookups if lk.records and lk.ttl is not None]
    for lk in lookups:
        for ip in lk.records:
            if ip not in seen:
                seen.add(ip)
                addresses.append(Address(ip, port, metadata={"hostname": host}))
    if addresses:
        return Bound(addresses), min(ttls) if ttls else None
    errors = [lk.error for lk in lookups if lk.error is not None]
    if errors:
        return Failed(errors[0]), None
    if lookups and all(lk.nxdomain for lk in lookups):
        return Negative(f"{host}: NXDOMAIN"), None
    return Bound([]), None


def nameserver_of(target: Target) -> tuple[str, int] | None:
    """The nameserver in a target's authority (``None``: the system's)."""
    if not target.authority:
        return None
    auth = target.authority
    try:
        if auth.startswith("["):
            addr = Address.parse(auth if "]:" in auth else f"{auth}:53")
        else:
            addr = Address.parse(auth if ":" in auth else f"{auth}:53")
        ipaddress.ip_address(addr.host)
    except (ConfigurationError, ValueError):
        raise TargetError(
            f"invalid DNS server {auth!r} in {target.raw!r}: expected an IP address "
            "with an optional port, e.g. 'dns://127.0.0.1:5353/host:port'"
        ) from None
    return addr.host, addr.port


def host_port_of(target: Target, default_port: int = DEFAULT_PORT) -> tuple[str, int]:
    """The host and port a ``dns:`` target names; errors name the bad part."""
    text = target.endpoint
    try:
        bracketed = text.startswith("[")
        if (bracketed and "]:" not in text) or (not bracketed and ":" not in text):
            text = f"{text}:{default_port}"
        addr = Address.parse(text)
    except ConfigurationError as e:
        raise TargetError(f"invalid DNS target {target.raw!r}: {e}") from None
    host = addr.host.rstrip(".")
    if not host or len(host) > 253 or any(not label for label in host.split(".")):
        raise TargetError(f"invalid host name {addr.host!r} in DNS target {target.raw!r}")
    return host, addr.port


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def dnspython_query(
    nameserver: tuple[str, int] | None, *, timeout: float = 2.0, lifetime: float = 5.0
) -> DnsQuery:
    """A :data:`DnsQuery` through ``dns.asyncresolver`` (the system's or ``nameserver``)."""
    resolver = dns.asyncresolver.Resolver(configure=nameserver is None)
    if nameserver is not None:
        resolver.nameservers = [nameserver[0]]
        resolver.port = nameserver[1]
    resolver.timeout = timeout
    resolver.lifetime = lifetime

    async def query(name: str, rdtype: str) -> Lookup:
        try:
            answer = await resolver.resolve(name, rdtype, raise_on_no_answer=False, search=False)
        except dns.resolver.NXDOMAIN:
            return Lookup(nxdomain=True)
        except dns.exception.DNSException as e:
            return Lookup(error=e)
        rrset = answer.rrset
        if rrset is None:
            return Lookup()
        return Lookup(tuple(r.to_text() for r in rrset), ttl=float(rrset.ttl))

    return query


def _refresh_delay(
    state: ResolutionState,
    ttl: float | None,
    backoff: Backoff,
    min_ttl: float,
    max_ttl: float,
    negative_refresh: float,
) -> float:
    """How long a DNS or SRV refresh loop sleeps after publishing ``state``.

    ``Failed``: the next ``backoff`` delay.  Otherwise ``backoff`` is reset and
    the delay is the record ``ttl`` if ``state`` is ``Bound`` with addresses,
    else ``negative_refresh``, clamped to ``[min_ttl, max_ttl]``.
    """
    if isinstance(state, Failed):
        return backoff.next()
    backoff.reset()
    good = isinstance(state, Bound) and state.addresses
    return clamp_ttl(ttl if good else negative_refresh, min_ttl, max_ttl)


def _check_bounds(min_ttl: float, max_ttl: float) -> None:
    for name, v in (("min_ttl", min_ttl), ("max_ttl", max_ttl)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
            raise ConfigurationError(f"DNS {name} must be a positive number, got {v!r}")
    if max_ttl < min_ttl:
        raise ConfigurationError(f"DNS max_ttl {max_ttl!r} is below min_ttl {min_ttl!r}")


class DnsResolver:
    """Resolves ``dns:///host:port`` to its A and AAAA records, refreshed on TTL.

    Args:
        min_ttl, max_ttl: the clamp applied to record TTLs (seconds).
        negative_refresh: how soon to ask again after NXDOMAIN or an empty answer.
        families: which record types to ask for.
        timeout, lifetime: dnspython's per-try and total query timeouts.
        query: replaces dnspython (a :data:`DnsQuery`) — for tests and custom stacks.
        clock: time source of the refresh loop.
    """

    scheme = "dns"

    def __init__(
        self,
        *,
        min_ttl: float = 1.0,
        max_ttl: float = 300.0,
        negative_refresh: float = 5.0,
        families: Sequence[str] = ("A", "AAAA"),
        timeout: float = 2.0,
        lifetime: float = 5.0,
        query: DnsQuery | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        _check_bounds(min_ttl, max_ttl)
        fams = tuple(families)
        if not fams or any(f not in ("A", "AAAA") for f in fams):
            raise ConfigurationError(f"DNS families must be among 'A', 'AAAA', got {families!r}")
        if not isinstance(negative_refresh, (int, float)) or negative_refresh <= 0:
            raise ConfigurationError(f"negative_refresh must be > 0, got {negative_refresh!r}")
        self.min_ttl, self.max_ttl = float(min_ttl), float(max_ttl)
        self.negative_refresh = float(negative_refresh)
        self.families = fams
        self._timeout, self._lifetime = timeout, lifetime
        self._query = query
        self._clock = clock

    def validate(self, target: Target) -> None:
        nameserver_of(target)
        host_port_of(target)

    def _make_query(self, target: Target) -> DnsQuery:
        if self._query is not None:
            return self._query
        return dnspython_query(
            nameserver_of(target), timeout=self._timeout, lifetime=self._lifetime
        )

    def resolve(self, target: Target) -> Resolution:
        host, port = host_port_of(target)
        if _is_ip(host):
            return Resolution(Bound([Address(host, port)]), target=target.raw)
        if host == "localhost" and nameserver_of(target) is None:
            return Resolution(Bound([Address("127.0.0.1", port)]), target=target.raw)
        query = self._make_query(target)

        async def refresh_loop(res: Resolution) -> None:
            backoff = Backoff(0.5, 30.0)
            while True:
                lookups = await asyncio.gather(*(query(host, f) for f in self.families))
                state, ttl = combine(host, port, lookups)
                res.publish(state)
                delay = _refresh_delay(
                    state, ttl, backoff, self.min_ttl, self.max_ttl, self.negative_refresh
                )
                await self._clock.sleep(delay)

        return background_resolution(target.raw, refresh_loop, clock=self._clock)

    def __repr__(self) -> str:
        return f"DnsResolver(ttl=[{self.min_ttl}, {self.max_ttl}], families={self.families})"
