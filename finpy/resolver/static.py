"""The static resolver: a fixed list of addresses written in the target.

``static:///10.0.0.1:50051,10.0.0.2:50051`` or simply
``10.0.0.1:50051,10.0.0.2:50051``.  An address may carry a weight and a zone:
``static:///10.0.0.1:50051;weight=2;zone=eu-1,10.0.0.2:50051``.
"""

from __future__ import annotations

from finpy.address import Address
from finpy.errors import ConfigurationError, TargetError
from finpy.resolver.resolution import Resolution
from finpy.resolver.state import Bound
from finpy.resolver.target import Target

__all__ = ["StaticResolver", "parse_address_list"]


def parse_address_list(text: str) -> list[Address]:
    """Parse ``host:port[;weight=W][;zone=Z][;k=v],...``; errors name the bad item."""
    addresses: list[Address] = []
    seen: set[tuple[str, int]] = set()
    for item in text.split(","):
        item = item.strip()
        if not item:
            raise ConfigurationError(f"empty address in list {text!r}")
        hostport, *attrs = item.split(";")
        weight = 1.0
        metadata: dict[str, str] = {}
        for attr in attrs:
            k, eq, v = attr.partition("=")
            if not eq or not k:
                raise ConfigurationError(
                    f"invalid attribute {attr!r} of address {item!r} (want key=value)"
                )
            if k == "weight":
                try:
                    weight = float(v)
                except ValueError:
                    raise ConfigurationError(f"invalid weight {v!r} of address {item!r}") from None
            else:
                metadata[k] = v
        addr = Address.parse(hostport, weight=weight, metadata=metadata)
        if addr.key in seen:
            raise ConfigurationError(f"address {addr.authority} appears twice in {text!r}")
        seen.add(addr.key)
        addresses.append(addr)
    return addresses


class StaticResolver:
    """Resolves ``static:///a:1,b:2`` to exactly those addresses, once."""

    scheme = "static"

    def validate(self, target: Target) -> None:
        if target.authority:
            raise TargetError(
                f"static targets take no authority: {target.raw!r} (use 'static:///host:port')"
            )
        try:
            parse_address_list(target.endpoint)
        except ConfigurationError as e:
            raise TargetError(f"invalid static target {target.raw!r}: {e}") from None

    def resolve(self, target: Target) -> Resolution:
        self.validate(target)
        return Resolution(Bound(parse_address_list(target.endpoint)), target=target.raw)

    def __repr__(self) -> str:
        return "StaticResolver()"
