"""Test tools for code that uses finpy: real local gRPC backends with injectable faults.

- :class:`FaultCluster` starts N real ``grpc.aio`` servers on ``127.0.0.1`` in a background
  thread; each :class:`Backend` has a :class:`Behavior` (latency, tail latency, injected
  errors, capacity, refused connections) that a test changes while calls run, can be
  stopped and restarted on the same port, and counts the calls it received
  (:class:`BackendStatistics`, :class:`ClusterStatistics`).
- The Echo service (:mod:`finpy.testing.echo`) covers the four gRPC call shapes and names
  the backend in every reply.
- pytest fixtures ``finpy_cluster`` and ``finpy_cluster_factory`` come with finpy
  (:mod:`finpy.testing.pytest_plugin`, registered through the ``pytest11`` entry point).

Names are imported when first used, so importing this package (as the pytest plugin does)
does not import grpc.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from finpy.testing.behavior import Behavior
    from finpy.testing.cluster import Backend, FaultCluster, ServicerFactory
    from finpy.testing.echo import (
        EchoReply,
        EchoRequest,
        EchoService,
        EchoServicer,
        EchoStub,
        add_EchoServicer_to_server,
    )
    from finpy.testing.faults import (
        Fault,
        FaultInjection,
        FaultInjectionFilter,
        FaultStatistics,
        fault_injection_module,
        fault_injection_stack,
    )
    from finpy.testing.statistics import BackendStatistics, ClusterStatistics

# Public name -> module that defines it (loaded lazily by __getattr__).
_EXPORTS = {
    "Backend": "finpy.testing.cluster",
    "BackendStatistics": "finpy.testing.statistics",
    "Behavior": "finpy.testing.behavior",
    "ClusterStatistics": "finpy.testing.statistics",
    "EchoReply": "finpy.testing.echo",
    "EchoRequest": "finpy.testing.echo",
    "EchoService": "finpy.testing.echo",
    "EchoServicer": "finpy.testing.echo",
    "EchoStub": "finpy.testing.echo",
    "FaultCluster": "finpy.testing.cluster",
    "Fault": "finpy.testing.faults",
    "FaultInjection": "finpy.testing.faults",
    "FaultInjectionFilter": "finpy.testing.faults",
    "FaultStatistics": "finpy.testing.faults",
    "fault_injection_module": "finpy.testing.faults",
    "fault_injection_stack": "finpy.testing.faults",
    "ServicerFactory": "finpy.testing.cluster",
    "add_EchoServicer_to_server": "finpy.testing.echo",
}

__all__ = [
    "Backend",
    "BackendStatistics",
    "Behavior",
    "ClusterStatistics",
    "EchoReply",
    "EchoRequest",
    "EchoService",
    "EchoServicer",
    "EchoStub",
    "Fault",
    "FaultCluster",
    "FaultInjection",
    "FaultInjectionFilter",
    "FaultStatistics",
    "ServicerFactory",
    "add_EchoServicer_to_server",
    "fault_injection_module",
    "fault_injection_stack",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    # Not cached here: the defining module stays the one source of truth, even when a
    # test harness (pytester) drops and re-imports it.
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
