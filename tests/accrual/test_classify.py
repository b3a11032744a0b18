"""Tests of ``finpy.accrual.classify``: which failures count against an endpoint."""

from __future__ import annotations

import asyncio

import grpc
import grpc.aio
import pytest

from finpy import AttemptTimeoutError, DeadlineExceededError, NoEndpointsError
from finpy.accrual import status_classifier, status_name


def _rpc_error(code: grpc.StatusCode) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), "details", "")


@pytest.mark.parametrize(
    ("code", "verdict"),
    [
        (grpc.StatusCode.UNAVAILABLE, True),
        (grpc.StatusCode.DEADLINE_EXCEEDED, True),
        (grpc.StatusCode.INTERNAL, True),
        (grpc.StatusCode.NOT_FOUND, False),
        (grpc.StatusCode.INVALID_ARGUMENT, False),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, False),
        (grpc.StatusCode.UNKNOWN, False),
    ],
)
def test_grpc_errors_by_status(code: grpc.StatusCode, verdict: bool) -> None:
    """Endpoint trouble counts as failure; application answers count as a healthy endpoint."""
    assert status_classifier()(_rpc_error(code)) is verdict


def test_finpy_errors_count_only_when_sent() -> None:
    """An attempt timeout counts; a deadline that passed before sending says nothing."""
    classify = status_classifier()
    assert classify(AttemptTimeoutError("slow")) is True
    assert classify(DeadlineExceededError("expired before send")) is None
    assert classify(NoEndpointsError("none")) is None


def test_cancellation_and_local_bugs_have_no_verdict() -> None:
    """Cancellation and errors without a status are not the endpoint's fault."""
    classify = status_classifier()
    assert classify(asyncio.CancelledError()) is None
    assert classify(TypeError("bad serializer")) is None
    assert status_name(TypeError("x")) is None


def test_custom_statuses() -> None:
    """The set of failing status names can be changed."""
    classify = status_classifier({"RESOURCE_EXHAUSTED"})
    assert classify(_rpc_error(grpc.StatusCode.RESOURCE_EXHAUSTED)) is True
    assert classify(_rpc_error(grpc.StatusCode.UNAVAILABLE)) is False
