"""The JSON shape of an address, shared by the file and etcd resolvers.

An address is either a ``"host:port"`` string or an object::

    {"host": "10.0.0.1", "port": 50051, "weight": 2, "zone": "eu-1",
     "metadata": {"rack": "r7"}}

``weight`` (> 0, default 1), ``zone`` and ``metadata`` (string to string) are
optional.  Every error is a :class:`~finpy.resolver.guard.MalformedUpdateError`
naming the bad value and where it came from.
"""

from __future__ import annotations

import json
from typing import Any

from finpy.address import Address
from finpy.errors import ConfigurationError
from finpy.resolver.guard import MalformedUpdateError

__all__ = ["address_from_json", "address_to_json", "addresses_from_json_text"]

_KEYS = frozenset({"host", "port", "weight", "zone", "metadata"})


def address_from_json(value: Any, where: str) -> Address:
    """Turn a decoded JSON value into an :class:`Address`; errors name ``where``."""
    try:
        if isinstance(value, str):
            return Address.parse(value)
        if not isinstance(value, dict):
            raise MalformedUpdateError(f"{where}: expected 'host:port' or an object, got {value!r}")
        unknown = set(value) - _KEYS
        if unknown:
            raise MalformedUpdateError(f"{where}: unknown address field(s) {sorted(unknown)!r}")
        host, port = value.get("host"), value.get("port")
        if not isinstance(host, str):
            raise MalformedUpdateError(f"{where}: 'host' must be a string, got {host!r}")
        if isinstance(port, bool) or not isinstance(port, int):
            raise MalformedUpdateError(f"{where}: 'port' must be an integer, got {port!r}")
        weight = value.get("weight", 1.0)
        metadata = value.get("metadata") or {}
        if not isinstance(metadata, dict):
            raise MalformedUpdateError(f"{where}: 'metadata' must be an object, got {metadata!r}")
        metadata = dict(metadata)
        zone = value.get("zone")
        if zone is not None:
            if not isinstance(zone, str):
                raise MalformedUpdateError(f"{where}: 'zone' must be a string, got {zone!r}")
            metadata["zone"] = zone
        return Address(host, port, weight, metadata)
    except MalformedUpdateError:
        raise
    except ConfigurationError as e:
        raise MalformedUpdateError(f"{where}: {e}") from None


def address_to_json(address: Address) -> dict[str, Any]:
    """The JSON object for ``address`` (inverse of :func:`address_from_json`)."""
    out: dict[str, Any] = {"host": address.host, "port": address.port}
    if address.weight != 1.0:
        out["weight"] = address.weight
    md = dict(address.metadata)
    zone = md.pop("zone", None)
    if zone is not None:
        out["zone"] = zone
    if md:
        out["metadata"] = md
    return out


def addresses_from_json_text(text: str, where: str) -> list[Address]:
    """Parse a JSON list of addresses (or ``{"addresses": [...]}``); no duplicates."""
    try:
        doc = json.loads(text)
    except ValueError as e:
        raise MalformedUpdateError(f"{where}: invalid JSON: {e}") from None
    if isinstance(doc, dict) and set(doc) == {"addresses"}:
        doc = doc["addresses"]
    if not isinstance(doc, list):
        raise MalformedUpdateError(
            f'{where}: expected a JSON list of addresses or {{"addresses": [...]}}, '
            f"got {type(doc).__name__}"
        )
    out: list[Address] = []
    seen: set[tuple[str, int]] = set()
    for i, item in enumerate(doc):
        addr = address_from_json(item, f"{where}[{i}]")
        if addr.key in seen:
            raise MalformedUpdateError(f"{where}[{i}]: address {addr.authority} appears twice")
        seen.add(addr.key)
        out.append(addr)
    return out
