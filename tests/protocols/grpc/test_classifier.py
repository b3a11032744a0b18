"""GrpcClassifier: requeue of never-sent calls, retryable codes by idempotency, pushback, streams."""

from __future__ import annotations

import socket

import grpc
import grpc.aio
import pytest

from finpy import (
    AttemptTimeoutError,
    ConfigurationError,
    MethodConfig,
    NoEndpointsError,
    ResponseClass,
)
from finpy.retry import mark_non_retryable
from finpy_protocols.grpc import CallShape, GrpcClassifier, GrpcRequest
from finpy_protocols.grpc.classifier import GRPC_CLASSIFIER, never_sent, retry_pushback

C = grpc.StatusCode


def request(idempotent: bool = False, shape: CallShape = CallShape.UNARY_UNARY) -> GrpcRequest:
    message = iter(()) if shape.request_streaming else b"x"
    return GrpcRequest("/t.S/M", shape, message, method_config=MethodConfig(idempotent=idempotent))


def rpc_error(
    code: grpc.StatusCode,
    details: str = "boom",
    trailing: tuple[tuple[str, str], ...] = (),
    debug: str | None = None,
) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(
        code, grpc.aio.Metadata(), grpc.aio.Metadata(*trailing), details, debug
    )


def classify(error: BaseException | None, req: GrpcRequest | None = None) -> ResponseClass:
    return GRPC_CLASSIFIER(req or request(), None if error else object(), error).response_class


REFUSED = (
    "failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:1: "
    "Failed to connect to remote host: Connection refused"
)


def test_a_returned_call_is_a_success() -> None:
    """A call that returned (for a stream: its first message arrived) is a success."""
    assert classify(None) is ResponseClass.SUCCESS


def test_a_refused_connection_is_requeued_even_for_non_idempotent_methods() -> None:
    """UNAVAILABLE with a connect failure never reached a server: requeue, whatever the method."""
    error = rpc_error(C.UNAVAILABLE, REFUSED, debug=f"UNAVAILABLE:{REFUSED}")
    assert never_sent(error)
    assert classify(error, request(idempotent=False)) is ResponseClass.REQUEUE


async def test_grpc_own_connection_refused_error_is_recognised() -> None:
    """The error grpc really raises for a closed port is classified as a requeue."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again before the call: nothing listens there
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        call = channel.unary_unary("/t.S/M", request_serializer=None, response_deserializer=None)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await call(b"x", timeout=5)
    assert classify(info.value) is ResponseClass.REQUEUE


def test_finpy_never_sent_errors_are_requeued() -> None:
    """finpy's own never-sent failures (no endpoint) are requeued."""
    assert classify(NoEndpointsError("none")) is ResponseClass.REQUEUE


@pytest.mark.parametrize("idempotent", [False, True])
def test_unavailable_from_a_server_is_retryable_for_every_method(idempotent: bool) -> None:
    """A server's UNAVAILABLE is retryable for idempotent and non-idempotent methods."""
    error = rpc_error(C.UNAVAILABLE, "draining")
    assert not never_sent(error)
    assert classify(error, request(idempotent)) is ResponseClass.RETRYABLE


@pytest.mark.parametrize(
    "code", [C.DEADLINE_EXCEEDED, C.RESOURCE_EXHAUSTED, C.INTERNAL, C.CANCELLED]
)
def test_other_transient_codes_are_retryable_only_for_idempotent_methods(
    code: grpc.StatusCode,
) -> None:
    """DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, INTERNAL, CANCELLED: retried only if idempotent."""
    error = rpc_error(code)
    assert classify(error, request(idempotent=True)) is ResponseClass.RETRYABLE
    cls = GRPC_CLASSIFIER(request(idempotent=False), None, error)
    assert cls.response_class is ResponseClass.NON_RETRYABLE
    assert "not declared idempotent" in cls.reason


def test_attempt_timeouts_follow_idempotency_too() -> None:
    """finpy's per-attempt timeout is retried for idempotent methods only."""
    assert classify(AttemptTimeoutError("slow"), request(True)) is ResponseClass.RETRYABLE
    assert classify(AttemptTimeoutError("slow"), request(False)) is ResponseClass.NON_RETRYABLE


@pytest.mark.parametrize(
    "code",
    [C.INVALID_ARGUMENT, C.NOT_FOUND, C.PERMISSION_DENIED, C.FAILED_PRECONDITION, C.UNIMPLEMENTED],
)
def test_caller_errors_are_never_retried(code: grpc.StatusCode) -> None:
    """Codes that another attempt cannot fix are not retried, even for idempotent methods."""
    assert classify(rpc_error(code), request(idempotent=True)) is ResponseClass.NON_RETRYABLE


def test_valid_pushback_sets_the_wait() -> None:
    """grpc-retry-pushback-ms: 250 makes a retryable failure wait exactly 0.25 s."""
    error = rpc_error(C.RESOURCE_EXHAUSTED, trailing=(("grpc-retry-pushback-ms", "250"),))
    cls = GRPC_CLASSIFIER(request(idempotent=True), None, error)
    assert cls.response_class is ResponseClass.RETRYABLE and cls.retry_after == 0.25


@pytest.mark.parametrize("value", ["-1", "abc", "1.5", "", "+5", "٣"])
def test_negative_or_malformed_pushback_means_do_not_retry(value: str) -> None:
    """A negative or malformed pushback is the server saying "do not retry", even for UNAVAILABLE."""
    for code in (C.RESOURCE_EXHAUSTED, C.UNAVAILABLE):
        error = rpc_error(code, trailing=(("grpc-retry-pushback-ms", value),))
        cls = GRPC_CLASSIFIER(request(idempotent=True), None, error)
        assert cls.response_class is ResponseClass.NON_RETRYABLE
        assert "pushback" in cls.reason


def test_pushback_does_not_make_a_non_retryable_failure_retryable() -> None:
    """Pushback only times retries: RESOURCE_EXHAUSTED on a non-idempotent method stays not retried."""
    error = rpc_error(C.RESOURCE_EXHAUSTED, trailing=(("grpc-retry-pushback-ms", "10"),))
    assert classify(error, request(idempotent=False)) is ResponseClass.NON_RETRYABLE


def test_retry_pushback_parsing() -> None:
    """retry_pushback: absent -> None; milliseconds -> seconds; bytes accepted; junk -> refusal."""
    assert retry_pushback(None) is None
    assert retry_pushback((("x-other", "1"),)) is None
    assert retry_pushback((("Grpc-Retry-Pushback-Ms", b"1500"),)).delay == 1.5  # type: ignore[union-attr]
    assert retry_pushback((("grpc-retry-pushback-ms", "0"),)).delay == 0.0  # type: ignore[union-attr]
    assert retry_pushback((("grpc-retry-pushback-ms", "-20"),)).delay is None  # type: ignore[union-attr]


@pytest.mark.parametrize("shape", [CallShape.STREAM_UNARY, CallShape.STREAM_STREAM])
def test_request_streams_are_only_requeued_before_grpc_has_them(shape: CallShape) -> None:
    """A request stream may have been consumed: only finpy's never-sent errors are requeued."""
    req = request(idempotent=True, shape=shape)
    assert classify(NoEndpointsError("none"), req) is ResponseClass.REQUEUE
    refused = rpc_error(C.UNAVAILABLE, REFUSED)
    assert classify(refused, req) is ResponseClass.NON_RETRYABLE
    assert classify(rpc_error(C.UNAVAILABLE), req) is ResponseClass.NON_RETRYABLE
    assert classify(AttemptTimeoutError("slow"), req) is ResponseClass.NON_RETRYABLE


def test_response_streams_before_their_first_message_are_like_unary() -> None:
    """A server-streaming call that failed before any response follows the unary rules."""
    req = request(idempotent=True, shape=CallShape.UNARY_STREAM)
    assert classify(rpc_error(C.UNAVAILABLE), req) is ResponseClass.RETRYABLE


def test_marked_and_foreign_failures_are_not_retried() -> None:
    """A failure a retry layer gave up on, or one that is not a gRPC status, is not retried."""
    assert classify(mark_non_retryable(rpc_error(C.UNAVAILABLE))) is ResponseClass.NON_RETRYABLE
    assert classify(ValueError("serializer broke")) is ResponseClass.NON_RETRYABLE


def test_codes_are_configurable() -> None:
    """retryable_codes and idempotent_retryable_codes change which codes are retried."""
    strict = GrpcClassifier(retryable_codes=(), idempotent_retryable_codes=())
    assert strict(request(True), None, rpc_error(C.UNAVAILABLE)).response_class is (
        ResponseClass.NON_RETRYABLE
    )
    lenient = GrpcClassifier(retryable_codes=(C.UNAVAILABLE, C.ABORTED))
    assert lenient(request(False), None, rpc_error(C.ABORTED)).response_class is (
        ResponseClass.RETRYABLE
    )
    assert "ABORTED" in repr(lenient)


@pytest.mark.parametrize("codes", [("UNAVAILABLE",), (C.OK,)])
def test_bad_codes_are_refused(codes: tuple[object, ...]) -> None:
    """Codes must be grpc.StatusCode values other than OK."""
    with pytest.raises(ConfigurationError):
        GrpcClassifier(retryable_codes=codes)  # type: ignore[arg-type]
