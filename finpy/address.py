"""``Address``: where one endpoint of a service can be reached.

An address is a host and a port plus what discovery knows about it: a
``weight`` (relative share of traffic, > 0) and free-form ``metadata`` such as
the ``zone``.  Two addresses with the same host and port are the same
endpoint (:attr:`Address.key`) even if their weight or metadata changed; the
endpoint set uses that to keep per-endpoint state across updates.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from finpy.errors import ConfigurationError

__all__ = ["Address"]

_EMPTY: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Address:
    """A reachable endpoint: ``host``, ``port``, ``weight`` and ``metadata``."""

    host: str
    port: int
    weight: float = 1.0
    metadata: Mapping[str, str] = field(default_factory=lambda: _EMPTY, hash=False)

    def __post_init__(self) -> None:
        if not isinstance(self.host, str) or not self.host or any(c.isspace() for c in self.host):
            raise ConfigurationError(f"invalid host in address: {self.host!r}")
        if self.host.startswith("[") or self.host.endswith("]"):
            raise ConfigurationError(f"host must be given without brackets: {self.host!r}")
        if ":" in self.host:  # only an IPv6 literal may contain ':' (else 'h:1' as a host)
            try:
                ipaddress.IPv6Address(self.host)
            except ValueError:
                raise ConfigurationError(f"invalid IPv6 host in address: {self.host!r}") from None
        if (
            isinstance(self.port, bool)
            or not isinstance(self.port, int)
            or not 0 < self.port < 65536
        ):
            raise ConfigurationError(
                f"invalid port for host {self.host!r}: {self.port!r} (1..65535)"
            )
        w = self.weight
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w) or w <= 0:
            raise ConfigurationError(
                f"invalid weight for {self.host}:{self.port}: {w!r} (must be > 0)"
            )
        if self.metadata is not _EMPTY:
            md = dict(self.metadata)
            for k, v in md.items():
                if not isinstance(k, str) or not isinstance(v, str):
                    raise ConfigurationError(
                        f"address metadata must map str to str, got {k!r}: {v!r}"
                    )
            object.__setattr__(self, "metadata", MappingProxyType(md))

    @classmethod
    def parse(
        cls, text: str, *, weight: float = 1.0, metadata: Mapping[str, str] | None = None
    ) -> Address:
        """Parse ``host:port`` or ``[ipv6]:port``; the error names the bad text."""
        if not isinstance(text, str):
            raise ConfigurationError(f"address must be a 'host:port' string, got {text!r}")
        s = text.strip()
        if s.startswith("["):
            end = s.find("]")
            if end < 0 or s[end + 1 : end + 2] != ":":
                raise ConfigurationError(f"invalid address {text!r}: expected '[ipv6]:port'")
            host, port_text = s[1:end], s[end + 2 :]
            try:
                ipaddress.IPv6Address(host)
            except ValueError:
                raise ConfigurationError(f"invalid IPv6 address in {text!r}") from None
        else:
            host, sep, port_text = s.rpartition(":")
            if not sep or not host:
                raise ConfigurationError(f"invalid address {text!r}: expected 'host:port'")
            if ":" in host:
                raise ConfigurationError(
                    f"invalid address {text!r}: IPv6 hosts need brackets, '[{host}]:port'"
                )
        if not (port_text.isascii() and port_text.isdigit()):  # not '²' or Arabic-Indic digits
            raise ConfigurationError(f"invalid port in address {text!r}: {port_text!r}")
        return cls(host, int(port_text), weight, metadata if metadata is not None else _EMPTY)

    @property
    def key(self) -> tuple[str, int]:
        """Identity of the endpoint: ``(host, port)``."""
        return (self.host, self.port)

    @property
    def authority(self) -> str:
        """``host:port`` (IPv6 hosts in brackets), as dialled."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def zone(self) -> str | None:
        """The ``zone`` metadata, if discovery gave one."""
        return self.metadata.get("zone")

    def __eq__(self, other: Any) -> bool:
        if not isinstance(other, Address):
            return NotImplemented
        return (
            self.host == other.host
            and self.port == other.port
            and self.weight == other.weight
            and dict(self.metadata) == dict(other.metadata)
        )

    def __hash__(self) -> int:
        return hash((self.host, self.port, self.weight))

    def __str__(self) -> str:
        return self.authority

    def __repr__(self) -> str:
        extra = "" if self.weight == 1.0 else f", weight={self.weight!r}"
        if self.metadata:
            extra += f", metadata={dict(self.metadata)!r}"
        return f"Address({self.authority!r}{extra})"
