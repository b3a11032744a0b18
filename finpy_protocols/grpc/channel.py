"""``Channel``: a drop-in ``grpc.aio.Channel`` backed by a finpy client.

Generated stubs take it as they take any ``grpc.aio`` channel::

    channel = Channel("static:///10.0.0.1:50051,10.0.0.2:50051", timeout=1.0)
    stub = echo_pb2_grpc.EchoStub(channel)
    reply = await stub.Echo(EchoRequest(message="hi"), timeout=0.3)

Behind it, every call goes through the finpy client stack (deadline, ...,
load balancer) to one of the endpoints of the target, each with its own
``grpc.aio`` channel.  Per-call ``timeout``, ``metadata``, ``credentials``,
``wait_for_ready`` and ``compression`` are passed through.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import Any, ClassVar

import grpc
import grpc.aio

from finpy.accrual.filter import FailureAccrual
from finpy.balancer import Balancer, ZoneAware, balancer_factory
from finpy.balancer.stats import BalancerStatistics, EndpointStatistics
from finpy.client import BalancerFactory, Client, Label, default_endpoint_stack
from finpy.deadline import EnforceDeadline
from finpy.errors import ConfigurationError
from finpy.method import MethodConfig, MethodConfigs
from finpy.observe.telemetry import Telemetry
from finpy.params import Params
from finpy.resolver.registry import ResolverRegistry
from finpy.resolver.resolution import Resolution
from finpy.resolver.state import Bound, Failed, Negative, ResolutionState
from finpy.resolver.target import Target
from finpy.retry.backoff import Backoff
from finpy.retry.budget import RetryBudget, RetryBudgetParam
from finpy.retry.classifier import Classifier, ResponseClassifier
from finpy.retry.filter import Retries
from finpy.retry.hedge import Hedge, HedgeParam
from finpy.retry.statistics import RetryStatistics, RetryStatsParam
from finpy.service import Status
from finpy.stack import Stack
from finpy.timeout import AttemptTimeout
from finpy_protocols.grpc.calls import (
    StreamStreamCall,
    StreamUnaryCall,
    UnaryStreamCall,
    UnaryUnaryCall,
    _Call,
)
from finpy_protocols.grpc.classifier import GRPC_CLASSIFIER
from finpy_protocols.grpc.health import HealthCheck, health_check_module
from finpy_protocols.grpc.request import CallShape, GrpcRequest, GrpcResponse
from finpy_protocols.grpc.transport import GrpcChannelConfig, GrpcTransport

__all__ = ["Channel"]

_C = grpc.ChannelConnectivity


def _logical_name(target: str | Resolution) -> str | None:
    """The name TLS should verify by default: the DNS name of a ``dns:``/``srv:`` target.

    Other schemes (static lists, files, ZooKeeper paths, etcd prefixes, Consul and
    Kubernetes service names) do not name a host a certificate could be issued
    for: pass ``server_name=`` with them.
    """
    if not isinstance(target, str):
        return None
    t = Target.parse(target)
    name = t.endpoint
    if t.scheme == "srv":  # _grpc._tcp.users.example -> users.example
        labels = name.split(".")
        while labels and labels[0].startswith("_"):
            labels.pop(0)
        return ".".join(labels) or None
    if t.scheme != "dns":
        return None
    if name.startswith("["):
        return name[1 : name.find("]")]
    host, sep, port = name.rpartition(":")
    return host if sep and port.isdigit() else name


def _retries(max_attempts: int | None, backoff: Backoff | None) -> Retries:
    """The channel's retry settings: the defaults of :class:`Retries` where not given."""
    retries = Retries()
    if max_attempts is not None:
        retries = dataclasses.replace(retries, max_attempts=max_attempts)
    if backoff is not None:
        retries = dataclasses.replace(retries, backoff=backoff)
    return retries


async def _next_state(res: Resolution) -> None:
    version = res.version
    await res.wait_for(lambda _s: res.version != version)


def _zoned(
    make: Callable[[], Balancer[Any, Any]], zone: str | None
) -> Callable[[], Balancer[Any, Any]]:
    """``make`` itself, or wrapped to prefer ``zone`` when one is given."""
    if zone is None:
        return make
    ZoneAware(zone)  # validate now, naming a bad zone

    def zone_aware() -> Balancer[Any, Any]:
        return ZoneAware(zone, inner=make)

    return zone_aware


def _failure_accrual(spec: FailureAccrual | bool | None) -> FailureAccrual:
    if spec is None or spec is True:
        return FailureAccrual()
    if spec is False:
        return FailureAccrual(enabled=False)
    if isinstance(spec, FailureAccrual):
        return spec
    raise ConfigurationError(
        f"failure_accrual must be True/False or a FailureAccrual, got {spec!r}"
    )


class _MultiCallable:
    __slots__ = ("_channel", "_config", "_deserializer", "_method", "_serializer")

    #: Only calls with one response message are hedged: a losing stream could not be
    #: taken back once it has started (see finpy.retry.hedge).
    _hedgeable = False

    def __init__(self, channel: Channel, method: str, serializer: Any, deserializer: Any) -> None:
        if not isinstance(method, str) or not method.startswith("/") or method.count("/") != 2:
            raise ConfigurationError(
                f"invalid gRPC method path {method!r}: expected '/package.Service/Method'"
            )
        self._channel = channel
        self._method = method
        self._serializer = serializer
        self._deserializer = deserializer
        self._config = channel.method_config(method)
        if not self._hedgeable and self._config.hedge is not False:
            self._config = dataclasses.replace(self._config, hedge=False)

    #: The call shape and the call class the subclass makes.
    _shape: ClassVar[CallShape]
    _call_class: ClassVar[type[_Call]]

    def _start(
        self,
        message: Any,
        timeout: float | None,
        metadata: Any,
        credentials: Any,
        wait_for_ready: bool | None,
        compression: Any,
    ) -> Any:
        """Make the call object; the stack runs when its outcome is first asked for."""
        request = GrpcRequest(
            self._method,
            self._shape,
            message,
            serializer=self._serializer,
            deserializer=self._deserializer,
            metadata=metadata,
            credentials=credentials,
            wait_for_ready=wait_for_ready,
            compression=compression,
            method_config=self._config,
        )
        if timeout is None:
            timeout = self._config.timeout
        channel = self._channel
        return self._call_class(channel._client, request, timeout, channel._label)


# The four multicallables differ only in the grpc interface they implement (and so
# the signature of __call__, which generated stubs and type checkers rely on).


class _UnaryUnary(_MultiCallable, grpc.aio.UnaryUnaryMultiCallable[Any, Any]):
    __slots__ = ()
    _hedgeable = True
    _shape = CallShape.UNARY_UNARY
    _call_class = UnaryUnaryCall

    def __call__(
        self,
        request: Any,
        timeout: float | None = None,
        metadata: Any = None,
        credentials: Any = None,
        wait_for_ready: bool | None = None,
        compression: Any = None,
    ) -> UnaryUnaryCall:
        call: UnaryUnaryCall = self._start(
            request, timeout, metadata, credentials, wait_for_ready, compression
        )
        return call


class _UnaryStream(_MultiCallable, grpc.aio.UnaryStreamMultiCallable[Any, Any]):
    __slots__ = ()
    _shape = CallShape.UNARY_STREAM
    _call_class = UnaryStreamCall

    def __call__(
        self,
        request: Any,
        timeout: float | None = None,
        metadata: Any = None,
        credentials: Any = None,
        wait_for_ready: bool | None = None,
        compression: Any = None,
    ) -> UnaryStreamCall:
        call: UnaryStreamCall = self._start(
            request, timeout, metadata, credentials, wait_for_ready, compression
        )
        return call


class _StreamUnary(_MultiCallable, grpc.aio.StreamUnaryMultiCallable[Any, Any]):
    __slots__ = ()
    _shape = CallShape.STREAM_UNARY
    _call_class = StreamUnaryCall

    def __call__(
        self,
        request_iterator: Any = None,
        timeout: float | None = None,
        metadata: Any = None,
        credentials: Any = None,
        wait_for_ready: bool | None = None,
        compression: Any = None,
    ) -> StreamUnaryCall:
        call: StreamUnaryCall = self._start(
            request_iterator, timeout, metadata, credentials, wait_for_ready, compression
        )
        return call


class _StreamStream(_MultiCallable, grpc.aio.StreamStreamMultiCallable[Any, Any]):
    __slots__ = ()
    _shape = CallShape.STREAM_STREAM
    _call_class = StreamStreamCall

    def __call__(
        self,
        request_iterator: Any = None,
        timeout: float | None = None,
        metadata: Any = None,
        credentials: Any = None,
        wait_for_ready: bool | None = None,
        compression: Any = None,
    ) -> StreamStreamCall:
        call: StreamStreamCall = self._start(
            request_iterator, timeout, metadata, credentials, wait_for_ready, compression
        )
        return call


class Channel(grpc.aio.Channel):
    """A ``grpc.aio.Channel`` that load-balances over a resolved target through finpy.

    Args:
        target: ``scheme:///name`` (``static:///h:p,h:p``, ``dns:///host:port``, ...),
            a bare ``host:port,host:port`` list, or a :class:`finpy.Resolution`.
        timeout: default total deadline of every call without its own ``timeout=``.
        methods: per-method :class:`finpy.MethodConfig` by pattern (see
            :class:`finpy.method.MethodConfigs`): timeouts, attempt timeouts, idempotency.
        attempt_timeout: bound of each attempt (default: only the deadline bounds it).
        max_attempts: most attempts per call, requeues included (default 3; 1: none
            again).  Per method: ``MethodConfig(max_attempts=...)``.
        backoff: wait before each retry, a :class:`finpy.retry.Backoff` (default:
            full-jitter exponential).  Per method: ``MethodConfig(backoff=...)``.
        classifier: which failures are retried (default:
            :class:`finpy_protocols.grpc.GrpcClassifier`).  Per method too.
        retry_budget: the :class:`finpy.retry.RetryBudget` shared by retries,
            requeues and hedges (default: one of 20% + 10/s for this channel).
        hedge: backup requests for idempotent unary methods: ``True`` or a
            :class:`finpy.retry.Hedge` (default: off; per method with
            ``MethodConfig(idempotent=True, hedge=True)``).
        balancer: ``"p2c_ewma"`` (P2C over peak-EWMA latency, default), ``"p2c"``
            (least loaded), ``"round_robin"``, ``"random"``, ``"aperture"``,
            ``"ring_hash"`` (see :data:`finpy.BALANCERS`), or a zero-argument callable
            returning a :class:`finpy.Balancer`.
        zone: this client's zone: prefer endpoints whose address has the same
            ``zone`` metadata, spill to others when they are unhealthy or too few
            (:class:`finpy.balancer.ZoneAware` around ``balancer``).
        failure_accrual: per-endpoint circuit breaking: ``True`` (default settings),
            ``False`` (off) or a :class:`finpy.accrual.FailureAccrual`.
        health_check: active ``grpc.health.v1`` checks of each endpoint: ``True``, a
            service name, or a :class:`finpy_protocols.grpc.HealthCheck` (default: off).
        credentials: ``grpc.ssl_channel_credentials(...)`` for TLS/mTLS to every endpoint.
        server_name: the logical name certificates must match (default: the host of
            a DNS-style target); also sent as ``:authority``.
        options, interceptors, compression: passed to every endpoint's ``grpc.aio`` channel.
        params, stack, endpoint_stack: full control over the finpy stacks (advanced).
        registry: where target schemes are looked up (default: the global registry).
        label: a name for statistics and errors (default: the target).
        tracer_provider, meter_provider: where this channel's spans and metrics go
            (default: OpenTelemetry's global providers; nothing is recorded, and
            nothing added per call, while those are not set up).  See
            :class:`finpy.observe.Telemetry` for more (``params=``).

    A target no resolver understands, or any bad value, raises
    :class:`finpy.ConfigurationError` here, naming the value.
    """

    def __init__(
        self,
        target: str | Resolution,
        *,
        timeout: float | None = None,
        methods: Mapping[str, MethodConfig] | None = None,
        attempt_timeout: float | None = None,
        max_attempts: int | None = None,
        backoff: Backoff | None = None,
        classifier: Classifier | None = None,
        retry_budget: RetryBudget | None = None,
        hedge: Hedge | bool | None = None,
        balancer: str | Callable[[], Balancer[Any, Any]] = "p2c_ewma",
        zone: str | None = None,
        failure_accrual: FailureAccrual | bool | None = None,
        health_check: HealthCheck | bool | str | None = None,
        credentials: grpc.ChannelCredentials | None = None,
        server_name: str | None = None,
        options: Iterable[tuple[str, Any]] = (),
        interceptors: Iterable[Any] = (),
        compression: grpc.Compression | None = None,
        params: Params | None = None,
        stack: Stack[GrpcRequest, GrpcResponse] | None = None,
        endpoint_stack: Stack[GrpcRequest, GrpcResponse] | None = None,
        registry: ResolverRegistry | None = None,
        label: str | None = None,
        tracer_provider: Any = None,
        meter_provider: Any = None,
    ) -> None:
        if credentials is not None and not isinstance(credentials, grpc.ChannelCredentials):
            raise ConfigurationError(
                f"credentials must be grpc.ChannelCredentials, got {credentials!r}"
            )
        configs = dict(methods or {})
        if timeout is not None:  # an explicit "*" config wins over the channel-wide default
            configs["*"] = configs.get("*", MethodConfig()).merged_over(
                MethodConfig(timeout=timeout)
            )
        base = Params(
            MethodConfigs(configs),
            AttemptTimeout(attempt_timeout),
            _retries(max_attempts, backoff),
            ResponseClassifier(classifier if classifier is not None else GRPC_CLASSIFIER),
            RetryBudgetParam(retry_budget),
            HedgeParam(hedge),
            BalancerFactory(_zoned(balancer_factory(balancer), zone)),
            _failure_accrual(failure_accrual),
            HealthCheck.of(health_check),
            EnforceDeadline(False),  # grpc enforces the deadline it is given on the wire
            GrpcChannelConfig(
                credentials=credentials,
                server_name=server_name if server_name is not None else _logical_name(target),
                options=tuple(options),
                interceptors=tuple(interceptors),
                compression=compression,
            ),
            Label(label or (target if isinstance(target, str) else target.target)),
            Telemetry(tracer_provider=tracer_provider, meter_provider=meter_provider),
        )
        self.params = base + params if params is not None else base
        if endpoint_stack is None:
            endpoint_stack = default_endpoint_stack().append(health_check_module())
        elif self.params[HealthCheck].enabled and "health_check" not in endpoint_stack:
            endpoint_stack = endpoint_stack.append(health_check_module())
        self._client: Client[GrpcRequest, GrpcResponse] = Client(
            target,
            GrpcTransport.factory,
            params=self.params,
            stack=stack,
            endpoint_stack=endpoint_stack,
            registry=registry,
        )
        self._label = f"target {self._client.label}"
        self._method_configs = self.params[MethodConfigs]

    # -- configuration -------------------------------------------------------------------

    def method_config(self, method: str) -> MethodConfig:
        """The effective :class:`MethodConfig` of ``/package.Service/Method``."""
        return self._method_configs.resolve(method)

    @property
    def client(self) -> Client[GrpcRequest, GrpcResponse]:
        """The finpy client behind the channel (statistics, endpoint set)."""
        return self._client

    def balancer_statistics(self) -> BalancerStatistics | None:
        """Load balancing counts (endpoints, unhealthy, panics); None before the first call."""
        eps = self._client.endpoint_set
        return None if eps is None else eps.balancer.statistics()

    def endpoint_statistics(self) -> tuple[EndpointStatistics, ...]:
        """Per endpoint: load, latency estimate, status, breaker state, ejections, revivals."""
        eps = self._client.endpoint_set
        return () if eps is None else eps.balancer.endpoint_statistics()

    @property
    def retry_budget(self) -> RetryBudget:
        """The retry budget shared by this channel's retries, requeues and hedges."""
        budget = self._client.params[RetryBudgetParam].budget
        assert budget is not None  # the client binds one
        return budget

    def retry_statistics(self) -> RetryStatistics:
        """What the retry and hedge layers of this channel did so far."""
        stats = self._client.params[RetryStatsParam].stats
        assert stats is not None  # the client binds one
        return stats.statistics()

    # -- grpc.aio.Channel ----------------------------------------------------------------

    def unary_unary(
        self,
        method: str,
        request_serializer: Any = None,
        response_deserializer: Any = None,
        _registered_method: bool | None = False,
    ) -> _UnaryUnary:
        return _UnaryUnary(self, method, request_serializer, response_deserializer)

    def unary_stream(
        self,
        method: str,
        request_serializer: Any = None,
        response_deserializer: Any = None,
        _registered_method: bool | None = False,
    ) -> _UnaryStream:
        return _UnaryStream(self, method, request_serializer, response_deserializer)

    def stream_unary(
        self,
        method: str,
        request_serializer: Any = None,
        response_deserializer: Any = None,
        _registered_method: bool | None = False,
    ) -> _StreamUnary:
        return _StreamUnary(self, method, request_serializer, response_deserializer)

    def stream_stream(
        self,
        method: str,
        request_serializer: Any = None,
        response_deserializer: Any = None,
        _registered_method: bool | None = False,
    ) -> _StreamStream:
        return _StreamStream(self, method, request_serializer, response_deserializer)

    def _transports(self) -> list[GrpcTransport]:
        eps = self._client.endpoint_set
        if eps is None:
            return []
        out = []
        for ep in eps.endpoints:
            svc: Any = ep.service
            while not isinstance(svc, GrpcTransport) and hasattr(svc, "service"):
                svc = svc.service
            if isinstance(svc, GrpcTransport):
                out.append(svc)
        return out

    def get_state(self, try_to_connect: bool = False) -> grpc.ChannelConnectivity:
        """The best connectivity state among the endpoints' channels."""
        if try_to_connect:
            with contextlib.suppress(RuntimeError):
                self._client.start()
        states = (
            [t.channel.get_state(try_to_connect) for t in self._transports()]
            if try_to_connect
            else [t._channel.get_state(False) for t in self._transports() if t._channel is not None]
        )
        for wanted in (_C.READY, _C.CONNECTING, _C.TRANSIENT_FAILURE):
            if wanted in states:
                return wanted
        return _C.SHUTDOWN if self._client.status.value == "closed" else _C.IDLE

    async def wait_for_state_change(self, last_observed_state: grpc.ChannelConnectivity) -> None:
        """Return once :meth:`get_state` differs from ``last_observed_state``.

        A closed channel never changes again: waiting on it returns at once.
        """
        while self.get_state() == last_observed_state:
            if self._client.status is Status.CLOSED:
                return
            waits: list[asyncio.Future[Any]] = [
                asyncio.ensure_future(t._channel.wait_for_state_change(t._channel.get_state(False)))
                for t in self._transports()
                if t._channel is not None
            ]
            res = self._client.resolution
            if res is not None:
                waits.append(asyncio.ensure_future(_next_state(res)))
            else:  # not started yet: nothing to observe but the start itself
                waits.append(asyncio.ensure_future(asyncio.sleep(0.05)))
            try:
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for w in waits:
                    w.cancel()
                await asyncio.gather(*waits, return_exceptions=True)

    async def channel_ready(self) -> None:
        """Wait until the target is resolved and some endpoint's channel is READY."""
        self._client.start()
        res = self._client.resolution
        assert res is not None

        def settled(s: ResolutionState) -> bool:
            return isinstance(s, (Bound, Negative, Failed))

        await res.wait_for(settled)
        while (state := self.get_state(try_to_connect=True)) is not _C.READY:
            await self.wait_for_state_change(state)

    async def close(self, grace: float | None = None) -> None:
        """Close every endpoint channel; with ``grace``, let in-flight calls finish first."""
        eps = self._client.endpoint_set
        if grace is not None and eps is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(eps.wait_idle(), grace)
        await self._client.aclose()

    async def __aenter__(self) -> Channel:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"finpy Channel({self._client.label!r}, {self._client.status.value})"
