"""A real server binary run as a child process on 127.0.0.1, with stop and restart.

:class:`ManagedServer` is the common part of the dnsmasq, ZooKeeper and etcd
fixtures: it picks free loopback ports once (so a restarted server comes back
on the same address, as a real one does), keeps the server's output in a log
file for error messages, waits for readiness by polling a real protocol check
(bounded by a timeout, never a fixed sleep), and stops politely (SIGTERM)
before it stops firmly (SIGKILL).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from typing_extensions import Self

__all__ = [
    "ManagedServer",
    "ServerStartError",
    "ServerUnavailable",
    "find_binary",
    "free_port",
]


class ServerUnavailable(RuntimeError):
    """The server's binary is not installed (fixtures skip, or fail under ``CI``)."""


class ServerStartError(RuntimeError):
    """The server did not become ready; the message carries the end of its log."""


def free_port(*, udp: bool = False) -> int:
    """A port that is free on 127.0.0.1 (for TCP, and UDP too if ``udp``)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port: int = s.getsockname()[1]
        if not udp:
            return port
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            try:
                u.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port found on 127.0.0.1")


def find_binary(name: str, *candidates: str) -> str | None:
    """The path of ``name`` on ``PATH`` or the first existing candidate path."""
    found = shutil.which(name)
    if found:
        return found
    for c in candidates:
        if os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    return None


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a TCP connection to ``host:port`` succeeds right now."""
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


class ManagedServer:
    """Base of the process fixtures: ``start()``, ``stop()``, ``restart()``, ``with``."""

    name = "server"
    start_timeout = 30.0

    def __init__(self, workdir: str | os.PathLike[str] | None = None) -> None:
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if workdir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix=f"finpy-{self.name}-")
            workdir = self._tmp.name
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._proc: subprocess.Popen[bytes] | None = None
        self._log = self.workdir / f"{self.name}.log"
        self.starts = 0

    # -- what subclasses provide ----------------------------------------------------------

    def command(self) -> Sequence[str]:
        """The argv that runs the server in the foreground."""
        raise NotImplementedError

    def ready(self) -> bool:
        """Whether the server answers its protocol (polled until true)."""
        raise NotImplementedError

    def prepare(self) -> None:
        """Write configuration files before each start (optional)."""

    # -- lifecycle ------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        """Start the server and wait until it is ready (``ServerStartError`` if not)."""
        if self.running:
            return
        self.prepare()
        argv = list(self.command())
        with open(self._log, "ab") as log:
            self._proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                start_new_session=True,
            )
        self.starts += 1
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise ServerStartError(
                    f"{self.name} exited with {self._proc.returncode} on start:\n{self.log_tail()}"
                )
            if self.ready():
                return
            time.sleep(0.05)
        self.stop()
        raise ServerStartError(
            f"{self.name} was not ready after {self.start_timeout}s:\n{self.log_tail()}"
        )

    def stop(self, *, timeout: float = 10.0) -> None:
        """Stop the server (SIGTERM, then SIGKILL after ``timeout``)."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)

    def kill(self) -> None:
        """Kill the server abruptly (SIGKILL), as a crash would."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(10)

    def restart(self) -> None:
        """Stop and start again on the same port(s) with the same data."""
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop the server and remove its temporary directory."""
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self._log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<{type(self).__name__} {state} starts={self.starts} dir={self.workdir}>"
