"""Finagle's serverset member format: the JSON in a ZooKeeper member node.

A serverset is a ZooKeeper path whose ephemeral children (``member_0000000042``)
each describe one running server::

    {"serviceEndpoint": {"host": "10.0.0.1", "port": 31337},
     "additionalEndpoints": {"admin": {"host": "10.0.0.1", "port": 9990}},
     "status": "ALIVE",
     "shard": 0,
     "metadata": {"zone": "eu-1"}}

Only ``ALIVE`` members receive traffic (the other statuses, ``STARTING``,
``STOPPING``, ``DEAD``, ... are known but skipped).  A resolver may ask for a
named additional endpoint instead of the service endpoint; members without it
are skipped.  ``shard`` and ``metadata`` end up in the address metadata.

Decoding is strict: any member that is not valid JSON of this shape raises a
:class:`~finpy.resolver.guard.MalformedUpdateError` that names the member and
the bad value, so the resolver can reject the whole update and keep the last
good set.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from finpy.address import Address
from finpy.errors import ConfigurationError
from finpy.resolver.guard import MalformedUpdateError

__all__ = [
    "STATUSES",
    "Member",
    "decode_member",
    "encode_member",
    "serverset_addresses",
]

STATUSES = frozenset({"DEAD", "STARTING", "ALIVE", "STOPPING", "STOPPED", "WARNING", "UNKNOWN"})


@dataclass(frozen=True, slots=True)
class Member:
    """One decoded serverset member."""

    service_endpoint: tuple[str, int]
    additional_endpoints: Mapping[str, tuple[str, int]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    status: str = "ALIVE"
    shard: int | None = None
    metadata: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def address(self, endpoint: str | None = None) -> Address | None:
        """The address to dial (``None``: not ALIVE, or no such named endpoint)."""
        if self.status != "ALIVE":
            return None
        hp = self.service_endpoint if endpoint is None else self.additional_endpoints.get(endpoint)
        if hp is None:
            return None
        md = dict(self.metadata)
        if self.shard is not None:
            md["shard"] = str(self.shard)
        return Address(hp[0], hp[1], metadata=md)


def _endpoint(value: Any, where: str) -> tuple[str, int]:
    if not isinstance(value, dict):
        raise MalformedUpdateError(f"{where}: expected {{'host': ..., 'port': ...}}, got {value!r}")
    host, port = value.get("host"), value.get("port")
    if not isinstance(host, str) or not host:
        raise MalformedUpdateError(f"{where}: invalid host {host!r}")
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise MalformedUpdateError(f"{where}: invalid port {port!r}")
    return host, port


def decode_member(data: bytes | str, where: str = "member") -> Member:
    """Decode one member node's data; errors name ``where`` and the bad value."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        doc = json.loads(text)
    except (UnicodeDecodeError, ValueError) as e:
        raise MalformedUpdateError(f"{where}: not JSON ({e}): {data[:80]!r}") from None
    if not isinstance(doc, dict):
        raise MalformedUpdateError(f"{where}: expected a JSON object, got {doc!r:.80}")
    service = _endpoint(doc.get("serviceEndpoint"), f"{where}.serviceEndpoint")
    extra_doc = doc.get("additionalEndpoints") or {}
    if not isinstance(extra_doc, dict):
        raise MalformedUpdateError(f"{where}.additionalEndpoints: expected an object")
    extra = {str(k): _endpoint(v, f"{where}.additionalEndpoints.{k}") for k, v in extra_doc.items()}
    status = doc.get("status", "ALIVE")
    if status not in STATUSES:
        raise MalformedUpdateError(
            f"{where}: unknown status {status!r} (one of {', '.join(sorted(STATUSES))})"
        )
    shard = doc.get("shard")
    if shard is not None and (isinstance(shard, bool) or not isinstance(shard, int)):
        raise MalformedUpdateError(f"{where}: shard must be an integer, got {shard!r}")
    metadata = doc.get("metadata") or {}
    if not isinstance(metadata, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        raise MalformedUpdateError(f"{where}: metadata must map strings to strings")
    return Member(service, MappingProxyType(extra), status, shard, MappingProxyType(metadata))


def encode_member(
    address: Address | tuple[str, int],
    *,
    additional: Mapping[str, Address | tuple[str, int]] | None = None,
    status: str = "ALIVE",
    shard: int | None = None,
    metadata: Mapping[str, str] | None = None,
) -> bytes:
    """The member JSON for a server at ``address`` (what :func:`decode_member` reads)."""
    if status not in STATUSES:
        raise ConfigurationError(f"unknown serverset status {status!r}")

    def ep(a: Address | tuple[str, int]) -> dict[str, Any]:
        host, port = (a.host, a.port) if isinstance(a, Address) else a
        return {"host": host, "port": port}

    doc: dict[str, Any] = {
        "serviceEndpoint": ep(address),
        "additionalEndpoints": {k: ep(v) for k, v in (additional or {}).items()},
        "status": status,
    }
    if shard is not None:
        doc["shard"] = shard
    md = dict(metadata or {})
    if isinstance(address, Address):
        md = {**dict(address.metadata), **md}
    if md:
        doc["metadata"] = md
    return json.dumps(doc, sort_keys=True).encode()


def serverset_addresses(members: Mapping[str, bytes], endpoint: str | None = None) -> list[Address]:
    """The addresses of ALIVE ``members`` (node name -> data), all-or-nothing.

    Raises :class:`MalformedUpdateError` listing every bad member if any is bad.
    """
    problems: list[str] = []
    out: dict[tuple[str, int], Address] = {}
    for name in sorted(members):
        try:
            addr = decode_member(members[name], name).address(endpoint)
        except MalformedUpdateError as e:
            problems.append(str(e))
            continue
        except ConfigurationError as e:  # e.g. an Address the codec let through
            problems.append(f"{name}: {e}")
            continue
        if addr is not None:
            out.setdefault(addr.key, addr)
    if problems:
        raise MalformedUpdateError(
            f"rejected serverset update: {'; '.join(problems)}", problems=problems
        )
    return list(out.values())
