"""The Echo servicer every test backend runs unless told otherwise."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

import grpc.aio

from finpy.testing.echo.echo_pb2 import EchoReply, EchoRequest
from finpy.testing.echo.echo_pb2_grpc import EchoServicer

__all__ = ["EchoService"]

Context = grpc.aio.ServicerContext[Any, Any]


class EchoService(EchoServicer):
    """Echoes requests back, naming the backend (``server``) in every reply."""

    def __init__(self, server: str) -> None:
        self.server = server

    def __repr__(self) -> str:
        return f"EchoService({self.server!r})"

    async def Echo(self, request: EchoRequest, context: Context) -> EchoReply:
        """Unary: the request's message."""
        return EchoReply(message=request.message, server=self.server, index=0)

    async def Expand(self, request: EchoRequest, context: Context) -> AsyncIterator[EchoReply]:
        """Server streaming: ``request.count`` replies, indexed from 0."""
        for index in range(request.count):
            yield EchoReply(message=request.message, server=self.server, index=index)

    async def Collect(
        self, request_iterator: AsyncIterable[EchoRequest], context: Context
    ) -> EchoReply:
        """Client streaming: the messages joined with ",", ``index`` = how many."""
        messages = [request.message async for request in request_iterator]
        return EchoReply(message=",".join(messages), server=self.server, index=len(messages))

    async def Chat(
        self, request_iterator: AsyncIterable[EchoRequest], context: Context
    ) -> AsyncIterator[EchoReply]:
        """Bidirectional streaming: one reply per request, as it arrives."""
        index = 0
        async for request in request_iterator:
            yield EchoReply(message=request.message, server=self.server, index=index)
            index += 1
