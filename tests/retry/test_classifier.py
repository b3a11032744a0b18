"""The protocol-independent classification of finpy's own errors and marked failures."""

from __future__ import annotations

import pytest

from finpy import (
    AttemptTimeoutError,
    BudgetExhaustedError,
    ConfigurationError,
    DeadlineExceededError,
    MethodConfig,
    NoEndpointsError,
    RejectedError,
    ResolutionError,
    ServiceClosedError,
)
from finpy.retry import (
    Classification,
    ResponseClass,
    ResponseClassifier,
    as_classification,
    classify_finpy_error,
    default_classifier,
    is_marked_non_retryable,
    mark_non_retryable,
)


class Req:
    def __init__(self, idempotent: bool = False) -> None:
        self.method_config = MethodConfig(idempotent=idempotent)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (NoEndpointsError("none"), ResponseClass.REQUEUE),
        (ServiceClosedError("endpoint closed"), ResponseClass.REQUEUE),
        (DeadlineExceededError("late"), ResponseClass.NON_RETRYABLE),
        (DeadlineExceededError("late", request_sent=True), ResponseClass.NON_RETRYABLE),
        (ResolutionError("discovery down"), ResponseClass.NON_RETRYABLE),
        (ConfigurationError("bad"), ResponseClass.NON_RETRYABLE),
        (RejectedError("admission"), ResponseClass.IGNORABLE),
        (BudgetExhaustedError("empty"), ResponseClass.IGNORABLE),
    ],
)
def test_finpy_errors_by_kind(error: Exception, expected: ResponseClass) -> None:
    """Never-sent errors requeue; deadline, discovery and config errors stop; local rejections are ignorable."""
    cls = classify_finpy_error(Req(idempotent=True), error)
    assert cls is not None and cls.response_class is expected


def test_attempt_timeout_is_retryable_only_for_idempotent_methods() -> None:
    """A per-attempt timeout was sent: retried only when the method is idempotent."""
    err = AttemptTimeoutError("slow")
    assert classify_finpy_error(Req(True), err).response_class is ResponseClass.RETRYABLE  # type: ignore[union-attr]
    other = classify_finpy_error(Req(False), err)
    assert other is not None and other.response_class is ResponseClass.NON_RETRYABLE
    assert "not idempotent" in other.reason


def test_a_marked_failure_is_never_retried_whatever_it_is() -> None:
    """mark_non_retryable wins over the error's own class, for finpy and foreign errors."""
    err = mark_non_retryable(NoEndpointsError("none"))
    assert is_marked_non_retryable(err)
    assert classify_finpy_error(Req(), err).response_class is ResponseClass.NON_RETRYABLE  # type: ignore[union-attr]
    foreign = mark_non_retryable(OSError("x"))
    assert default_classifier(Req(), None, foreign).response_class is ResponseClass.NON_RETRYABLE


def test_default_classifier_success_and_unknown_failures() -> None:
    """Any response is a success; a failure finpy does not know is non-retryable."""
    assert default_classifier(Req(), "reply", None).response_class is ResponseClass.SUCCESS
    assert (
        default_classifier(Req(True), None, ValueError("x")).response_class
        is ResponseClass.NON_RETRYABLE
    )
    assert classify_finpy_error(Req(), ValueError("x")) is None


def test_as_classification_normalises_and_refuses_junk() -> None:
    """A bare ResponseClass becomes a Classification; anything else is a configuration error."""
    assert as_classification(ResponseClass.RETRYABLE) == Classification(ResponseClass.RETRYABLE)
    c = Classification(ResponseClass.RETRYABLE, retry_after=0.1)
    assert as_classification(c) is c
    with pytest.raises(ConfigurationError, match="True"):
        as_classification(True)  # type: ignore[arg-type]


def test_classification_validates_its_fields() -> None:
    """retry_after must be a finite number >= 0 and response_class a ResponseClass."""
    with pytest.raises(ConfigurationError, match="-1"):
        Classification(ResponseClass.RETRYABLE, retry_after=-1)
    with pytest.raises(ConfigurationError, match="'retry'"):
        Classification("retry")  # type: ignore[arg-type]


def test_response_classifier_param_needs_a_callable() -> None:
    """The ResponseClassifier param refuses a non-callable, naming it."""
    assert ResponseClassifier().classifier is default_classifier
    with pytest.raises(ConfigurationError, match="'nope'"):
        ResponseClassifier("nope")  # type: ignore[arg-type]
