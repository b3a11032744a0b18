"""A small HTTP/1.1 server on 127.0.0.1 for protocol fakes (stdlib asyncio only).

The Consul and Kubernetes fakes answer real HTTP on a real socket, so the
resolvers under test use their real HTTP client.  The server runs on its own
event loop in a background thread (:mod:`finpy.testing.servers._loop`), which
makes the fakes usable from sync fixtures and from any test loop, and lets a
test stop and start the fake (connections refused in between) on the same
port.

A handler gets a :class:`HttpRequest` and returns an :class:`HttpResponse`; a
response with a ``stream`` async iterator is sent with chunked encoding, one
chunk per item, as a watch stream is.

Stopping is exact: :meth:`FakeHttpServer.stop` cuts *every* connection the
server has accepted, including one accepted a moment before whose handler has
not run yet.  (``asyncio.start_server`` leaves such a connection behind: its
handler starts after the stop and goes on serving a "stopped" server, and on
3.11 a connection whose transport is built after ``Server.close()`` is leaked
open, never answered.)  So the fake accepts itself, from the listening
socket's reader callback, and tracks each socket and its handler task in the
same step.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from typing_extensions import Self

from finpy.testing.servers._loop import BackgroundLoop
from finpy.testing.servers._process import free_port

__all__ = ["FakeHttpServer", "HttpRequest", "HttpResponse", "json_response"]

_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 410: "Gone"}


@dataclass(frozen=True)
class HttpRequest:
    """One parsed request: method, path, query (first value per key) and headers."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]


@dataclass
class HttpResponse:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    stream: AsyncIterator[bytes] | None = None


def json_response(
    doc: Any, status: int = 200, headers: dict[str, str] | None = None
) -> HttpResponse:
    """A JSON response."""
    h = {"Content-Type": "application/json", **(headers or {})}
    return HttpResponse(status, h, json.dumps(doc).encode())


Handler = Callable[[HttpRequest], Awaitable[HttpResponse]]


class FakeHttpServer:
    """An HTTP server thread; subclasses implement :meth:`handle`."""

    name = "fake-http"

    def __init__(self) -> None:
        self.port = free_port()
        self._thread = BackgroundLoop(f"finpy-{self.name}")
        self._listener: socket.socket | None = None
        # Every accepted socket, from accept() until its handler has closed it.
        self._conns: set[socket.socket] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[None]] = set()
        self.requests: list[HttpRequest] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._thread.loop

    async def handle(self, request: HttpRequest) -> HttpResponse:
        raise NotImplementedError

    # -- lifecycle (call from any thread but the fake's own) ------------------------------

    def start(self) -> None:
        """Listen on 127.0.0.1:port (the same port after a stop)."""
        self._thread.start()
        self._thread.run(self._start())

    async def _start(self) -> None:
        if self._listener is not None:
            return
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", self.port))
            sock.listen(100)
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        self._listener = sock
        asyncio.get_running_loop().add_reader(sock.fileno(), self._accept, sock)

    def stop(self) -> None:
        """Stop listening and cut every open connection (watches, blocking queries)."""
        if not self._thread.closed:
            with contextlib.suppress(RuntimeError):
                self._thread.run(self._stop())

    async def _stop(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            asyncio.get_running_loop().remove_reader(listener.fileno())
            listener.close()  # connections not accepted yet are reset by the kernel
        for w in list(self._writers):
            w.transport.abort()  # cut at once, as a dying server's connections are
        handlers = list(self._handlers)  # held watches and blocking queries end now
        for t in handlers:
            t.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        for conn in list(self._conns):  # accepted, but the handler was cancelled unstarted
            _reset(conn)
        self._conns.clear()

    def close(self) -> None:
        self.stop()
        self._thread.close()

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn()`` on the fake's loop (how tests change the fake's state)."""

        async def run() -> Any:
            return fn()

        return self._thread.run(run())

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

    # -- HTTP -----------------------------------------------------------------------------

    def _accept(self, listener: socket.socket) -> None:
        """The listener's reader callback: accept, and track socket and handler at once.

        Nothing runs between ``accept()`` and the tracking, so :meth:`_stop`
        (on the same loop) sees every connection the kernel has handed over.
        """
        loop = asyncio.get_running_loop()
        for _ in range(100):
            try:
                conn, _addr = listener.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                return
            conn.setblocking(False)
            self._conns.add(conn)
            task = loop.create_task(self._serve(conn))
            self._handlers.add(task)
            task.add_done_callback(self._handlers.discard)

    async def _serve(self, conn: socket.socket) -> None:
        writer: asyncio.StreamWriter | None = None
        try:
            reader, writer = await asyncio.open_connection(sock=conn)
            self._writers.add(writer)
            request = await self._read_request(reader)
            if request is None:
                return
            self.requests.append(request)
            response = await self.handle(request)
            await self._write(writer, response)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._conns.discard(conn)
            if writer is None:
                _reset(conn)
            else:
                self._writers.discard(writer)
                writer.close()
                with contextlib.suppress(Exception):
                    await writer.wait_closed()

    async def _read_request(self, reader: asyncio.StreamReader) -> HttpRequest | None:
        line = await reader.readline()
        if not line:
            return None
        method, target, _version = line.decode("latin-1").split(" ", 2)
        headers: dict[str, str] = {}
        while True:
            h = await reader.readline()
            if h in (b"\r\n", b"\n", b""):
                break
            k, _, v = h.decode("latin-1").partition(":")
            headers[k.strip().lower()] = v.strip()
        length = int(headers.get("content-length", "0") or 0)
        if length:
            await reader.readexactly(length)
        parts = urlsplit(target)
        query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        return HttpRequest(method, parts.path, query, headers)

    async def _write(self, writer: asyncio.StreamWriter, r: HttpResponse) -> None:
        head = [f"HTTP/1.1 {r.status} {_REASONS.get(r.status, 'Status')}"]
        headers = {**r.headers, "Connection": "close"}
        if r.stream is None:
            headers["Content-Length"] = str(len(r.body))
        else:
            headers["Transfer-Encoding"] = "chunked"
        head += [f"{k}: {v}" for k, v in headers.items()]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        if r.stream is None:
            writer.write(r.body)
            await writer.drain()
            return
        await writer.drain()
        async for chunk in r.stream:
            if chunk:
                writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                await writer.drain()
        writer.write(b"0\r\n\r\n")
        await writer.drain()


def _reset(conn: socket.socket) -> None:
    """Close ``conn`` with a reset (RST), as a dying server's kernel does."""
    with contextlib.suppress(OSError):
        if conn.fileno() != -1:
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()
