"""The file resolver: ``file:///etc/finpy/users.addrs``, reloaded on change.

The file holds the addresses of one service, in either of two formats:

* plain lines, one address per line in the static syntax, ``#`` comments::

      10.0.0.1:50051
      10.0.0.2:50051;weight=2;zone=eu-1

* JSON (the file starts with ``[`` or ``{``): a list of ``"host:port"``
  strings or objects ``{"host", "port", "weight", "zone", "metadata"}``, or
  ``{"addresses": [...]}`` (see :mod:`finpy.resolver.address_json`).

The file is polled (``os.stat``: modification time, size, inode) every
``interval`` seconds and re-read when it changed, so an atomic rename, an
in-place edit and a config-management rewrite are all noticed, with no
platform-specific watcher.  A file that cannot be read is ``Failed``; a file
that cannot be parsed is ``Failed(MalformedUpdateError)``: the client keeps
the last good set either way and picks up the next good version.
"""

from __future__ import annotations

import os
from pathlib import Path

from finpy.address import Address
from finpy.clock import SYSTEM_CLOCK, Clock
from finpy.errors import ConfigurationError, TargetError
from finpy.resolver.address_json import addresses_from_json_text
from finpy.resolver.background import background_resolution
from finpy.resolver.guard import MalformedUpdateError
from finpy.resolver.resolution import Resolution
from finpy.resolver.state import Bound, Failed
from finpy.resolver.static import parse_address_list
from finpy.resolver.target import Target

__all__ = ["FileResolver", "parse_address_file"]


def parse_address_file(text: str, where: str = "address file") -> list[Address]:
    """Parse the content of an address file (plain lines or JSON)."""
    stripped = text.lstrip()
    if stripped.startswith(("[", "{")):
        return addresses_from_json_text(text, where)
    out: list[Address] = []
    seen: set[tuple[str, int]] = set()
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            addresses = parse_address_list(line)
        except ConfigurationError as e:
            raise MalformedUpdateError(f"{where}, line {n}: {e}") from None
        for addr in addresses:
            if addr.key in seen:
                raise MalformedUpdateError(
                    f"{where}, line {n}: address {addr.authority} appears twice"
                )
            seen.add(addr.key)
            out.append(addr)
    return out


def _path_of(target: Target) -> Path:
    if target.authority not in ("", "localhost"):
        raise TargetError(
            f"file targets take no host: {target.raw!r} (use 'file:///absolute/path')"
        )
    if "\0" in target.endpoint:
        raise TargetError(f"invalid file target {target.raw!r}: the path contains NUL")
    return Path("/" + target.endpoint)


class FileResolver:
    """Resolves ``file:///path`` to the addresses in that file, following its changes."""

    scheme = "file"

    def __init__(self, *, interval: float = 1.0, clock: Clock = SYSTEM_CLOCK) -> None:
        if isinstance(interval, bool) or not isinstance(interval, (int, float)) or interval <= 0:
            raise ConfigurationError(f"file poll interval must be > 0 seconds, got {interval!r}")
        self.interval = float(interval)
        self._clock = clock

    def validate(self, target: Target) -> None:
        _path_of(target)

    def resolve(self, target: Target) -> Resolution:
        path = _path_of(target)

        async def watch(res: Resolution) -> None:
            seen: tuple[int, int, int] | None = None
            while True:
                try:
                    st = os.stat(path)
                    stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
                    if stamp != seen:
                        seen = stamp
                        text = path.read_text(encoding="utf-8")
                        res.publish(Bound(parse_address_file(text, str(path))))
                except MalformedUpdateError as e:
                    res.publish(Failed(e))
                except (OSError, UnicodeDecodeError) as e:
                    seen = None  # retry the read at the next poll
                    res.publish(Failed(e))
                await self._clock.sleep(self.interval)

        return background_resolution(target.raw, watch, clock=self._clock)

    def __repr__(self) -> str:
        return f"FileResolver(interval={self.interval})"
