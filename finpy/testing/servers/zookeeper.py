"""A real standalone ZooKeeper (Debian's ``zookeeper`` package) on a free port.

Started straight from the jar (``ZooKeeperServerMain``) with a generated
config: loopback only, no admin HTTP server, short ticks so that sessions
can be as short as 1 s in tests.  Data survives :meth:`restart` (same data
directory, same port), as it does for a real ensemble member.
"""

from __future__ import annotations

import glob
import os
import socket

from finpy.testing.servers._process import (
    ManagedServer,
    ServerUnavailable,
    find_binary,
    free_port,
)

__all__ = ["ZooKeeperServer", "zookeeper_classpath"]

_JARS = ("/usr/share/java/zookeeper.jar", "/usr/share/zookeeper/zookeeper.jar")


def zookeeper_classpath() -> str | None:
    """The class path of an installed ZooKeeper server (``None`` if not installed)."""
    env = os.environ.get("FINPY_ZOOKEEPER_CLASSPATH")
    if env:
        return env
    for jar in _JARS:
        if os.path.isfile(jar):
            return jar
    found = sorted(glob.glob("/usr/share/zookeeper/lib/*.jar"))
    return ":".join(found) if found else None


class ZooKeeperServer(ManagedServer):
    """ZooKeeper on ``127.0.0.1:port``; ``hosts`` is the connect string."""

    name = "zookeeper"
    start_timeout = 60.0

    def __init__(self, *, tick_ms: int = 250, workdir: str | None = None) -> None:
        java = find_binary("java", "/usr/bin/java")
        classpath = zookeeper_classpath()
        if java is None or classpath is None:
            raise ServerUnavailable(
                "ZooKeeper is not installed (apt-get install zookeeper: needs java and the jar)"
            )
        super().__init__(workdir)
        self.java = java
        self.classpath = classpath
        self.port = free_port()
        self.tick_ms = tick_ms

    @property
    def hosts(self) -> str:
        """The client connect string, ``127.0.0.1:port``."""
        return f"127.0.0.1:{self.port}"

    def prepare(self) -> None:
        (self.workdir / "data").mkdir(exist_ok=True)
        (self.workdir / "zoo.cfg").write_text(
            "\n".join(
                [
                    f"tickTime={self.tick_ms}",
                    f"dataDir={self.workdir / 'data'}",
                    f"clientPort={self.port}",
                    "clientPortAddress=127.0.0.1",
                    "admin.enableServer=false",
                    f"minSessionTimeout={2 * self.tick_ms}",
                    "maxSessionTimeout=60000",
                    "4lw.commands.whitelist=srvr,ruok",
                    "maxClientCnxns=0",
                ]
            )
            + "\n"
        )

    def command(self) -> list[str]:
        return [
            self.java,
            "-Xmx256m",
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
            "-Dzookeeper.admin.enableServer=false",
            f"-Dzookeeper.log.dir={self.workdir}",
            "-cp",
            f"/etc/zookeeper/conf:{self.classpath}",
            "org.apache.zookeeper.server.ZooKeeperServerMain",
            str(self.workdir / "zoo.cfg"),
        ]

    def ready(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"ruok")
                s.settimeout(0.5)
                return s.recv(16) == b"imok"
        except OSError:
            return False
