"""Names of the attributes, spans and metrics finpy records, in one place.

finpy follows the OpenTelemetry RPC semantic conventions as most backends
understand them today (``rpc.system``, ``rpc.service``, ``rpc.method``,
``rpc.grpc.status_code``, ``server.address``/``server.port``, ``error.type``,
and the ``rpc.client.call.duration`` histogram in seconds).  What the
conventions do not cover (attempts, retries, hedges, budgets, breakers,
discovery) is named under ``finpy.``.

The names are spelled out here rather than imported from
``opentelemetry-semantic-conventions``, whose RPC module is still marked
incubating and renames attributes between releases; a change of convention is
then one edit in this file.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "ATTEMPT_SPAN_SUFFIX",
    "CALL_DURATION",
    "CALL_DURATION_BUCKETS",
    "CANONICAL_CODES",
    "ERROR_TYPE",
    "EVENT_BUDGET_EXHAUSTED",
    "EVENT_ENDPOINT_EJECTED",
    "EVENT_ENDPOINT_REVIVED",
    "FINPY_ATTEMPTS",
    "FINPY_ATTEMPT_NUMBER",
    "FINPY_ATTEMPT_REASON",
    "FINPY_BREAKER_STATE",
    "FINPY_BREAKER_TRANSITION",
    "FINPY_BUDGET_WANTED",
    "FINPY_CLIENT",
    "FINPY_DEADLINE_MS",
    "FINPY_ENDPOINT_STATE",
    "FINPY_HEDGE_OUTCOME",
    "FINPY_RESOLVER_REJECTION",
    "FINPY_RETRY_KIND",
    "METRIC_ATTEMPTS",
    "METRIC_BREAKERS",
    "METRIC_BREAKER_TRANSITIONS",
    "METRIC_BUDGET_BALANCE",
    "METRIC_BUDGET_EXHAUSTED",
    "METRIC_ENDPOINTS",
    "METRIC_HEDGES",
    "METRIC_REJECTIONS",
    "METRIC_RESOLVER_FAILURES",
    "METRIC_RESOLVER_REJECTED",
    "METRIC_RESOLVER_STALENESS",
    "METRIC_RESOLVER_UPDATES",
    "METRIC_RETRIES",
    "RPC_GRPC_STATUS_CODE",
    "RPC_METHOD",
    "RPC_REQUEST_METADATA_PREFIX",
    "RPC_SERVICE",
    "RPC_SYSTEM",
    "SCOPE_NAME",
    "SERVER_ADDRESS",
    "SERVER_PORT",
    "code_number",
]

#: Instrumentation scope of every tracer and meter finpy asks for.
SCOPE_NAME: Final = "finpy"

# -- OpenTelemetry RPC semantic conventions --------------------------------------------------

RPC_SYSTEM: Final = "rpc.system"
RPC_SERVICE: Final = "rpc.service"
RPC_METHOD: Final = "rpc.method"
RPC_GRPC_STATUS_CODE: Final = "rpc.grpc.status_code"
SERVER_ADDRESS: Final = "server.address"
SERVER_PORT: Final = "server.port"
ERROR_TYPE: Final = "error.type"
#: ``rpc.<system>.request.metadata.<key>``: opt-in, never for credential-bearing keys.
RPC_REQUEST_METADATA_PREFIX: Final = "rpc.{system}.request.metadata."

#: Duration of each logical call, in seconds (one record per call, however many attempts).
CALL_DURATION: Final = "rpc.client.call.duration"
#: Bucket boundaries the conventions advise for RPC durations in seconds.
CALL_DURATION_BUCKETS: Final = (
    0.0,
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
)

# -- finpy's own attributes ----------------------------------------------------------------

FINPY_CLIENT: Final = "finpy.client"
"""The client's label (its target unless named)."""
FINPY_ATTEMPTS: Final = "finpy.attempts"
"""On a logical span: attempts made (retries, requeues and hedges included)."""
FINPY_ATTEMPT_NUMBER: Final = "finpy.attempt.number"
"""On an attempt span: its 1-based number within the logical call."""
FINPY_ATTEMPT_REASON: Final = "finpy.attempt.reason"
"""Why the attempt exists: ``first``, ``retry``, ``requeue`` or ``hedge``."""
FINPY_DEADLINE_MS: Final = "finpy.deadline.remaining_ms"
"""Milliseconds left before the call's deadline when it started (absent: unbounded)."""
FINPY_BUDGET_WANTED: Final = "finpy.retry_budget.wanted"
"""On a budget-exhausted event: what was refused, ``retry`` (or requeue) or ``hedge``."""
FINPY_RETRY_KIND: Final = "finpy.retry.kind"
FINPY_HEDGE_OUTCOME: Final = "finpy.hedge.outcome"
FINPY_ENDPOINT_STATE: Final = "finpy.endpoint.state"
FINPY_BREAKER_STATE: Final = "finpy.breaker.state"
FINPY_BREAKER_TRANSITION: Final = "finpy.breaker.transition"
FINPY_RESOLVER_REJECTION: Final = "finpy.resolver.rejection"

#: Attempt spans are named ``<service>/<method> attempt``.
ATTEMPT_SPAN_SUFFIX: Final = " attempt"

# -- span events ---------------------------------------------------------------------------

EVENT_ENDPOINT_EJECTED: Final = "finpy.endpoint.ejected"
EVENT_ENDPOINT_REVIVED: Final = "finpy.endpoint.revived"
EVENT_BUDGET_EXHAUSTED: Final = "finpy.retry_budget.exhausted"

# -- finpy's metrics -----------------------------------------------------------------------

METRIC_ATTEMPTS: Final = "finpy.client.attempts"
METRIC_RETRIES: Final = "finpy.client.retries"
METRIC_HEDGES: Final = "finpy.client.hedges"
METRIC_BUDGET_BALANCE: Final = "finpy.client.retry_budget.balance"
METRIC_BUDGET_EXHAUSTED: Final = "finpy.client.retry_budget.exhausted"
METRIC_ENDPOINTS: Final = "finpy.client.endpoints"
METRIC_BREAKERS: Final = "finpy.client.breakers"
METRIC_BREAKER_TRANSITIONS: Final = "finpy.client.breaker.transitions"
METRIC_REJECTIONS: Final = "finpy.client.rejections"
METRIC_RESOLVER_UPDATES: Final = "finpy.resolver.updates"
METRIC_RESOLVER_FAILURES: Final = "finpy.resolver.failures"
METRIC_RESOLVER_REJECTED: Final = "finpy.resolver.rejected"
METRIC_RESOLVER_STALENESS: Final = "finpy.resolver.staleness"

#: Canonical status names and their numbers (gRPC's codes, shared by finpy's errors).
CANONICAL_CODES: Final[dict[str, int]] = {
    "OK": 0,
    "CANCELLED": 1,
    "UNKNOWN": 2,
    "INVALID_ARGUMENT": 3,
    "DEADLINE_EXCEEDED": 4,
    "NOT_FOUND": 5,
    "ALREADY_EXISTS": 6,
    "PERMISSION_DENIED": 7,
    "RESOURCE_EXHAUSTED": 8,
    "FAILED_PRECONDITION": 9,
    "ABORTED": 10,
    "OUT_OF_RANGE": 11,
    "UNIMPLEMENTED": 12,
    "INTERNAL": 13,
    "UNAVAILABLE": 14,
    "DATA_LOSS": 15,
    "UNAUTHENTICATED": 16,
}


def code_number(name: str) -> int:
    """The number of a canonical status name (``UNKNOWN``'s, 2, for a name it does not know)."""
    return CANONICAL_CODES.get(name, 2)
