"""Snapshots of what the test backends saw: attempts, outcomes, concurrency."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import grpc

__all__ = ["BackendStatistics", "ClusterStatistics"]


@dataclass(frozen=True)
class BackendStatistics:
    """What one backend saw since it started or its counters were last reset.

    Attributes:
        name: the backend's name, e.g. ``"backend-0"``.
        address: ``"127.0.0.1:<port>"``.
        listening: whether the backend accepts connections right now.
        attempts: calls received (each attempt of a client is one call).
        attempts_by_method: calls received per full method name,
            e.g. ``"/finpy.testing.echo.Echo/Echo"``.
        successes: calls that ended with status OK.
        failures: calls that ended with an error, by status code; injected errors,
            rejections over capacity and calls cancelled by the client included.
        injected_errors: failures caused by ``Behavior.error_code``.
        rejected_over_capacity: calls refused because ``Behavior.capacity`` calls were
            in flight.
        in_flight: calls running now.
        max_in_flight: the most calls that ran at once.
    """

    name: str
    address: str
    listening: bool
    attempts: int
    attempts_by_method: dict[str, int]
    successes: int
    failures: dict[grpc.StatusCode, int]
    injected_errors: int
    rejected_over_capacity: int
    in_flight: int
    max_in_flight: int

    @property
    def failed(self) -> int:
        """Number of calls that ended with an error."""
        return sum(self.failures.values())


@dataclass(frozen=True)
class ClusterStatistics:
    """What every backend of a cluster saw; totals are sums over ``backends``."""

    backends: tuple[BackendStatistics, ...]

    @property
    def attempts(self) -> int:
        """Calls received by all backends."""
        return sum(b.attempts for b in self.backends)

    @property
    def successes(self) -> int:
        """Calls that ended with status OK, on all backends."""
        return sum(b.successes for b in self.backends)

    @property
    def failures(self) -> dict[grpc.StatusCode, int]:
        """Failed calls by status code, on all backends."""
        total: Counter[grpc.StatusCode] = Counter()
        for b in self.backends:
            total.update(b.failures)
        return dict(total)

    @property
    def in_flight(self) -> int:
        """Calls running now, on all backends."""
        return sum(b.in_flight for b in self.backends)

    @property
    def attempts_by_backend(self) -> dict[str, int]:
        """Calls received, by backend name."""
        return {b.name: b.attempts for b in self.backends}
