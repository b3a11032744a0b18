"""The bench's backends, in a process of their own, and the pipe that controls them.

``python -m finpy.bench.backends --size 5`` starts a
:class:`finpy.testing.FaultCluster` of real ``grpc.aio`` servers on
127.0.0.1, prints one JSON line with their addresses, then answers commands
read from stdin, one JSON object per line (``{"id": 1, "op": "counters"}``),
with one JSON line each on stdout.  It exits when stdin closes, so it never
outlives the bench.  Running the servers in another process keeps them out of
the client's interpreter: the client's CPU and GIL are the client's alone.

Commands: ``set`` (change some :class:`~finpy.testing.Behavior` fields of a
backend), ``stop`` (graceful, with a grace period), ``kill`` (stop with calls
in flight cancelled), ``start``, ``reset`` (every backend healthy, listening,
counters zero), ``reset_counters``, ``counters`` (calls received per backend:
the server side of attempt accounting) and ``ping``.

:class:`BackendProcess` is the parent's side: an async handle that starts the
process, sends commands and reads the replies.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import IO, Any

from finpy.bench.scenarios import check_behavior
from finpy.errors import ConfigurationError

__all__ = ["BackendProcess", "BackendProcessError", "Counters", "main", "serve"]

#: How long a graceful ``stop`` lets calls in flight finish.
GRACE = 1.0
STARTUP_TIMEOUT = 60.0
COMMAND_TIMEOUT = 30.0


class BackendProcessError(RuntimeError):
    """The backend process failed to start, died, or refused a command."""


@dataclass(frozen=True, slots=True)
class Counters:
    """Calls received by each backend since the last reset (server-side attempts)."""

    attempts: tuple[int, ...]

    @property
    def total(self) -> int:
        return sum(self.attempts)

    def __sub__(self, other: Counters) -> Counters:
        return Counters(tuple(a - b for a, b in zip(self.attempts, other.attempts, strict=True)))


# -- the child ---------------------------------------------------------------------------


def _behavior_kwargs(behavior: Mapping[str, Any]) -> dict[str, Any]:
    import grpc

    kwargs = check_behavior(behavior, "set")
    code = kwargs.get("error_code")
    if isinstance(code, str):
        kwargs["error_code"] = getattr(grpc.StatusCode, code)
    return kwargs


def _handle(cluster: Any, request: Mapping[str, Any]) -> dict[str, Any]:
    op = request.get("op")
    backends = cluster.backends
    if op == "ping":
        return {}
    if op == "counters":
        return {"attempts": [b.attempts for b in backends]}
    if op == "reset_counters":
        cluster.reset_counters()
        return {}
    if op == "reset":
        for b in backends:
            b.reset()
            b.start()
        cluster.reset_counters()
        return {}
    index = request.get("backend")
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(backends):
        raise ConfigurationError(f"command {op!r} needs a backend index, got {index!r}")
    backend = backends[index]
    if op == "set":
        behavior = request.get("behavior")
        if not isinstance(behavior, Mapping):
            raise ConfigurationError(f"set needs a behavior object, got {behavior!r}")
        backend.set(**_behavior_kwargs(behavior))
    elif op == "stop":
        backend.stop(float(request.get("grace", GRACE)))
    elif op == "kill":
        backend.stop(0.0)
    elif op == "start":
        backend.start()
    else:
        raise ConfigurationError(f"unknown command {op!r}")
    return {}


def serve(size: int, stdin: IO[str], stdout: IO[str]) -> None:
    """Run a cluster of ``size`` backends and answer commands until stdin closes."""
    from finpy.testing import FaultCluster

    def reply(obj: Mapping[str, Any]) -> None:
        stdout.write(json.dumps(obj) + "\n")
        stdout.flush()

    with FaultCluster(size) as cluster:
        reply({"ready": True, "addresses": cluster.addresses, "pid": os.getpid()})
        for line in stdin:
            if not line.strip():
                continue
            try:
                request = json.loads(line)
                if not isinstance(request, dict):
                    raise ConfigurationError(f"a command must be a JSON object, got {line!r}")
                if request.get("op") == "quit":
                    reply({"id": request.get("id"), "ok": True})
                    break
                result = _handle(cluster, request)
                reply({"id": request.get("id"), "ok": True, **result})
            except Exception as e:
                rid = request.get("id") if isinstance(request, dict) else None
                reply({"id": rid, "ok": False, "error": f"{type(e).__name__}: {e}"})


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m finpy.bench.backends --size N``."""
    parser = argparse.ArgumentParser(
        prog="python -m finpy.bench.backends", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--size", type=int, default=5, help="number of backends (default 5)")
    args = parser.parse_args(argv)
    if not 1 <= args.size <= 64:
        parser.error(f"--size must be 1..64, got {args.size}")
    serve(args.size, sys.stdin, sys.stdout)


# -- the parent --------------------------------------------------------------------------


class BackendProcess:
    """The parent's handle on a backend process: ``async with BackendProcess(5) as b:``."""

    def __init__(self, size: int = 5) -> None:
        if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= 64:
            raise ConfigurationError(f"backend process size must be 1..64, got {size!r}")
        self.size = size
        self.addresses: tuple[str, ...] = ()
        self.pid: int | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._stderr: IO[bytes] | None = None
        self._lock = asyncio.Lock()
        self._ids = 0
        self.commands = 0

    async def start(self) -> BackendProcess:
        """Start the process and wait until every backend listens."""
        if self._proc is not None:
            return self
        # open for the life of the process (its stderr, shown if it dies); closed in aclose()
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "finpy.bench.backends",
            "--size",
            str(self.size),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=self._stderr,
        )
        try:
            hello = await asyncio.wait_for(self._read(), STARTUP_TIMEOUT)
        except BaseException:
            await self.aclose()
            raise
        self.addresses = tuple(hello["addresses"])
        self.pid = int(hello["pid"])
        return self

    def _stderr_tail(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        text = self._stderr.read().decode(errors="replace").strip()
        return text[-2000:]

    async def _read(self) -> dict[str, Any]:
        assert self._proc is not None and self._proc.stdout is not None
        line = await self._proc.stdout.readline()
        if not line:
            raise BackendProcessError(
                "the backend process exited"
                + (f":\n{tail}" if (tail := self._stderr_tail()) else "")
            )
        obj = json.loads(line)
        if not isinstance(obj, dict):
            raise BackendProcessError(f"unexpected line from the backend process: {line!r}")
        return obj

    async def command(self, op: str, **fields: Any) -> dict[str, Any]:
        """Send one command and return its reply; :class:`BackendProcessError` if refused."""
        proc = self._proc
        if proc is None or proc.stdin is None:
            raise BackendProcessError("the backend process is not running")
        async with self._lock:
            self._ids += 1
            rid = self._ids
            proc.stdin.write((json.dumps({"id": rid, "op": op, **fields}) + "\n").encode())
            await proc.stdin.drain()
            reply = await asyncio.wait_for(self._read(), COMMAND_TIMEOUT)
            self.commands += 1
        if reply.get("id") != rid:
            raise BackendProcessError(f"reply {reply!r} does not answer command {rid}")
        if not reply.get("ok"):
            raise BackendProcessError(f"command {op!r} failed: {reply.get('error')}")
        return reply

    async def set(self, backend: int, behavior: Mapping[str, Any]) -> None:
        """Change some behaviour fields of ``backend``."""
        await self.command("set", backend=backend, behavior=dict(behavior))

    async def stop(self, backend: int, grace: float = GRACE) -> None:
        """Stop ``backend`` gracefully (calls in flight get ``grace`` seconds)."""
        await self.command("stop", backend=backend, grace=grace)

    async def kill(self, backend: int) -> None:
        """Stop ``backend`` at once: calls in flight are cancelled."""
        await self.command("kill", backend=backend)

    async def start_backend(self, backend: int) -> None:
        """Listen again on ``backend``'s port."""
        await self.command("start", backend=backend)

    async def reset(self) -> None:
        """Every backend healthy and listening, counters zero."""
        await self.command("reset")

    async def reset_counters(self) -> None:
        await self.command("reset_counters")

    async def counters(self) -> Counters:
        """Calls received per backend since the last reset."""
        reply = await self.command("counters")
        return Counters(tuple(int(a) for a in reply["attempts"]))

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    async def aclose(self) -> None:
        """Ask the process to quit (closing its stdin) and wait for it; kill it if stuck."""
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.stdin is not None:
                with contextlib.suppress(Exception):
                    proc.stdin.close()
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except asyncio.TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
            except asyncio.CancelledError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                raise
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    async def __aenter__(self) -> BackendProcess:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        state = f"pid={self.pid}" if self.running else "stopped"
        return f"BackendProcess(size={self.size}, {state}, commands={self.commands})"


if __name__ == "__main__":
    main()
