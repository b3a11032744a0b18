"""``Client``: a target, a transport and two stacks, assembled into one service.

This is the protocol-agnostic heart of finpy.  A client

1. validates its target at construction (a target no resolver understands is
   an error right away),
2. on first use starts resolving it and builds an :class:`EndpointSet` whose
   endpoints are the *endpoint stack* over a transport for each address,
3. puts the *client stack* (deadline, and later retries, hedging, admission)
   on top of the balancer.

Protocol adapters (``finpy_protocols.grpc``) supply the transport and the
user-facing surface.  The stacks are ordinary :class:`~finpy.stack.Stack`
objects: insert, replace or remove modules by role to change behaviour.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from finpy.accrual.filter import FailureAccrualFilter
from finpy.address import Address
from finpy.balancer.base import Balancer
from finpy.balancer.ewma import P2CPeakEwma
from finpy.clock import ClockParam
from finpy.deadline import DeadlineFilter
from finpy.endpoint_set import EndpointSet, EndpointSetStatistics
from finpy.errors import ConfigurationError, ServiceClosedError
from finpy.observe import registry as _live_clients
from finpy.observe.tracing import attempt_observe_module, observe_module
from finpy.params import Param, Params
from finpy.resolver.guard import DiscoveryPolicy, guard
from finpy.resolver.registry import ResolverRegistry, default_registry
from finpy.resolver.resolution import Resolution
from finpy.resolver.target import Target
from finpy.retry.filter import RetryFilter
from finpy.retry.hedge import HedgeFilter
from finpy.retry.state import bind_retry_state
from finpy.retry.statistics import RetryStatistics, RetryStatsParam
from finpy.service import Service, Status
from finpy.stack import FilterModule, Stack
from finpy.timeout import AttemptTimeoutFilter

__all__ = [
    "BalancerFactory",
    "Client",
    "ClientStatistics",
    "DrainTimeout",
    "EndpointAddress",
    "Label",
    "default_client_stack",
    "default_endpoint_stack",
]

Req = TypeVar("Req")
Rep = TypeVar("Rep")


@dataclass(frozen=True, slots=True)
class BalancerFactory(Param):
    """Makes the client's balancer (default: P2C peak-EWMA, latency-aware)."""

    make: Callable[[], Balancer[Any, Any]] = P2CPeakEwma


@dataclass(frozen=True, slots=True)
class DrainTimeout(Param):
    """How long a removed endpoint may finish in-flight requests before it is closed."""

    seconds: float | None = 30.0


@dataclass(frozen=True, slots=True)
class EndpointAddress(Param):
    """The address an endpoint stack is being built for (set by the client)."""

    address: Address | None = None


@dataclass(frozen=True, slots=True)
class Label(Param):
    """A human name of the client, for statistics and logs (default: the target)."""

    name: str = ""


def default_client_stack() -> Stack[Any, Any]:
    """The stack above the balancer, top first.

    Roles: ``observe``, ``deadline``, ``retries``, ``hedge``.  ``observe`` is on
    top so the logical span and the call duration cover everything below (it is
    left out when OpenTelemetry is not configured, see :mod:`finpy.observe`).
    ``retries`` and ``hedge`` sit
    below ``deadline``, so every attempt and every backoff shares one deadline,
    and above the balancer, so a retry or a backup request can pick another
    endpoint; ``hedge`` is below ``retries`` so each attempt may be hedged and a
    failed hedged attempt is judged by the retry layer.  Both draw on the one
    retry budget of the client.  ``admission`` will go just above the balancer.
    """
    return Stack(
        [
            observe_module(),
            FilterModule(
                "deadline",
                DeadlineFilter.from_params,
                "default timeout; refuse expired requests; bound the call",
            ),
            FilterModule(
                "retries",
                RetryFilter.from_params,
                "requeue never-sent requests, retry retryable failures; budget, backoff",
            ),
            FilterModule(
                "hedge",
                HedgeFilter.from_params,
                "backup requests for slow idempotent calls (when enabled)",
            ),
        ]
    )


def default_endpoint_stack() -> Stack[Any, Any]:
    """The stack of each endpoint, above its transport, top first.

    Roles: ``attempt_observe``, ``failure_accrual``, ``attempt_timeout``.
    ``attempt_observe`` (one span per attempt, attempt counts; absent without
    OpenTelemetry) is on top so it sees an attempt timeout as such and the
    breaker transition an attempt caused.  Failure accrual sits
    above the per-attempt timeout so the breaker sees timeouts; it marks the
    endpoint BUSY when ejected and never rejects a request itself (configure
    with :class:`finpy.accrual.FailureAccrual`).
    """
    return Stack(
        [
            attempt_observe_module(),
            FilterModule(
                "failure_accrual",
                FailureAccrualFilter.from_params,
                "per-endpoint circuit breaker (marks the endpoint BUSY; fails open)",
            ),
            FilterModule(
                "attempt_timeout", AttemptTimeoutFilter.from_params, "per-attempt timeout"
            ),
        ]
    )


@dataclass(frozen=True, slots=True)
class ClientStatistics:
    """A snapshot of one client."""

    label: str
    target: str
    status: str
    requests: int
    endpoints: EndpointSetStatistics | None
    retries: RetryStatistics | None = None
    """Retries, requeues, hedges and the retry budget of the client."""


def _retry_statistics(params: Params) -> RetryStatistics | None:
    stats = params[RetryStatsParam].stats
    return None if stats is None else stats.statistics()


_ids = itertools.count(1)


class Client(Service[Req, Rep], Generic[Req, Rep]):
    """A load-balanced, resolved, filtered service for one target."""

    def __init__(
        self,
        target: str | Resolution,
        transport: Callable[[Address, Params], Service[Req, Rep]],
        *,
        params: Params | None = None,
        stack: Stack[Req, Rep] | None = None,
        endpoint_stack: Stack[Req, Rep] | None = None,
        registry: ResolverRegistry | None = None,
    ) -> None:
        if not callable(transport):
            raise ConfigurationError(
                f"transport must be a callable (address, params) -> Service, got {transport!r}"
            )
        # one retry budget and one set of retry counters per client (finpy.retry.state)
        self.params = bind_retry_state(params if params is not None else Params())
        self.stack: Stack[Req, Rep] = stack if stack is not None else default_client_stack()
        self.endpoint_stack: Stack[Req, Rep] = (
            endpoint_stack if endpoint_stack is not None else default_endpoint_stack()
        )
        self._registry = registry if registry is not None else default_registry()
        self._transport = transport
        if isinstance(target, Resolution):
            self.target: str = target.target or f"resolution-{next(_ids)}"
            self._resolution: Resolution | None = target
            self._parsed: Target | None = None
        elif isinstance(target, str):
            _, self._parsed = self._registry.validate(target)
            self.target = target
            self._resolution = None
        else:
            raise ConfigurationError(f"target must be a string or a Resolution, got {target!r}")
        self.label = self.params[Label].name or self.target
        if not self.params[Label].name:  # stack modules (spans, metrics) name the client too
            self.params = self.params.with_(Label(self.label))
        self._service: Service[Req, Rep] | None = None
        self._endpoint_set: EndpointSet[Req, Rep] | None = None
        self._owns_resolution = self._resolution is None
        self._closed = False
        self.requests = 0
        _live_clients.register(self)  # weakly: for metrics and finpy.observe.dump()

    # -- building ------------------------------------------------------------------------

    def _make_endpoint(self, address: Address) -> Service[Req, Rep]:
        params = self.params.with_(EndpointAddress(address))
        return self.endpoint_stack.make(params, self._transport(address, params))

    def _start(self) -> Service[Req, Rep]:
        if self._closed:
            raise ServiceClosedError(f"client {self.label!r} is closed")
        if self._resolution is None:
            assert self._parsed is not None
            # Resolver-made resolutions go through the last-known-good guard: a failure
            # of discovery must never empty the live set (DiscoveryPolicy configures it).
            self._resolution = guard(
                self._registry.resolve(self._parsed),
                self.params[DiscoveryPolicy],
                clock=self.params[ClockParam].clock,
            )
        endpoint_set: EndpointSet[Req, Rep] = EndpointSet(
            self._resolution,
            self._make_endpoint,
            self.params[BalancerFactory].make(),
            drain_timeout=self.params[DrainTimeout].seconds,  # deadlines: loop clock
        )
        self._endpoint_set = endpoint_set
        self._service = self.stack.make(self.params, endpoint_set)
        return self._service

    def start(self) -> None:
        """Start resolving now instead of at the first request (needs a running loop)."""
        asyncio.get_running_loop()
        if self._service is None:
            self._start()

    # -- serving -------------------------------------------------------------------------

    def __call__(self, request: Req, /) -> Coroutine[Any, Any, Rep]:
        # Not ``async``: the stack's own coroutine is handed back (one frame less per call).
        svc = self._service
        if svc is None:
            svc = self._start()
        self.requests += 1
        return svc(request)

    @property
    def endpoint_set(self) -> EndpointSet[Req, Rep] | None:
        """The live endpoint set (``None`` before the first request)."""
        return self._endpoint_set

    @property
    def resolution(self) -> Resolution | None:
        return self._resolution

    @property
    def status(self) -> Status:
        if self._closed:
            return Status.CLOSED
        return Status.OPEN if self._endpoint_set is None else self._endpoint_set.status

    def statistics(self) -> ClientStatistics:
        return ClientStatistics(
            label=self.label,
            target=self.target,
            status=self.status.value,
            requests=self.requests,
            endpoints=None if self._endpoint_set is None else self._endpoint_set.statistics(),
            retries=_retry_statistics(self.params),
        )

    async def aclose(self) -> None:
        """Close every endpoint and stop discovery (if this client started it).  Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._service is not None:
            await self._service.aclose()  # reaches the endpoint set through the filters
        if self._endpoint_set is not None:
            await self._endpoint_set.aclose()
        if self._owns_resolution and self._resolution is not None:
            await self._resolution.aclose()

    def __repr__(self) -> str:
        return f"Client({self.label!r}, status={self.status.value})"
