"""The Consul resolver: passing instances of a service, through blocking queries.

Target: ``consul://127.0.0.1:8500/users`` (the authority is the agent,
default ``127.0.0.1:8500``), with options ``?tag=primary&dc=eu1``.

It asks ``/v1/health/service/<name>?passing=1`` and then *blocks* on it
(``index=<X-Consul-Index>&wait=<wait>``), so changes arrive as soon as
Consul sees them with one open request per service.  Following Consul's
rules for blocking queries: an index that goes backwards resets the index to
0 (a fresh, non-blocking read), an index below 1 is treated as 1, and errors
back off (jittered) instead of hammering the agent.  Only instances whose
every check passes are used (checked again on our side).  The instance's
``Service.Address`` is dialled (the node's address if empty), its passing
weight becomes the address weight, and ``Service.Meta["zone"]`` (or the
datacenter) its zone.

Consul cannot run in finpy's CI: the tests use a protocol fake
(``finpy.testing.servers.FakeConsul``) with Consul's blocking-index semantics.
Needs httpx (``pip install 'finpy[consul]'``).
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import parse_qs

import httpx

from finpy.address import Address
from finpy.clock import SYSTEM_CLOCK, Clock
from finpy.errors import ConfigurationError, TargetError
from finpy.resolver.background import Backoff, background_resolution
from finpy.resolver.guard import MalformedUpdateError
from finpy.resolver.resolution import Resolution
from finpy.resolver.state import Bound, Failed
from finpy.resolver.target import Target

__all__ = ["ConsulResolver", "consul_addresses", "next_index", "parse_consul_target"]


def parse_consul_target(target: Target) -> tuple[str, str, dict[str, str]]:
    """``(agent host:port, service, options)`` of ``consul://agent/service?tag=&dc=``."""
    agent = target.authority or "127.0.0.1:8500"
    try:
        Address.parse(agent)
    except ConfigurationError as e:
        raise TargetError(f"invalid Consul agent in {target.raw!r}: {e}") from None
    service, _, query = target.endpoint.partition("?")
    if not service or "/" in service:
        raise TargetError(f"invalid Consul service name {service!r} in {target.raw!r}")
    options = {k: v[0] for k, v in parse_qs(query).items()}
    unknown = set(options) - {"tag", "dc"}
    if unknown:
        raise TargetError(f"unknown consul target option(s) {sorted(unknown)!r} in {target.raw!r}")
    return agent, service, options


def next_index(previous: int, header: str | None) -> int:
    """The index for the next blocking query, by Consul's rules."""
    try:
        index = int(header or "")
    except ValueError:
        raise MalformedUpdateError(f"invalid X-Consul-Index {header!r}") from None
    if index < previous:
        return 0  # went backwards: start over with a non-blocking read
    return max(index, 1)


def consul_addresses(entries: Any, service: str) -> list[Address]:
    """Addresses of the passing instances in a ``/v1/health/service`` answer."""
    if not isinstance(entries, list):
        raise MalformedUpdateError(f"consul {service}: expected a JSON list, got {entries!r:.80}")
    out: dict[tuple[str, int], Address] = {}
    for i, entry in enumerate(entries):
        where = f"consul {service}[{i}]"
        try:
            svc, node = entry["Service"], entry.get("Node") or {}
            checks = entry.get("Checks") or []
            if any(c.get("Status") != "passing" for c in checks):
                continue
            host: str = svc.get("Address") or node.get("Address") or ""
            port = svc["Port"]
            weights = svc.get("Weights") or {}
            weight = weights.get("Passing", 1) or 1
            meta = {str(k): str(v) for k, v in (svc.get("Meta") or {}).items()}
            zone = meta.get("zone") or node.get("Datacenter")
            md = {**meta, "node": str(node.get("Node", "")), "id": str(svc.get("ID", ""))}
            if zone:
                md["zone"] = str(zone)
            addr = Address(host, port, float(weight), md)
        except (KeyError, TypeError, AttributeError) as e:
            raise MalformedUpdateError(f"{where}: missing or bad field {e}") from None
        except ConfigurationError as e:
            raise MalformedUpdateError(f"{where}: {e}") from None
        out.setdefault(addr.key, addr)
    return list(out.values())


class ConsulResolver:
    """Resolves ``consul://agent/service`` to its passing instances (blocking queries).

    Args:
        wait: how long one blocking query may wait (seconds; Consul caps it at 600).
        token: an ACL token (default: ``$CONSUL_HTTP_TOKEN``); sent as a header, never logged.
        https: talk to the agent over TLS.
        transport: an httpx transport (tests, proxies).
    """

    scheme = "consul"

    def __init__(
        self,
        *,
        wait: float = 55.0,
        token: str | None = None,
        https: bool = False,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        if not 0 < wait <= 600:
            raise ConfigurationError(f"consul wait must be in (0, 600] seconds, got {wait!r}")
        self.wait = float(wait)
        self._token = token if token is not None else os.environ.get("CONSUL_HTTP_TOKEN")
        self.https = https
        self._transport = transport
        self._clock = clock

    def validate(self, target: Target) -> None:
        parse_consul_target(target)

    def resolve(self, target: Target) -> Resolution:
        agent, service, options = parse_consul_target(target)
        headers = {"X-Consul-Token": self._token} if self._token else {}
        http = httpx.AsyncClient(
            base_url=f"{'https' if self.https else 'http'}://{agent}",
            headers=headers,
            timeout=httpx.Timeout(10.0, read=self.wait + 15.0),
            transport=self._transport,
        )

        async def follow(res: Resolution) -> None:
            index = 0
            backoff = Backoff(0.5, 30.0)
            while True:
                params: dict[str, str] = {"passing": "1", **options}
                if index > 0:
                    params |= {"index": str(index), "wait": f"{int(self.wait * 1000)}ms"}
                try:
                    r = await http.get(f"/v1/health/service/{service}", params=params)
                    if r.status_code != 200:
                        raise ConnectionError(
                            f"consul answered HTTP {r.status_code}: {r.text[:200]}"
                        )
                    index = next_index(index, r.headers.get("X-Consul-Index"))
                    res.publish(Bound(consul_addresses(r.json(), service)))
                    backoff.reset()
                except MalformedUpdateError as e:
                    res.publish(Failed(e))
                    index = 0
                    await self._clock.sleep(backoff.next())
                except (httpx.HTTPError, ConnectionError, ValueError) as e:
                    res.publish(Failed(e))
                    await self._clock.sleep(backoff.next())

        return background_resolution(target.raw, follow, clock=self._clock, cleanup=http.aclose)

    def __repr__(self) -> str:
        return f"ConsulResolver(wait={self.wait})"
