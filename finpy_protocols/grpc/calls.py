"""The call objects a finpy channel hands to generated stubs.

They implement ``grpc.aio``'s call interfaces (``UnaryUnaryCall``,
``UnaryStreamCall``, ``StreamUnaryCall``, ``StreamStreamCall``), so code that
awaits a call, iterates it, reads its metadata, code or details, writes to it
or cancels it keeps working unchanged.

A call runs the finpy client stack once (which may make several attempts)
the first time anything asks for its outcome.  When that is the caller's
``await`` (the common case) the stack runs inline in the caller's task: no
extra task per call.  Later readers of the same call wait for that outcome.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Generator
from typing import Any

import grpc
import grpc.aio

from finpy.clock import SYSTEM_CLOCK
from finpy.context import _DEADLINE
from finpy.errors import FinpyError
from finpy.service import Service
from finpy_protocols.grpc.errors import to_rpc_error
from finpy_protocols.grpc.request import (
    NOTHING,
    GrpcRequest,
    GrpcResponse,
    StreamResponse,
    UnaryResponse,
)

__all__ = ["StreamStreamCall", "StreamUnaryCall", "UnaryStreamCall", "UnaryUnaryCall"]

_EOF: Any = grpc.aio.EOF  # type: ignore[attr-defined]
DoneCallback = Callable[[Any], None]


def _detached(error: BaseException) -> BaseException:
    """A copy of ``error`` without traceback, cause or context.

    A call keeps its failure for later readers (``code()``, a second ``await``).
    Keeping the raised exception itself would keep its traceback, whose frames
    hold the call (and the grpc call below it): a reference cycle that only the
    garbage collector frees, possibly after the event loop has closed.  grpc
    itself keeps the status and raises a new exception each time; so do we.
    """
    if isinstance(error, asyncio.CancelledError):
        return asyncio.CancelledError(*error.args)
    clone = type(error).__new__(type(error))
    clone.args = error.args
    for key, value in vars(error).items():
        setattr(clone, key, _detached(value) if isinstance(value, BaseException) else value)
    return clone


class _Call:
    """What all four call shapes share: running the stack once, outcome, callbacks."""

    __slots__ = (
        "_callbacks",
        "_cancelled",
        "_client",
        "_context",
        "_deadline",
        "_error",
        "_finished",
        "_request",
        "_response",
        "_runner",
        "_timeout",
        "_waiters",
    )

    def __init__(
        self,
        client: Service[GrpcRequest, GrpcResponse],
        request: GrpcRequest,
        timeout: float | None,
        context: str,
    ) -> None:
        self._client = client
        self._request = request
        self._timeout = timeout
        self._context = context  # for error details: which client/target
        self._deadline: float | None = None
        self._response: GrpcResponse | None = None
        self._error: BaseException | None = None
        self._runner: asyncio.Task[Any] | None = None
        self._waiters: list[asyncio.Future[None]] | None = None
        self._callbacks: list[DoneCallback] | None = None
        self._cancelled = False
        self._finished = False

    # -- running the stack ---------------------------------------------------------------

    async def _get_response(self) -> GrpcResponse:
        rep = self._response
        if rep is not None:
            return rep
        if self._error is not None:
            raise _detached(self._error)
        if self._runner is not None:  # someone else is running it: wait for the outcome
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            if self._waiters is None:
                self._waiters = []
            self._waiters.append(fut)
            await fut
            return await self._get_response()
        if self._cancelled:
            raise asyncio.CancelledError()
        self._runner = asyncio.current_task()
        try:
            rep = await self._invoke()
        except BaseException as e:
            self._error = _detached(e)
            self._settle(done=True)
            raise
        self._response = rep
        if isinstance(rep, StreamResponse):
            rep.call.add_done_callback(lambda _c: self._settle(done=True))
            self._settle(done=False)
        else:
            self._settle(done=True)
        return rep

    async def _invoke(self) -> GrpcResponse:
        timeout = self._timeout
        outer = _DEADLINE.get()
        if timeout is None:
            self._deadline = outer
            try:
                return await self._client(self._request)
            except FinpyError as e:
                raise to_rpc_error(e, context=self._context) from e
        deadline = SYSTEM_CLOCK.now() + timeout
        if outer is not None and outer < deadline:
            deadline = outer
        self._deadline = deadline
        token = _DEADLINE.set(deadline)
        try:
            return await self._client(self._request)
        except FinpyError as e:
            raise to_rpc_error(e, context=self._context) from e
        finally:
            _DEADLINE.reset(token)

    def _settle(self, *, done: bool) -> None:
        waiters, self._waiters = self._waiters, None
        if waiters:
            for w in waiters:
                if not w.done():
                    w.set_result(None)
        if done and not self._finished:
            self._finished = True
            callbacks, self._callbacks = self._callbacks, None
            for cb in callbacks or ():
                cb(self)

    # -- grpc.aio.RpcContext -------------------------------------------------------------

    def cancelled(self) -> bool:
        if self._cancelled or isinstance(self._error, asyncio.CancelledError):
            return True
        rep = self._response
        return isinstance(rep, StreamResponse) and bool(rep.call.cancelled())

    def done(self) -> bool:
        if self._finished:
            return True
        rep = self._response
        return isinstance(rep, StreamResponse) and bool(rep.call.done())

    def time_remaining(self) -> float | None:
        if self._deadline is None:
            return None
        return max(0.0, self._deadline - SYSTEM_CLOCK.now())

    def cancel(self) -> bool:
        if self.done():
            return False
        self._cancelled = True
        rep = self._response
        if isinstance(rep, StreamResponse):
            return bool(rep.call.cancel())
        runner = self._runner
        if runner is not None and runner is not asyncio.current_task():
            runner.cancel()
        return True

    def add_done_callback(self, callback: DoneCallback) -> None:
        if self.done():
            callback(self)
            return
        if self._callbacks is None:
            self._callbacks = []
        self._callbacks.append(callback)

    # -- grpc.aio.Call -------------------------------------------------------------------

    async def _outcome(self) -> tuple[GrpcResponse | None, BaseException | None]:
        try:
            return await self._get_response(), None
        except (grpc.aio.AioRpcError, asyncio.CancelledError) as e:
            return None, e

    async def initial_metadata(self) -> Any:
        rep, err = await self._outcome()
        if rep is not None:
            return await rep.call.initial_metadata()
        return (
            err.initial_metadata() if isinstance(err, grpc.aio.AioRpcError) else grpc.aio.Metadata()
        )

    async def trailing_metadata(self) -> Any:
        rep, err = await self._outcome()
        if rep is not None:
            return await rep.call.trailing_metadata()
        return (
            err.trailing_metadata()
            if isinstance(err, grpc.aio.AioRpcError)
            else grpc.aio.Metadata()
        )

    async def code(self) -> grpc.StatusCode:
        rep, err = await self._outcome()
        if rep is not None:
            return await rep.call.code()  # type: ignore[no-any-return]
        return err.code() if isinstance(err, grpc.aio.AioRpcError) else grpc.StatusCode.CANCELLED

    async def details(self) -> str:
        rep, err = await self._outcome()
        if rep is not None:
            return await rep.call.details()  # type: ignore[no-any-return]
        if isinstance(err, grpc.aio.AioRpcError):
            return err.details() or ""
        return "Locally cancelled by application!"

    async def wait_for_connection(self) -> None:
        rep = await self._get_response()
        if isinstance(rep, StreamResponse):
            await rep.call.wait_for_connection()

    def __repr__(self) -> str:
        state = "done" if self.done() else "running" if self._runner is not None else "new"
        return f"<finpy {type(self).__name__} {self._request.method} {state}>"


class _Reads(_Call):
    """Response-streaming calls: ``read()`` and ``async for``."""

    __slots__ = ()

    async def read(self) -> Any:
        rep = await self._get_response()
        assert isinstance(rep, StreamResponse)
        first = rep.take_first()
        if first is not NOTHING:
            return first
        return await rep.call.read()

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Any]:
        while True:
            message = await self.read()
            if message is _EOF:
                return
            yield message


class _Writes(_Call):
    """Request-streaming calls driven by ``write()`` / ``done_writing()``."""

    __slots__ = ()

    async def write(self, request: Any) -> None:
        rep = await self._get_response()
        assert isinstance(rep, StreamResponse)
        await rep.call.write(request)

    async def done_writing(self) -> None:
        rep = await self._get_response()
        assert isinstance(rep, StreamResponse)
        await rep.call.done_writing()


class UnaryUnaryCall(_Call, grpc.aio.UnaryUnaryCall[Any, Any]):
    """``await call`` gives the response message."""

    __slots__ = ()

    def __await__(self) -> Generator[Any, None, Any]:
        rep = yield from self._get_response().__await__()
        assert isinstance(rep, UnaryResponse)
        return rep.message


class UnaryStreamCall(_Reads, grpc.aio.UnaryStreamCall[Any, Any]):
    """``async for message in call`` / ``await call.read()``."""

    __slots__ = ()


class StreamUnaryCall(_Writes, grpc.aio.StreamUnaryCall[Any, Any]):
    """Requests from an iterator or ``write()``; ``await call`` gives the response."""

    __slots__ = ()

    def __await__(self) -> Generator[Any, None, Any]:
        rep = yield from self._get_response().__await__()
        if isinstance(rep, UnaryResponse):
            return rep.message
        message = yield from rep.call.__await__()
        return message


class StreamStreamCall(_Reads, _Writes, grpc.aio.StreamStreamCall[Any, Any]):
    """Requests from an iterator or ``write()``; responses by ``read()`` / ``async for``."""

    __slots__ = ()
