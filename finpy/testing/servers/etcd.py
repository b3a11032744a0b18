"""A real single-member etcd (Debian's ``etcd-server``) on free loopback ports.

The v3 gRPC API listens on ``127.0.0.1:port`` (the client URL); the peer
URL gets a port of its own.  Data survives :meth:`restart`.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from finpy.testing.servers._process import (
    ManagedServer,
    ServerUnavailable,
    find_binary,
    free_port,
)

__all__ = ["EtcdServer"]


class EtcdServer(ManagedServer):
    """etcd on ``127.0.0.1:port``; ``endpoint`` is ``127.0.0.1:port``."""

    name = "etcd"
    start_timeout = 30.0

    def __init__(self, *, workdir: str | None = None) -> None:
        binary = find_binary("etcd", "/usr/bin/etcd")
        if binary is None:
            raise ServerUnavailable("etcd is not installed (apt-get install etcd-server)")
        super().__init__(workdir)
        self.binary = binary
        self.port = free_port()
        self.peer_port = free_port()

    @property
    def endpoint(self) -> str:
        """``127.0.0.1:port`` of the client (gRPC) API."""
        return f"127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        client = f"http://127.0.0.1:{self.port}"
        peer = f"http://127.0.0.1:{self.peer_port}"
        return [
            self.binary,
            "--name=finpy",
            f"--data-dir={self.workdir / 'data'}",
            f"--listen-client-urls={client}",
            f"--advertise-client-urls={client}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=finpy={peer}",
            "--initial-cluster-state=new",
            "--log-level=warn",
            "--logger=zap",
        ]

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=0.5) as r:
                body = json.loads(r.read())
        except (OSError, ValueError, urllib.error.URLError):
            return False
        return bool(body.get("health") in ("true", True))
