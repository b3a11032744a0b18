"""A real dnsmasq serving A, AAAA and SRV records on a free 127.0.0.1 port.

Names live under ``finpy.test`` (answered only from local data: unknown
names are NXDOMAIN, nothing is forwarded).  Records are set with
:meth:`DnsmasqServer.set_records`, which rewrites the zone and restarts
dnsmasq on the same port (milliseconds), so tests can change what DNS says,
stop DNS while traffic flows and bring it back.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import dns.exception
import dns.resolver

from finpy.testing.servers._process import (
    ManagedServer,
    ServerUnavailable,
    find_binary,
    free_port,
)

__all__ = ["DOMAIN", "DnsmasqServer", "SrvEntry"]

DOMAIN = "finpy.test"

SrvEntry = tuple[int, int, int, str]
"""``(priority, weight, port, target)`` of one SRV record."""


class DnsmasqServer(ManagedServer):
    """dnsmasq on ``127.0.0.1:port`` answering for ``*.finpy.test``.

    Args:
        hosts: name -> IPv4/IPv6 addresses (A/AAAA records).
        srv: SRV name -> ``(priority, weight, port, target)`` records.
        ttl: the TTL of every answer, in seconds.
    """

    name = "dnsmasq"
    start_timeout = 10.0

    def __init__(
        self,
        hosts: Mapping[str, Sequence[str]] | None = None,
        srv: Mapping[str, Sequence[SrvEntry]] | None = None,
        *,
        ttl: int = 1,
        workdir: str | None = None,
    ) -> None:
        binary = find_binary("dnsmasq", "/usr/sbin/dnsmasq")
        if binary is None:
            raise ServerUnavailable("dnsmasq is not installed (apt-get install dnsmasq)")
        super().__init__(workdir)
        self.binary = binary
        self.port = free_port(udp=True)
        self.hosts: dict[str, list[str]] = {k: list(v) for k, v in (hosts or {}).items()}
        self.srv: dict[str, list[SrvEntry]] = {k: list(v) for k, v in (srv or {}).items()}
        self.ttl = ttl

    @property
    def authority(self) -> str:
        """``127.0.0.1:port``, for ``dns://127.0.0.1:port/name:port`` targets."""
        return f"127.0.0.1:{self.port}"

    def set_records(
        self,
        hosts: Mapping[str, Sequence[str]] | None = None,
        srv: Mapping[str, Sequence[SrvEntry]] | None = None,
        *,
        ttl: int | None = None,
    ) -> None:
        """Replace the records (``None`` keeps that kind) and restart if running."""
        if hosts is not None:
            self.hosts = {k: list(v) for k, v in hosts.items()}
        if srv is not None:
            self.srv = {k: list(v) for k, v in srv.items()}
        if ttl is not None:
            self.ttl = ttl
        if self.running:
            self.restart()

    def prepare(self) -> None:
        lines = [f"127.0.0.1 ready.{DOMAIN}"]
        for name, ips in self.hosts.items():
            lines.extend(f"{ip} {name}" for ip in ips)
        (self.workdir / "hosts").write_text("\n".join(lines) + "\n")
        conf = [
            f"srv-host={name},{target},{port},{prio},{weight}"
            for name, entries in self.srv.items()
            for prio, weight, port, target in entries
        ]
        (self.workdir / "dnsmasq.conf").write_text("\n".join(conf) + "\n")

    def command(self) -> list[str]:
        argv = [
            self.binary,
            "--keep-in-foreground",
            f"--conf-file={self.workdir / 'dnsmasq.conf'}",
            "--no-resolv",
            "--no-hosts",
            "--no-poll",
            f"--addn-hosts={self.workdir / 'hosts'}",
            f"--port={self.port}",
            "--listen-address=127.0.0.1",
            "--bind-interfaces",
            f"--local=/{DOMAIN}/",
            f"--local-ttl={self.ttl}",
            f"--pid-file={self.workdir / 'dnsmasq.pid'}",
            "--log-facility=-",
        ]
        if os.geteuid() == 0:
            argv.append("--user=root")  # no need to drop to a user that may not exist
        return argv

    def ready(self) -> bool:
        r = dns.resolver.Resolver(configure=False)
        r.nameservers = ["127.0.0.1"]
        r.port = self.port
        r.lifetime = 0.3
        try:
            r.resolve(f"ready.{DOMAIN}", "A")
        except dns.exception.DNSException:
            return False
        return True
