"""Evidence, from the run itself, that each peer does what it claims.

A comparison is only as good as its peers: a ``round_robin`` that silently
fell back to ``pick_first``, or a retry policy that gRPC ignored, would make
finpy look better than it is.  Each check reads the server-side counters of
the same run:

* every ``round_robin`` peer sends an equal share (within 20%) of the healthy
  scenario's calls to every backend;
* ``plain`` makes exactly one attempt per call (outage: attempts/request = 1);
* ``grpc-retry`` retries (attempts exceed requests in the failing-replica or
  outage scenario: the ``retryPolicy`` is in force), and its
  ``retryThrottling`` holds an outage to well under the 3 attempts per request
  that ``maxAttempts`` alone would allow (<= 1.5);
* ``tenacity`` makes up to 3 attempts (outage: 2.5 to 3 attempts per request;
  fewer only when the deadline cuts the backoff short).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from finpy.bench.result import RunResult

__all__ = ["PeerCheck", "verify_peers"]


@dataclass(frozen=True, slots=True)
class PeerCheck:
    """One claim about a peer and the evidence for or against it."""

    peer: str
    claim: str
    evidence: str
    ok: bool | None
    """``None``: the scenario that would show it was not run."""

    def to_json(self) -> dict[str, object]:
        return {
            "type": "peer_check",
            "peer": self.peer,
            "claim": self.claim,
            "evidence": self.evidence,
            "ok": self.ok,
        }


def _spread(peer: str, r: RunResult | None) -> PeerCheck:
    claim = "round_robin spreads calls evenly over every backend (within 20%)"
    if r is None:
        return PeerCheck(peer, claim, "healthy scenario not run", None)
    counts = r.attempts_by_backend
    fair = sum(counts) / len(counts) if counts else 0.0
    ok = fair > 0 and all(abs(c - fair) <= 0.2 * fair for c in counts)
    return PeerCheck(
        peer, claim, "healthy, attempts per backend: " + "/".join(map(str, counts)), ok
    )


def verify_peers(results: Iterable[RunResult]) -> list[PeerCheck]:
    """Check every peer claim that the scenarios of this run can show."""
    by_key = {(r.scenario, r.peer): r for r in results}
    peers = {p for _, p in by_key}
    checks: list[PeerCheck] = []

    def amp(scenario: str, peer: str) -> str:
        r = by_key.get((scenario, peer))
        return "not run" if r is None else f"{r.attempts}/{r.load.sent} = {r.amplification:.2f}"

    for peer in ("plain", "grpc-retry", "tenacity"):
        if peer in peers:
            checks.append(_spread(peer, by_key.get(("healthy", peer))))

    if "plain" in peers:
        r = by_key.get(("outage", "plain"))
        checks.append(
            PeerCheck(
                "plain",
                "one attempt per call (no retries)",
                f"outage attempts/request {amp('outage', 'plain')}",
                None if r is None else r.attempts == r.load.sent,
            )
        )
    if "grpc-retry" in peers:
        runs = [r for s in ("failing-replica", "outage") if (r := by_key.get((s, "grpc-retry")))]
        checks.append(
            PeerCheck(
                "grpc-retry",
                "the service-config retryPolicy is applied (retries happen)",
                f"failing-replica {amp('failing-replica', 'grpc-retry')}, "
                f"outage {amp('outage', 'grpc-retry')}",
                None if not runs else any(r.attempts > r.load.sent for r in runs),
            )
        )
        r = by_key.get(("outage", "grpc-retry"))
        checks.append(
            PeerCheck(
                "grpc-retry",
                "retryThrottling bounds retries in an outage (<= 1.5 attempts/request)",
                f"outage {amp('outage', 'grpc-retry')}",
                None if r is None else r.amplification <= 1.5,
            )
        )
    if "tenacity" in peers:
        r = by_key.get(("outage", "tenacity"))
        checks.append(
            PeerCheck(
                "tenacity",
                "retries up to 3 attempts per call (outage: 2.5..3 attempts/request)",
                f"outage {amp('outage', 'tenacity')}",
                None if r is None else 2.5 <= r.amplification <= 3.0,
            )
        )
    return checks
