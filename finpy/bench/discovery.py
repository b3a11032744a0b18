"""Discovery the bench can break: an address file that finpy's file resolver follows.

In the discovery-outage scenario finpy resolves ``file:///<tmp>/backends.addrs``
through its own file resolver (polling every :data:`POLL_INTERVAL` seconds)
and therefore through the last-known-good guard every resolver-made
resolution passes, as in production.  The bench then breaks discovery in the
three ways discovery breaks: the source becomes unreachable (the file is
gone), it answers garbage (malformed content), or it answers "nothing" (an
empty list), and finally it comes back.  Every write is atomic (write, then
rename), so the resolver never reads half a file.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from finpy.resolver.file import FileResolver
from finpy.resolver.registry import ResolverRegistry
from finpy.resolver.static import StaticResolver

__all__ = ["POLL_INTERVAL", "AddressFile"]

#: How often the bench's file resolver looks at the file (the default is 1 s).
POLL_INTERVAL = 0.1


class AddressFile:
    """A temporary address file and the resolver registry that follows it."""

    def __init__(self, addresses: Sequence[str]) -> None:
        self.addresses = tuple(addresses)
        self._dir = Path(tempfile.mkdtemp(prefix="finpy-bench-"))
        self.path = self._dir / "backends.addrs"
        self.state = "restored"
        self.restore()

    @property
    def target(self) -> str:
        """The ``file:///`` target finpy is given."""
        return f"file://{self.path}"

    def registry(self) -> ResolverRegistry:
        """Static targets plus ``file:`` polled every :data:`POLL_INTERVAL` seconds."""
        return ResolverRegistry((StaticResolver(), FileResolver(interval=POLL_INTERVAL)))

    def _write(self, text: str) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, self.path)

    def restore(self) -> None:
        """Discovery works: one address per line."""
        self._write("".join(f"{a}\n" for a in self.addresses))
        self.state = "restored"

    def unreachable(self) -> None:
        """Discovery cannot be reached: the file is gone."""
        self.path.unlink(missing_ok=True)
        self.state = "unreachable"

    def malformed(self) -> None:
        """Discovery answers garbage."""
        self._write("this is not an address list\n")
        self.state = "malformed"

    def empty(self) -> None:
        """Discovery answers an empty set."""
        self._write("")
        self.state = "empty"

    def close(self) -> None:
        """Remove the file and its directory."""
        shutil.rmtree(self._dir, ignore_errors=True)

    def __repr__(self) -> str:
        return f"AddressFile({str(self.path)!r}, {self.state})"
