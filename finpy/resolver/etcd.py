"""The etcd resolver and announcer: members as keys under a prefix, watched.

Target: ``etcd://127.0.0.1:2379,127.0.0.2:2379/services/users``: the
authority lists etcd endpoints, the path is the prefix; every key under
``/services/users/`` is one member.  A member's value is JSON, either

* an address object ``{"host", "port", "weight", "zone", "metadata"}`` or a
  ``"host:port"`` string (:mod:`finpy.resolver.address_json`), or
* a Finagle serverset member (``{"serviceEndpoint": ...}``, only ``ALIVE``).

How it follows etcd: list the prefix (a Range at one revision), publish,
then watch the prefix from the next revision and publish after each batch
of events.  When the watch breaks (etcd stopped, leader change, compaction)
it lists again and watches again, so a restarted etcd is followed from a
consistent snapshot.  Failures publish ``Failed`` (the client keeps its last
known good set); a member value that cannot be parsed rejects the whole
update with an error naming the key.

The client is a small one generated from etcd's own protos with grpcio-tools
(``finpy/resolver/_etcd``): finpy already depends on grpcio, and the
maintained-looking PyPI clients either ship protobuf-3-era generated code
that modern protobuf refuses, or are synchronous (threads per watch).

:func:`announce` registers a server under a lease that it keeps alive; if
the lease is lost (etcd was down longer than its TTL) it takes a new one and
writes the member again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Mapping

import grpc.aio

from finpy.address import Address
from finpy.clock import SYSTEM_CLOCK, Clock
from finpy.errors import ConfigurationError, TargetError
from finpy.resolver._etcd.client import EtcdClient
from finpy.resolver.address_json import address_from_json, address_to_json
from finpy.resolver.background import Backoff, _stop_task, background_resolution
from finpy.resolver.guard import MalformedUpdateError
from finpy.resolver.resolution import Resolution
from finpy.resolver.serverset import decode_member
from finpy.resolver.state import Bound, Failed
from finpy.resolver.target import Target

__all__ = ["EtcdAnnouncement", "EtcdResolver", "announce", "etcd_addresses", "parse_etcd_target"]

log = logging.getLogger("finpy.resolver")


def parse_etcd_target(target: Target) -> tuple[list[str], bytes]:
    """``(endpoints, key prefix)`` of ``etcd://host:port[,host:port]/prefix``."""
    endpoints = [e for e in target.authority.split(",") if e] or ["127.0.0.1:2379"]
    for e in endpoints:
        try:
            Address.parse(e)
        except ConfigurationError as err:
            raise TargetError(f"invalid etcd endpoint in {target.raw!r}: {err}") from None
    path = target.endpoint.strip("/")
    if not path or "?" in path:
        raise TargetError(
            f"invalid etcd prefix in {target.raw!r}: expected 'etcd://host:port/prefix'"
        )
    return endpoints, f"/{path}/".encode()


def member_address(key: bytes, value: bytes) -> Address | None:
    """The address in one member value (``None``: a serverset member that is not ALIVE)."""
    where = key.decode("utf-8", "replace")
    try:
        doc = json.loads(value)
    except (UnicodeDecodeError, ValueError) as e:
        raise MalformedUpdateError(f"{where}: not JSON ({e}): {value[:80]!r}") from None
    if isinstance(doc, dict) and "serviceEndpoint" in doc:
        return decode_member(value, where).address()
    return address_from_json(doc, where)


def etcd_addresses(members: Mapping[bytes, bytes]) -> list[Address]:
    """All members' addresses; any bad value rejects the whole set (naming each key)."""
    problems: list[str] = []
    out: dict[tuple[str, int], Address] = {}
    for key in sorted(members):
        try:
            addr = member_address(key, members[key])
        except ConfigurationError as e:
            problems.append(str(e))
            continue
        if addr is not None:
            out.setdefault(addr.key, addr)
    if problems:
        raise MalformedUpdateError(
            f"rejected etcd update: {'; '.join(problems)}", problems=problems
        )
    return list(out.values())


class EtcdResolver:
    """Resolves ``etcd://endpoints/prefix`` by listing and watching the prefix."""

    scheme = "etcd"

    def __init__(self, *, timeout: float = 5.0, clock: Clock = SYSTEM_CLOCK) -> None:
        if not timeout > 0:
            raise ConfigurationError(f"etcd timeout must be > 0, got {timeout!r}")
        self.timeout = timeout
        self._clock = clock

    def validate(self, target: Target) -> None:
        parse_etcd_target(target)

    def resolve(self, target: Target) -> Resolution:
        endpoints, prefix = parse_etcd_target(target)
        client = EtcdClient(endpoints, timeout=self.timeout)

        def publish(res: Resolution, members: Mapping[bytes, bytes]) -> None:
            try:
                res.publish(Bound(etcd_addresses(members)))
            except MalformedUpdateError as e:
                res.publish(Failed(e))

        async def follow(res: Resolution) -> None:
            backoff = Backoff(0.2, 5.0)
            while True:
                try:
                    members, revision = await client.range_prefix(prefix)
                    publish(res, members)
                    backoff.reset()
                    watch = await client.watch_prefix(prefix, revision + 1)
                    try:
                        async for resp in watch:
                            if resp.canceled:
                                log.info(
                                    "etcd watch of %r cancelled (%s); listing again",
                                    prefix,
                                    resp.cancel_reason or f"compacted at {resp.compact_revision}",
                                )
                                break
                            for ev in resp.events:
                                if ev.type == 1:  # DELETE
                                    members.pop(ev.kv.key, None)
                                else:
                                    members[ev.kv.key] = ev.kv.value
                            if resp.events:
                                publish(res, members)
                    finally:
                        watch.cancel()
                    await self._clock.sleep(backoff.next())  # the watch ended: list again soon
                except grpc.aio.AioRpcError as e:
                    res.publish(Failed(e))
                    await self._clock.sleep(backoff.next())

        return background_resolution(target.raw, follow, clock=self._clock, cleanup=client.aclose)

    def __repr__(self) -> str:
        return f"EtcdResolver(timeout={self.timeout})"


class EtcdAnnouncement:
    """A member key kept alive by a lease; ``aclose()`` revokes the lease (deleting it)."""

    def __init__(self, client: EtcdClient, key: bytes, value: bytes, ttl: int) -> None:
        self._client = client
        self.key = key
        self.value = value
        self.ttl = ttl
        self.lease = 0
        self.registrations = 0
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    async def _register(self) -> None:
        self.lease, granted = await self._client.grant(self.ttl)
        await self._client.put(self.key, self.value, self.lease)
        self.registrations += 1
        self.ttl = granted or self.ttl

    async def _keep(self) -> None:
        backoff = Backoff(0.2, 2.0)
        while True:
            await asyncio.sleep(max(self.ttl / 3.0, 0.2))
            try:
                if await self._client.keepalive_once(self.lease) <= 0:
                    log.warning("etcd lease of %r expired; registering again", self.key)
                    await self._register()
                backoff.reset()
            except (grpc.aio.AioRpcError, RuntimeError) as e:
                log.debug("etcd keepalive of %r failed: %r", self.key, e)
                await asyncio.sleep(backoff.next())

    async def aclose(self) -> None:
        """Revoke the lease (the member disappears at once) and close the client."""
        if self._closed:
            return
        self._closed = True
        await _stop_task(self._task)
        with contextlib.suppress(grpc.aio.AioRpcError):
            await self._client.revoke(self.lease)
        await self._client.aclose()

    async def __aenter__(self) -> EtcdAnnouncement:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"EtcdAnnouncement({self.key!r}, lease={self.lease}, registrations={self.registrations})"


async def announce(
    endpoints: str,
    prefix: str,
    address: Address,
    *,
    ttl: int = 10,
    timeout: float = 5.0,
) -> EtcdAnnouncement:
    """Register ``address`` as ``{prefix}/{host:port}`` under a kept-alive lease of ``ttl`` s.

    ``endpoints`` is ``"host:port[,host:port]"``.  Use the result as an async
    context manager, or call ``aclose()`` at shutdown.
    """
    if isinstance(ttl, bool) or not isinstance(ttl, int) or ttl < 2:
        raise ConfigurationError(f"etcd lease ttl must be an integer >= 2 seconds, got {ttl!r}")
    eps, key_prefix = parse_etcd_target(Target.parse(f"etcd://{endpoints}/{prefix.strip('/')}"))
    client = EtcdClient(eps, timeout=timeout)
    key = key_prefix + address.authority.encode()
    ann = EtcdAnnouncement(client, key, json.dumps(address_to_json(address)).encode(), ttl)
    try:
        await ann._register()
    except BaseException:
        await client.aclose()
        raise
    ann._task = asyncio.get_running_loop().create_task(ann._keep(), name=f"finpy-announce {key!r}")
    return ann
