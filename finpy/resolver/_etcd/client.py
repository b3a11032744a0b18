"""A small etcd v3 client over grpc.aio: prefix range, prefix watch, leases, put.

Only what discovery needs.  The messages come from ``etcd_subset.proto``
(etcd's field numbers, finpy's own proto package); the method paths below
are etcd's.  The channel reconnects quickly (100 ms .. 2 s) so a restarted
etcd is found again within seconds, and keepalive pings notice a silently
dead server.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

import grpc
import grpc.aio

from finpy.resolver._etcd import etcd_subset_pb2

# Generated without stubs: the messages are dynamic attributes of the module.
pb: Any = etcd_subset_pb2

__all__ = ["EtcdClient", "prefix_end"]

_OPTIONS = (
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 2000),
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.keepalive_timeout_ms", 5_000),
)


def prefix_end(prefix: bytes) -> bytes:
    """The ``range_end`` that selects every key starting with ``prefix``."""
    b = bytearray(prefix)
    while b:
        if b[-1] < 0xFF:
            b[-1] += 1
            return bytes(b)
        b.pop()
    return b"\0"  # every key


def _grpc_target(endpoints: Sequence[str]) -> str:
    hosts = [e.rpartition(":")[0].strip("[]") for e in endpoints]
    try:
        for h in hosts:
            ipaddress.IPv4Address(h)
    except ValueError:
        return endpoints[0]
    return "ipv4:" + ",".join(endpoints)


class EtcdClient:
    """etcd v3 over one gRPC channel to ``endpoints`` (``host:port`` strings)."""

    def __init__(self, endpoints: Sequence[str], *, timeout: float = 5.0) -> None:
        self.endpoints = tuple(endpoints)
        self.timeout = timeout
        self.channel = grpc.aio.insecure_channel(_grpc_target(self.endpoints), options=_OPTIONS)
        ch: Any = self.channel  # the grpc stubs do not type write()-mode stream calls
        self._range = ch.unary_unary(
            "/etcdserverpb.KV/Range",
            request_serializer=pb.RangeRequest.SerializeToString,
            response_deserializer=pb.RangeResponse.FromString,
        )
        self._put = ch.unary_unary(
            "/etcdserverpb.KV/Put",
            request_serializer=pb.PutRequest.SerializeToString,
            response_deserializer=pb.PutResponse.FromString,
        )
        self._delete = ch.unary_unary(
            "/etcdserverpb.KV/DeleteRange",
            request_serializer=pb.DeleteRangeRequest.SerializeToString,
            response_deserializer=pb.DeleteRangeResponse.FromString,
        )
        self._watch = ch.stream_stream(
            "/etcdserverpb.Watch/Watch",
            request_serializer=pb.WatchRequest.SerializeToString,
            response_deserializer=pb.WatchResponse.FromString,
        )
        self._grant = ch.unary_unary(
            "/etcdserverpb.Lease/LeaseGrant",
            request_serializer=pb.LeaseGrantRequest.SerializeToString,
            response_deserializer=pb.LeaseGrantResponse.FromString,
        )
        self._revoke = ch.unary_unary(
            "/etcdserverpb.Lease/LeaseRevoke",
            request_serializer=pb.LeaseRevokeRequest.SerializeToString,
            response_deserializer=pb.LeaseRevokeResponse.FromString,
        )
        self._keepalive = ch.stream_stream(
            "/etcdserverpb.Lease/LeaseKeepAlive",
            request_serializer=pb.LeaseKeepAliveRequest.SerializeToString,
            response_deserializer=pb.LeaseKeepAliveResponse.FromString,
        )

    async def range_prefix(self, prefix: bytes) -> tuple[dict[bytes, bytes], int]:
        """Every key under ``prefix`` with its value, and the store revision."""
        resp: Any = await self._range(
            pb.RangeRequest(key=prefix, range_end=prefix_end(prefix)), timeout=self.timeout
        )
        return {kv.key: kv.value for kv in resp.kvs}, int(resp.header.revision)

    async def watch_prefix(self, prefix: bytes, start_revision: int) -> Any:
        """A watch call: iterate it for ``WatchResponse``; ``cancel()`` it when done.

        The request side stays open (etcd may end a half-closed watch stream) and is
        written directly, so no request-iterator task outlives a broken stream.
        """
        create = pb.WatchCreateRequest(
            key=prefix, range_end=prefix_end(prefix), start_revision=start_revision
        )
        call: Any = self._watch()
        await call.write(pb.WatchRequest(create_request=create))
        return call

    async def put(self, key: bytes, value: bytes, lease: int = 0) -> None:
        await self._put(pb.PutRequest(key=key, value=value, lease=lease), timeout=self.timeout)

    async def delete(self, key: bytes) -> None:
        await self._delete(pb.DeleteRangeRequest(key=key), timeout=self.timeout)

    async def grant(self, ttl: int) -> tuple[int, int]:
        """A new lease of ``ttl`` seconds: ``(id, ttl granted)``."""
        resp: Any = await self._grant(pb.LeaseGrantRequest(TTL=ttl), timeout=self.timeout)
        if resp.error:
            raise RuntimeError(f"etcd refused a lease: {resp.error}")
        return int(resp.ID), int(resp.TTL)

    async def revoke(self, lease: int) -> None:
        await self._revoke(pb.LeaseRevokeRequest(ID=lease), timeout=self.timeout)

    async def keepalive_once(self, lease: int) -> int:
        """Refresh ``lease``; returns its new TTL (<= 0: the lease is gone)."""
        call: Any = self._keepalive(timeout=self.timeout)
        try:
            await call.write(pb.LeaseKeepAliveRequest(ID=lease))
            resp = await call.read()
        finally:
            call.cancel()
        if not isinstance(resp, pb.LeaseKeepAliveResponse):  # EOF: the stream ended
            return 0
        return int(resp.TTL)

    async def aclose(self) -> None:
        await self.channel.close(None)

    def __repr__(self) -> str:
        return f"EtcdClient({','.join(self.endpoints)})"
