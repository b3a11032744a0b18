"""The ZooKeeper resolver and announcer: Finagle-style serversets through kazoo.

Target: ``zk://zk1:2181,zk2:2181/services/users`` (the authority is the
ensemble, the path is the serverset); ``?endpoint=admin`` selects a named
additional endpoint instead of the service endpoint.  Members are the
children named ``member_*`` in Finagle's JSON format
(:mod:`finpy.resolver.serverset`).

How it follows the serverset: one watch on the children and one on each
member's data, all wired to a single "something changed" signal; each signal
re-reads the whole set (level-triggered, so a lost or duplicated watch event
cannot leave the set wrong).  How it survives ZooKeeper:

* a suspended or lost connection publishes ``Failed``: the client keeps its
  last known good set (see :mod:`finpy.resolver.guard`);
* kazoo reconnects for ever (jittered, capped retry); after a *session
  expiry* the watches are gone, so the reconnect re-reads and re-registers
  them;
* a member whose data is not a valid serverset member rejects the whole
  update (``Failed(MalformedUpdateError)``), the error names the member, and
  the old set keeps serving until the member is fixed or removed.

:func:`announce` is the other side: it registers a running server as an
ephemeral sequential member and re-registers it after a session expiry.

kazoo is an optional dependency (``pip install finpy[zookeeper]``), imported
only when a ``zk:`` target is used.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import posixpath
import weakref
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs

from finpy.address import Address
from finpy.clock import SYSTEM_CLOCK, Clock
from finpy.errors import ConfigurationError, TargetError
from finpy.resolver.background import Backoff, _stop_task, background_resolution
from finpy.resolver.guard import MalformedUpdateError
from finpy.resolver.resolution import Resolution
from finpy.resolver.serverset import encode_member, serverset_addresses
from finpy.resolver.state import Bound, Failed, Negative, ResolutionState
from finpy.resolver.target import Target

__all__ = ["ZooKeeperAnnouncement", "ZooKeeperResolver", "announce", "parse_zk_target"]

log = logging.getLogger("finpy.resolver")


def _kazoo() -> Any:
    try:
        import kazoo.client
        import kazoo.exceptions
        import kazoo.retry
    except ImportError:  # pragma: no cover - depends on the installation
        raise ConfigurationError("zk: targets need kazoo: pip install 'finpy[zookeeper]'") from None
    return kazoo


def parse_zk_target(target: Target) -> tuple[str, str, str | None]:
    """``(hosts, path, endpoint name)`` of a ``zk://hosts/path[?endpoint=name]`` target."""
    if not target.authority:
        raise TargetError(
            f"zk target {target.raw!r} names no ZooKeeper ensemble: 'zk://host:2181/path'"
        )
    for hp in target.authority.split(","):
        try:
            Address.parse(hp)
        except ConfigurationError as e:
            raise TargetError(f"invalid ZooKeeper server in {target.raw!r}: {e}") from None
    raw_path, _, query = target.endpoint.partition("?")
    path = "/" + raw_path.strip("/")
    if path == "/" or "//" in raw_path or any(p in (".", "..") for p in path.split("/")[1:]):
        raise TargetError(f"invalid ZooKeeper path {'/' + raw_path!r} in {target.raw!r}")
    options = parse_qs(query, keep_blank_values=True) if query else {}
    unknown = set(options) - {"endpoint"}
    if unknown:
        raise TargetError(f"unknown zk target option(s) {sorted(unknown)!r} in {target.raw!r}")
    endpoint = options.get("endpoint", [None])[0] or None
    return target.authority, path, endpoint


def _make_client(hosts: str, session_timeout: float, max_delay: float) -> Any:
    kz = _kazoo()
    retry = kz.retry.KazooRetry(max_tries=-1, delay=0.1, backoff=2, max_delay=max_delay)
    return kz.client.KazooClient(
        hosts=hosts,
        timeout=session_timeout,
        connection_retry=retry,
        command_retry=None,
    )


class ZooKeeperResolver:
    """Resolves ``zk://hosts/path`` serversets (Finagle member JSON), watching them.

    Args:
        session_timeout: the ZooKeeper session timeout asked for (seconds).
        member_prefix: children of the path that are members.
        reconnect_max_delay: cap of the reconnect backoff (seconds).
        connect_timeout: how long to wait for a connection before reporting ``Failed``.
    """

    scheme = "zk"

    def __init__(
        self,
        *,
        session_timeout: float = 10.0,
        member_prefix: str = "member_",
        reconnect_max_delay: float = 5.0,
        connect_timeout: float = 5.0,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        if not session_timeout > 0:
            raise ConfigurationError(f"session_timeout must be > 0, got {session_timeout!r}")
        self.session_timeout = float(session_timeout)
        self.member_prefix = member_prefix
        self.reconnect_max_delay = reconnect_max_delay
        self.connect_timeout = connect_timeout
        self._clock = clock
        self._clients: weakref.WeakSet[Any] = weakref.WeakSet()

    def validate(self, target: Target) -> None:
        parse_zk_target(target)

    def live_clients(self) -> list[Any]:
        """The kazoo clients of open resolutions (diagnostics and fault tests)."""
        return list(self._clients)

    def _read(self, client: Any, path: str, endpoint: str | None, watch: Any) -> ResolutionState:
        """One level-triggered read of the serverset (runs in a worker thread)."""
        kz = _kazoo()
        if client.exists(path, watch=watch) is None:
            return Negative(f"ZooKeeper path {path} does not exist")
        try:
            children = client.get_children(path, watch=watch)
        except kz.exceptions.NoNodeError:
            return Negative(f"ZooKeeper path {path} does not exist")
        members: dict[str, bytes] = {}
        for child in children:
            if not child.startswith(self.member_prefix):
                continue
            try:
                data, _stat = client.get(posixpath.join(path, child), watch=watch)
            except kz.exceptions.NoNodeError:
                continue  # left between the listing and the read
            members[child] = data or b""
        try:
            return Bound(serverset_addresses(members, endpoint))
        except MalformedUpdateError as e:
            return Failed(MalformedUpdateError(f"{path}: {e}", problems=e.problems))

    def resolve(self, target: Target) -> Resolution:
        hosts, path, endpoint = parse_zk_target(target)
        kz = _kazoo()
        client = _make_client(hosts, self.session_timeout, self.reconnect_max_delay)
        self._clients.add(client)
        loop = asyncio.get_running_loop()
        wake = asyncio.Event()
        lost = asyncio.Event()

        def signal(*_args: Any) -> None:  # kazoo thread: watches and state changes
            with contextlib.suppress(RuntimeError):  # the loop may be closed already
                loop.call_soon_threadsafe(wake.set)

        def on_state(state: str) -> None:
            if state in (kz.client.KazooState.SUSPENDED, kz.client.KazooState.LOST):
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(lost.set)
            signal()

        client.add_listener(on_state)

        async def follow(res: Resolution) -> None:
            client.start_async()
            backoff = Backoff(0.2, self.reconnect_max_delay)
            waited_for_connection = False
            while True:
                wake.clear()
                if lost.is_set():
                    lost.clear()
                    res.publish(Failed(ConnectionError(f"ZooKeeper connection to {hosts} lost")))
                retry_in: float | None = None
                if not client.connected:
                    if waited_for_connection:  # still down after a while: say so
                        res.publish(Failed(ConnectionError(f"cannot reach ZooKeeper at {hosts}")))
                    waited_for_connection = True
                    retry_in = self.connect_timeout
                else:
                    waited_for_connection = False
                    try:
                        state = await asyncio.to_thread(self._read, client, path, endpoint, signal)
                        backoff.reset()
                    except kz.exceptions.KazooException as e:
                        state = Failed(e)
                        retry_in = backoff.next()
                    res.publish(state)
                if retry_in is None:
                    await wake.wait()
                else:
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(wake.wait(), retry_in)

        async def close() -> None:
            self._clients.discard(client)
            await asyncio.to_thread(_stop_client, client)

        return background_resolution(target.raw, follow, clock=self._clock, cleanup=close)

    def __repr__(self) -> str:
        return f"ZooKeeperResolver(session_timeout={self.session_timeout})"


def _stop_client(client: Any) -> None:
    with contextlib.suppress(Exception):
        client.stop()
    with contextlib.suppress(Exception):
        client.close()


class ZooKeeperAnnouncement:
    """A server registered as an ephemeral serverset member; ``aclose()`` withdraws it.

    After a session expiry ZooKeeper deletes the ephemeral node; the
    announcement notices the reconnect and registers the member again.
    """

    def __init__(self, client: Any, path: str, data: bytes) -> None:
        self._client = client
        self.path = path
        self.data = data
        self.node: str | None = None
        self.registrations = 0
        self._loop = asyncio.get_running_loop()
        self._reconnected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    def _on_state(self, state: str) -> None:
        kz = _kazoo()
        if state == kz.client.KazooState.CONNECTED:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._reconnected.set)

    def _register(self) -> None:
        kz = _kazoo()
        node = self.node
        if node is not None:
            with contextlib.suppress(kz.exceptions.NoNodeError):
                if self._client.exists(node) is not None:
                    return  # still there (the session survived)
        self._client.ensure_path(self.path)
        self.node = self._client.create(
            posixpath.join(self.path, "member_"), self.data, ephemeral=True, sequence=True
        )
        self.registrations += 1

    async def _start(self) -> None:
        await asyncio.to_thread(self._register)
        self._client.add_listener(self._on_state)
        self._task = self._loop.create_task(self._keep(), name=f"finpy-announce {self.path}")

    async def _keep(self) -> None:
        kz = _kazoo()
        backoff = Backoff(0.2, 5.0)
        while True:
            await self._reconnected.wait()
            self._reconnected.clear()
            try:
                await asyncio.to_thread(self._register)
                backoff.reset()
            except kz.exceptions.KazooException as e:
                log.warning("could not re-register %s in %s: %r", self.data, self.path, e)
                await asyncio.sleep(backoff.next())
                self._reconnected.set()

    async def aclose(self) -> None:
        """Delete the member node and close the ZooKeeper session (idempotent)."""
        if self._closed:
            return
        self._closed = True
        await _stop_task(self._task)

        def withdraw() -> None:
            if self.node is not None and self._client.connected:
                with contextlib.suppress(Exception):
                    self._client.delete(self.node)
            _stop_client(self._client)

        await asyncio.to_thread(withdraw)

    async def __aenter__(self) -> ZooKeeperAnnouncement:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return (
            f"ZooKeeperAnnouncement({self.node or self.path!r}, registrations={self.registrations})"
        )


async def announce(
    hosts: str,
    path: str,
    address: Address | tuple[str, int],
    *,
    additional: Mapping[str, Address | tuple[str, int]] | None = None,
    shard: int | None = None,
    metadata: Mapping[str, str] | None = None,
    session_timeout: float = 10.0,
    connect_timeout: float = 15.0,
) -> ZooKeeperAnnouncement:
    """Register the server at ``address`` as an ALIVE member of the serverset ``path``.

    ``hosts`` is the ensemble (``"zk1:2181,zk2:2181"``).  Use the result as an
    async context manager, or call ``aclose()`` at shutdown.
    """
    if not path.startswith("/"):
        raise ConfigurationError(f"serverset path must be absolute, got {path!r}")
    data = encode_member(address, additional=additional, shard=shard, metadata=metadata)
    client = _make_client(hosts, session_timeout, 5.0)
    start: Callable[[], None] = lambda: client.start(timeout=connect_timeout)  # noqa: E731
    try:
        await asyncio.to_thread(start)
        ann = ZooKeeperAnnouncement(client, path.rstrip("/") or "/", data)
        await ann._start()
    except BaseException:
        await asyncio.to_thread(_stop_client, client)
        raise
    return ann
