"""``Target``: a parsed service name such as ``dns:///users.svc:50051``.

Targets follow gRPC's naming syntax, ``scheme://authority/endpoint``: the
scheme picks the resolver, the optional authority configures it (a DNS server,
a ZooKeeper ensemble) and the endpoint is the name to resolve.  A bare
``host:port[,host:port...]`` is shorthand for ``static:///host:port,...``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from finpy.errors import TargetError

__all__ = ["Target"]

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*$")


@dataclass(frozen=True, slots=True)
class Target:
    """A parsed target: ``scheme``, ``authority`` and ``endpoint``."""

    scheme: str
    authority: str
    endpoint: str
    raw: str

    @classmethod
    def parse(cls, text: str) -> Target:
        """Parse ``text``; raises :class:`~finpy.errors.TargetError` naming it."""
        if not isinstance(text, str):
            raise TargetError(f"target must be a string, got {text!r}")
        s = text.strip()
        if not s:
            raise TargetError("target is empty")
        if "://" not in s:
            return cls("static", "", s, text)
        scheme, _, rest = s.partition("://")
        if not _SCHEME.match(scheme):
            raise TargetError(f"invalid scheme {scheme!r} in target {text!r}")
        authority, slash, endpoint = rest.partition("/")
        if not slash:
            raise TargetError(f"target {text!r} needs a '/' before the name: '{scheme}:///{rest}'")
        if not endpoint:
            raise TargetError(f"target {text!r} names nothing to resolve")
        return cls(scheme.lower(), authority, endpoint, text)

    def __str__(self) -> str:
        return self.raw
