"""Peer checks: each peer's claim is read from the server-side counters of the same run."""

from __future__ import annotations

from collections.abc import Callable

from finpy.bench.result import RunResult
from finpy.bench.verify import verify_peers

MakeRun = Callable[..., RunResult]


def by_claim(checks: list, peer: str) -> dict[str, bool | None]:  # type: ignore[type-arg]
    return {c.claim.split(" (")[0]: c.ok for c in checks if c.peer == peer}


def test_round_robin_must_spread_within_twenty_percent(make_run: MakeRun) -> None:
    """An even healthy spread passes; a pick_first-like pile on one backend fails."""
    even = make_run("healthy", "plain", planned=250, by_backend=(50, 50, 50, 50, 50))
    piled = make_run("healthy", "tenacity", planned=250, by_backend=(250, 0, 0, 0, 0))
    checks = verify_peers([even, piled])
    assert by_claim(checks, "plain")["round_robin spreads calls evenly over every backend"]
    assert not by_claim(checks, "tenacity")["round_robin spreads calls evenly over every backend"]
    assert "250/0/0/0/0" in next(c.evidence for c in checks if c.peer == "tenacity")


def test_plain_must_make_exactly_one_attempt_per_call(make_run: MakeRun) -> None:
    """Any retry by the plain peer in an outage is flagged."""
    assert by_claim(verify_peers([make_run("outage", "plain", ok=0)]), "plain")[
        "one attempt per call"
    ]
    retried = make_run("outage", "plain", ok=0, attempts=1001)
    assert not by_claim(verify_peers([retried]), "plain")["one attempt per call"]


def test_grpc_retry_must_retry_and_be_throttled(make_run: MakeRun) -> None:
    """Retries must show up as extra attempts, and throttling must hold an outage under 1.5."""
    applied = [
        make_run("failing-replica", "grpc-retry", attempts=1030),
        make_run("outage", "grpc-retry", ok=0, attempts=1020),
    ]
    v = by_claim(verify_peers(applied), "grpc-retry")
    assert v["the service-config retryPolicy is applied"] is True
    assert v["retryThrottling bounds retries in an outage"] is True
    ignored = [make_run("outage", "grpc-retry", ok=0, attempts=3000)]
    v = by_claim(verify_peers(ignored), "grpc-retry")
    assert v["retryThrottling bounds retries in an outage"] is False


def test_tenacity_must_make_up_to_three_attempts(make_run: MakeRun) -> None:
    """2.5..3 attempts per request in an outage; fewer means the retry is not in force."""
    assert by_claim(
        verify_peers([make_run("outage", "tenacity", ok=0, attempts=3000)]), "tenacity"
    )["retries up to 3 attempts per call"]
    assert not by_claim(
        verify_peers([make_run("outage", "tenacity", ok=0, attempts=1000)]), "tenacity"
    )["retries up to 3 attempts per call"]


def test_claims_without_their_scenario_are_not_shown(make_run: MakeRun) -> None:
    """A check whose scenario did not run is None, not a pass."""
    checks = verify_peers([make_run("slow-replica", "grpc-retry")])
    assert {c.claim.split(" (")[0]: c.ok for c in checks} == {
        "round_robin spreads calls evenly over every backend": None,
        "the service-config retryPolicy is applied": None,
        "retryThrottling bounds retries in an outage": None,
    }
    assert checks[0].to_json()["type"] == "peer_check"
