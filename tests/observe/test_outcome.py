"""Tests of ``finpy.observe.outcome``: how calls ended, in the conventions' terms."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import grpc.aio

from finpy import DeadlineExceededError, NoEndpointsError
from finpy.observe.outcome import OK, description_of, outcome_of_error, outcome_of_response


def rpc_error(code: grpc.StatusCode, details: str = "") -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details, None)


def test_server_status_is_the_error_type() -> None:
    """A status a server answered with: code number, and error.type = the status name."""
    out = outcome_of_error(rpc_error(grpc.StatusCode.RESOURCE_EXHAUSTED, "slow down"))
    assert (out.status, out.code, out.error_type) == ("RESOURCE_EXHAUSTED", 8, "RESOURCE_EXHAUSTED")
    assert description_of(rpc_error(grpc.StatusCode.INTERNAL, "boom")) == "boom"


def test_finpy_failures_name_their_class_and_carry_their_status() -> None:
    """finpy's own failures: error.type is the qualified class, the code its canonical status."""
    out = outcome_of_error(NoEndpointsError("none"))
    assert (out.code, out.error_type) == (14, "finpy.errors.NoEndpointsError")
    out = outcome_of_error(DeadlineExceededError("late"))
    assert (out.code, out.error_type) == (4, "finpy.errors.DeadlineExceededError")


def test_cancellation_and_other_exceptions() -> None:
    """Cancelled is CANCELLED (1); any other exception is UNKNOWN (2) with its class name."""
    assert outcome_of_error(asyncio.CancelledError()).error_type == "CANCELLED"
    out = outcome_of_error(ValueError("bad"))
    assert (out.code, out.error_type) == (2, "ValueError")
    assert outcome_of_error(ValueError("x")) is out  # interned: nothing allocated per call
    assert description_of(ValueError("")) == "ValueError"


class _Call:
    def __init__(self, code: grpc.StatusCode, ready: bool = True) -> None:
        self._code = code
        self._ready = ready

    async def code(self) -> grpc.StatusCode:
        if not self._ready:
            await asyncio.sleep(0)  # not finished yet: it would have to wait
        return self._code


class _Response:
    def __init__(self, call: Any) -> None:
        self.call = call


def test_finished_stream_status_is_read_without_waiting() -> None:
    """A finished stream's status is read at once; an unfinished one gives None."""
    assert outcome_of_response(_Response(_Call(grpc.StatusCode.OK))) is OK
    failed = outcome_of_response(_Response(_Call(grpc.StatusCode.UNAVAILABLE)))
    assert failed is not None and failed.code == 14
    assert outcome_of_response(_Response(_Call(grpc.StatusCode.OK, ready=False))) is None
    assert outcome_of_response(object()) is None
