"""Tests of ``finpy.accrual.policy``: when an endpoint should be ejected."""

from __future__ import annotations

import pytest

from finpy import ConfigurationError
from finpy.accrual import FailureAccrualPolicy


def test_five_consecutive_failures_trip() -> None:
    """The fifth failure in a row trips; four do not."""
    p = FailureAccrualPolicy(success_rate=None)
    assert [p.record_failure(0.0) for _ in range(5)] == [False] * 4 + [True]


def test_a_success_resets_the_consecutive_count() -> None:
    """Failures separated by a success never reach five in a row."""
    p = FailureAccrualPolicy(success_rate=None)
    for _ in range(4):
        assert not p.record_failure(0.0)
    p.record_success(0.0)
    assert p.consecutive == 0
    assert not any(p.record_failure(0.0) for _ in range(4))


def test_success_rate_below_80_percent_trips() -> None:
    """With 20 requests in the window, 4 failures (80%) pass and the 5th (75%) trips."""
    p = FailureAccrualPolicy(consecutive_failures=None)
    for _ in range(16):
        p.record_success(1.0)
    assert not any(p.record_failure(1.0) for _ in range(4))  # 16 ok of 20 = 80%
    assert p.record_failure(1.0)  # 16 ok of 21 = 76%


def test_success_rate_needs_min_requests() -> None:
    """A failure among fewer than min_requests requests does not trip on rate."""
    p = FailureAccrualPolicy(consecutive_failures=None, min_requests=5)
    p.record_success(0.0)
    assert not p.record_failure(0.0)
    assert not p.record_failure(0.0)
    p.record_success(0.0)
    assert p.record_failure(0.0)  # 5 requests, 2 ok: 40%
    assert p.statistics().success_rate == pytest.approx(0.4)


def test_old_outcomes_leave_the_window() -> None:
    """Failures older than the 30 s window no longer count."""
    p = FailureAccrualPolicy(consecutive_failures=None)
    for _ in range(4):
        p.record_failure(0.0)
    stats = p.statistics(31.0)
    assert stats.window_requests == 0 and stats.success_rate is None
    for _ in range(10):
        p.record_success(40.0)
    assert not p.record_failure(40.0)  # 10 of 11 ok


def test_window_slides_bucket_by_bucket() -> None:
    """Outcomes expire one 3 s bucket at a time as time moves."""
    p = FailureAccrualPolicy(consecutive_failures=None)
    p.record_failure(0.0)
    p.record_success(10.0)
    assert p.statistics(29.0).window_requests == 2
    assert p.statistics(31.0).window_requests == 1
    assert p.statistics(41.0).window_requests == 0


def test_reset_forgets_everything() -> None:
    """After reset the policy has no history."""
    p = FailureAccrualPolicy()
    for _ in range(3):
        p.record_failure(0.0)
    p.reset()
    s = p.statistics()
    assert (s.consecutive_failures, s.window_requests, s.window_failures) == (0, 0, 0)


@pytest.mark.parametrize(
    ("kwargs", "bad"),
    [
        ({"consecutive_failures": 0}, "consecutive_failures"),
        ({"success_rate": 1.5}, "1.5"),
        ({"window": -1}, "-1"),
        ({"min_requests": 0}, "min_requests"),
    ],
)
def test_bad_settings_are_rejected(kwargs: dict[str, float], bad: str) -> None:
    """Each bad setting is a configuration error naming it."""
    with pytest.raises(ConfigurationError, match=bad):
        FailureAccrualPolicy(**kwargs)  # type: ignore[arg-type]
