"""Tests of ``finpy.errors``: the one hierarchy, its status names and request_sent flags."""

from __future__ import annotations

import pytest

import finpy
from finpy import (
    AttemptTimeoutError,
    BudgetExhaustedError,
    ConfigurationError,
    DeadlineExceededError,
    FinpyError,
    NoEndpointsError,
    RejectedError,
    ResolutionError,
    ServiceClosedError,
    TargetError,
)


@pytest.mark.parametrize(
    ("cls", "parent"),
    [
        (ConfigurationError, FinpyError),
        (TargetError, ConfigurationError),
        (ServiceClosedError, FinpyError),
        (NoEndpointsError, FinpyError),
        (ResolutionError, FinpyError),
        (DeadlineExceededError, FinpyError),
        (AttemptTimeoutError, DeadlineExceededError),
        (RejectedError, FinpyError),
        (BudgetExhaustedError, RejectedError),
    ],
)
def test_hierarchy(cls: type[FinpyError], parent: type[FinpyError]) -> None:
    """Each error sits where the documented tree puts it."""
    assert cls.__mro__[1] is parent  # the direct (first) base


def test_configuration_errors_are_value_errors() -> None:
    """Bad configuration can be caught as ValueError too."""
    assert issubclass(ConfigurationError, ValueError)
    assert issubclass(TargetError, ValueError)


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (FinpyError(), "UNKNOWN"),
        (ConfigurationError(), "INVALID_ARGUMENT"),
        (TargetError(), "INVALID_ARGUMENT"),
        (ServiceClosedError(), "UNAVAILABLE"),
        (NoEndpointsError(), "UNAVAILABLE"),
        (ResolutionError(), "UNAVAILABLE"),
        (DeadlineExceededError(), "DEADLINE_EXCEEDED"),
        (AttemptTimeoutError(), "DEADLINE_EXCEEDED"),
        (RejectedError(), "RESOURCE_EXHAUSTED"),
        (BudgetExhaustedError(), "RESOURCE_EXHAUSTED"),
    ],
)
def test_status_names(error: FinpyError, status: str) -> None:
    """Every error carries the canonical status a protocol surface reports."""
    assert error.status == status


@pytest.mark.parametrize(
    "error",
    [
        ServiceClosedError(),
        NoEndpointsError(),
        ResolutionError(),
        RejectedError(),
        BudgetExhaustedError(),
        DeadlineExceededError(),
    ],
)
def test_local_failures_are_not_sent(error: FinpyError) -> None:
    """Failures finpy decides before sending say request_sent=False (safe to requeue)."""
    assert error.request_sent is False


def test_deadline_error_request_sent_is_per_instance() -> None:
    """DeadlineExceededError says per instance whether the request left; attempt timeouts always did."""
    sent = DeadlineExceededError("late", request_sent=True)
    assert sent.request_sent is True
    assert DeadlineExceededError("early").request_sent is False
    assert DeadlineExceededError.request_sent is False  # the class default is untouched
    assert AttemptTimeoutError("slow").request_sent is True
    assert str(AttemptTimeoutError("slow")) == "slow"


def test_every_error_is_exported_from_finpy() -> None:
    """The whole tree is importable from the top-level package."""
    for name in finpy.errors.__all__:
        assert getattr(finpy, name) is getattr(finpy.errors, name)
