"""The per-endpoint transport: one lazily created ``grpc.aio`` channel per address.

Each endpoint of a finpy gRPC client owns one ``grpc.aio`` channel to its
address, created on the first request (channels bind to the running event
loop) and closed when the endpoint leaves the set or the client closes.

TLS is applied per endpoint, but certificates are verified against the
*logical* service name (``server_name``), not the IP address dialled: the
channel is created with ``grpc.ssl_target_name_override`` and
``grpc.default_authority`` set to that name.

Fail fast: the endpoint's status follows its channel's connectivity.  A
channel that is connecting or in ``TRANSIENT_FAILURE`` (connection refused,
unreachable) reports ``BUSY`` so the balancer sends nothing there while gRPC
reconnects in the background with its own backoff; a call failing with
``UNAVAILABLE`` on a channel that is not ``READY`` marks the endpoint down at
once, until the channel is ``READY`` again.  One small watcher task per channel
(none per call) re-dials a connection that was up and dropped (``READY`` ->
``IDLE``: the server went away) right away, so a dead backend is found out by
the reconnect, not by the next request.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import grpc
import grpc.aio

from finpy.address import Address
from finpy.clock import SYSTEM_CLOCK, Clock
from finpy.context import _DEADLINE
from finpy.errors import DeadlineExceededError
from finpy.params import Param, Params
from finpy.service import Service, Status
from finpy_protocols.grpc.propagation import with_trace_context
from finpy_protocols.grpc.request import (
    CallShape,
    GrpcRequest,
    GrpcResponse,
    StreamResponse,
    UnaryResponse,
)

__all__ = ["GrpcChannelConfig", "GrpcTransport"]

ChannelOption = tuple[str, Any]


@dataclass(frozen=True, slots=True)
class GrpcChannelConfig(Param):
    """How each endpoint's ``grpc.aio`` channel is made."""

    credentials: grpc.ChannelCredentials | None = None
    """TLS/mTLS credentials; ``None`` for plaintext."""
    server_name: str | None = None
    """Logical name certificates are checked against (and the ``:authority``)."""
    options: tuple[ChannelOption, ...] = ()
    """Extra ``grpc`` channel options for every endpoint channel."""
    interceptors: tuple[Any, ...] = ()
    """``grpc.aio`` client interceptors, installed on every endpoint channel."""
    compression: grpc.Compression | None = None
    """Default compression of the channels."""


_C = grpc.ChannelConnectivity
# Endpoint status by channel state: a connection still being made is not ready yet.
_WATCHED_STATUS = {
    _C.IDLE: Status.OPEN,
    _C.CONNECTING: Status.BUSY,
    _C.READY: Status.OPEN,
    _C.TRANSIENT_FAILURE: Status.BUSY,
    _C.SHUTDOWN: Status.CLOSED,
}
_UNAVAILABLE = grpc.StatusCode.UNAVAILABLE


class GrpcTransport(Service[GrpcRequest, GrpcResponse]):
    """Sends requests to one address over its own ``grpc.aio`` channel."""

    __slots__ = (
        "_callables",
        "_channel",
        "_clock",
        "_closed",
        "_config",
        "_down",
        "_watcher",
        "address",
    )

    def __init__(
        self,
        address: Address,
        config: GrpcChannelConfig | None = None,
        *,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.address = address
        self._config = config if config is not None else GrpcChannelConfig()
        self._clock = clock
        self._channel: grpc.aio.Channel | None = None
        self._callables: dict[tuple[str, CallShape], Any] = {}
        self._closed = False
        self._down = False
        self._watcher: asyncio.Task[None] | None = None

    @classmethod
    def factory(cls, address: Address, params: Params) -> GrpcTransport:
        """The ``transport`` callable a :class:`finpy.Client` takes."""
        return cls(address, params[GrpcChannelConfig])

    # -- channel -------------------------------------------------------------------------

    def _options(self) -> list[ChannelOption]:
        opts = list(self._config.options)
        name = self._config.server_name
        if name:
            if self._config.credentials is not None:
                opts.append(("grpc.ssl_target_name_override", name))
            opts.append(("grpc.default_authority", name))
        return opts

    @property
    def channel(self) -> grpc.aio.Channel:
        """The endpoint's channel, created on first use."""
        ch = self._channel
        if ch is None:
            cfg = self._config
            interceptors: Sequence[Any] | None = list(cfg.interceptors) or None
            if cfg.credentials is None:
                ch = grpc.aio.insecure_channel(
                    self.address.authority,
                    options=self._options(),
                    compression=cfg.compression,
                    interceptors=interceptors,
                )
            else:
                ch = grpc.aio.secure_channel(
                    self.address.authority,
                    cfg.credentials,
                    options=self._options(),
                    compression=cfg.compression,
                    interceptors=interceptors,
                )
            self._channel = ch
            with contextlib.suppress(RuntimeError):  # no running loop: status reads the channel
                self._watcher = asyncio.get_running_loop().create_task(
                    self._follow(ch), name=f"finpy-connectivity-{self.address.authority}"
                )
        return ch

    async def _follow(self, ch: grpc.aio.Channel) -> None:
        """Reconnect a dropped connection (or one that failed) at once, with backoff."""
        was_ready = False
        kicks = 0
        state = ch.get_state(False)
        while True:
            if state is _C.READY:
                was_ready, kicks = True, 0
            elif state is _C.IDLE and (was_ready or self._down):
                if kicks:  # the last reconnect came back idle: back off (jittered)
                    cap = min(5.0, 0.05 * 2**kicks)
                    await self._clock.sleep(cap / 2 + random.random() * cap / 2)
                kicks += 1
                ch.get_state(True)
            await ch.wait_for_state_change(state)
            state = ch.get_state(False)

    def _callable(self, request: GrpcRequest) -> Any:
        key = (request.method, request.shape)
        mc = self._callables.get(key)
        if mc is None:
            factory = getattr(self.channel, request.shape.value)
            mc = factory(
                request.method,
                request_serializer=request.serializer,
                response_deserializer=request.deserializer,
                _registered_method=True,
            )
            self._callables[key] = mc
        return mc

    # -- calls ---------------------------------------------------------------------------

    async def __call__(self, request: GrpcRequest, /) -> GrpcResponse:
        mc = self._callable(request)
        deadline = _DEADLINE.get()
        timeout: float | None = None
        if deadline is not None:
            timeout = deadline - self._clock.now()
            if timeout <= 0:
                raise DeadlineExceededError("deadline passed before the attempt was sent; not sent")
        call = mc(
            request.message,
            timeout=timeout,
            metadata=with_trace_context(request.metadata),
            credentials=request.credentials,
            wait_for_ready=request.wait_for_ready,
            compression=request.compression,
        )
        try:
            return await self._response(request, call)
        except grpc.aio.AioRpcError as e:
            if e.code() is _UNAVAILABLE:
                ch = self._channel
                if ch is not None and ch.get_state(False) is not _C.READY:
                    self._down = True  # a connect error: down until READY
            raise

    @staticmethod
    async def _response(request: GrpcRequest, call: Any) -> GrpcResponse:
        shape = request.shape
        if shape is CallShape.UNARY_UNARY or (
            shape is CallShape.STREAM_UNARY and request.message is not None
        ):
            return UnaryResponse(await call, call)
        if shape.response_streaming and (
            shape is CallShape.UNARY_STREAM or request.message is not None
        ):
            # Read the first message here, so a failure before any response
            # (the only retryable one for a stream) surfaces inside the stack.
            try:
                first = await call.read()
            except BaseException:
                call.cancel()
                raise
            return StreamResponse(call, first)
        return StreamResponse(call)  # the caller drives writes: nothing to prefetch

    @property
    def status(self) -> Status:
        if self._closed:
            return Status.CLOSED
        ch = self._channel
        if ch is None:
            return Status.OPEN
        state = ch.get_state(False)
        if state is _C.READY:
            self._down = False
            return Status.OPEN
        if self._down:
            return Status.BUSY
        return _WATCHED_STATUS.get(state, Status.OPEN)

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        ch, self._channel = self._channel, None
        watcher, self._watcher = self._watcher, None
        self._callables.clear()
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        if ch is not None:
            await ch.close(None)

    def __repr__(self) -> str:
        state = (
            "closed"
            if self._closed
            else "idle"
            if self._channel is None
            else self._channel.get_state(False).name
        )
        return f"GrpcTransport({self.address.authority}, {state})"
