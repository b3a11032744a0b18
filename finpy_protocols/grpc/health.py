"""Active health checking of each endpoint with the standard ``grpc.health.v1`` service.

Passive signals (failure accrual, connection state) only learn about a sick
endpoint by sending it traffic.  With ``Channel(..., health_check=True)``
each endpoint also asks its server, in the background, whether it is
``SERVING`` and reports ``BUSY`` to the balancer while it is not, so a server
that announces it is draining or not ready gets no new requests.

* ``mode="watch"`` (default) keeps one ``Health/Watch`` stream per endpoint:
  the server pushes every change.  A broken stream counts as unhealthy and is
  re-opened after ``min(interval, 1 s)``.
* ``mode="check"`` polls ``Health/Check`` every ``interval`` seconds, each
  bounded by ``timeout``.
* ``SERVING`` is healthy; ``NOT_SERVING``, ``SERVICE_UNKNOWN``, ``UNKNOWN``
  and failed checks are not.  Until the first answer the endpoint is assumed
  healthy (fail open).  A server without the health service (``UNIMPLEMENTED``)
  is assumed healthy and not asked again.

Checks start with an endpoint's first request, not when discovery announces
it, so a client using aperture over a thousand addresses still only talks to
the endpoints of its aperture.  One background task per checked endpoint (none
per request); it ends when the endpoint closes.  The checks go straight to the
transport, below failure accrual and timeouts, and do not count as load.

Needs the ``grpcio-health-checking`` package (``pip install finpy[health]``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import grpc
import grpc.aio

from finpy.clock import SYSTEM_CLOCK, Clock, ClockParam
from finpy.context import deadline_after
from finpy.errors import ConfigurationError
from finpy.filter import Filter, FilteredService
from finpy.params import Param, Params
from finpy.service import Service, Status
from finpy.stack import FilterModule
from finpy_protocols.grpc.request import EOF, CallShape, GrpcRequest, StreamResponse, UnaryResponse

__all__ = [
    "HealthCheck",
    "HealthCheckFilter",
    "HealthCheckedService",
    "health_check_module",
]

log = logging.getLogger("finpy.health")

Req = TypeVar("Req")
Rep = TypeVar("Rep")

_CHECK = "/grpc.health.v1.Health/Check"
_WATCH = "/grpc.health.v1.Health/Watch"
_SERVING = 1  # HealthCheckResponse.ServingStatus.SERVING
_BUSY = Status.BUSY


@dataclass(frozen=True, slots=True)
class HealthCheck(Param):
    """Active ``grpc.health.v1`` checks of every endpoint (off unless ``enabled``)."""

    enabled: bool = False
    service: str = ""
    """The service name asked about (``""``: the server as a whole)."""
    mode: Literal["watch", "check"] = "watch"
    interval: float = 5.0
    """Seconds between checks (``check``) or before re-opening a broken watch (at most 1 s)."""
    timeout: float = 1.0
    """Bound of each ``Check`` call."""

    def __post_init__(self) -> None:
        if not isinstance(self.enabled, bool):
            raise ConfigurationError(f"HealthCheck.enabled must be a bool, got {self.enabled!r}")
        if not isinstance(self.service, str):
            raise ConfigurationError(f"health check service must be a string, got {self.service!r}")
        if self.mode not in ("watch", "check"):
            raise ConfigurationError(
                f"health check mode must be 'watch' or 'check', got {self.mode!r}"
            )
        for what, v in (("interval", self.interval), ("timeout", self.timeout)):
            if (
                isinstance(v, bool)
                or not isinstance(v, (int, float))
                or not math.isfinite(v)
                or v <= 0
            ):
                raise ConfigurationError(
                    f"health check {what} must be a positive number of seconds, got {v!r}"
                )

    @classmethod
    def of(cls, spec: HealthCheck | bool | str | None) -> HealthCheck:
        """From a ``Channel(health_check=...)`` value: True, a service name, or settings."""
        if spec is None or spec is False:
            return cls()
        if spec is True:
            return cls(enabled=True)
        if isinstance(spec, str):
            return cls(enabled=True, service=spec)
        if isinstance(spec, HealthCheck):
            return spec
        raise ConfigurationError(
            f"health_check must be True/False, a service name or a HealthCheck, got {spec!r}"
        )


def _messages() -> tuple[Any, Any]:
    try:
        from grpc_health.v1 import health_pb2
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ConfigurationError(
            "health checking needs the grpcio-health-checking package "
            "(pip install grpcio-health-checking)"
        ) from e
    return health_pb2.HealthCheckRequest, health_pb2.HealthCheckResponse


class HealthCheckFilter(Filter[Req, Rep]):
    """Passes requests through; the service it builds checks its endpoint's health."""

    __slots__ = ("clock", "config")

    def __init__(self, config: HealthCheck, *, clock: Clock = SYSTEM_CLOCK) -> None:
        _messages()  # fail at configuration time if the package is missing
        self.config = config
        self.clock = clock

    async def __call__(self, request: Req, service: Service[Req, Rep], /) -> Rep:
        return await service(request)

    def _wrap(self, service: Service[Req, Rep]) -> Service[Req, Rep]:
        return HealthCheckedService(self, service)

    @staticmethod
    def from_params(params: Params) -> HealthCheckFilter[Any, Any] | None:
        """The filter configured by :class:`HealthCheck`; None when checks are off."""
        cfg = params[HealthCheck]
        if not cfg.enabled:
            return None
        return HealthCheckFilter(cfg, clock=params[ClockParam].clock)

    def __repr__(self) -> str:
        return f"HealthCheckFilter({self.config.mode}, service={self.config.service!r})"


def health_check_module() -> FilterModule[Any, Any]:
    """The ``health_check`` endpoint-stack module (placed just above the transport)."""
    return FilterModule(
        "health_check",
        HealthCheckFilter.from_params,
        "grpc.health.v1 checks in the background; BUSY while not SERVING",
    )


class HealthCheckedService(FilteredService[Req, Rep]):
    """An endpoint's service that is BUSY while its server says it is not serving."""

    __slots__ = ("_closed", "_task", "checks", "healthy", "transitions")

    filter: HealthCheckFilter[Req, Rep]

    def __init__(self, filter: HealthCheckFilter[Req, Rep], service: Service[Req, Rep]) -> None:
        super().__init__(filter, service)
        #: Whether the last answer was SERVING (True until the first answer: fail open).
        self.healthy = True
        self.checks = 0
        self.transitions = 0
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    async def __call__(self, request: Req, /) -> Rep:
        if self._task is None and not self._closed:
            self.start()
        return await self.service(request)

    def start(self) -> None:
        """Start checking now (otherwise the first request starts it); needs a running loop."""
        if self._task is None and not self._closed:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"finpy-health-{self.service!r}"
            )

    @property
    def status(self) -> Status:
        if self.healthy:
            return self.service.status
        return _BUSY

    def _set(self, healthy: bool) -> None:
        if healthy is not self.healthy:
            self.transitions += 1
            log.info("health of %r: %s", self.service, "SERVING" if healthy else "not serving")
        self.healthy = healthy

    async def _run(self) -> None:
        cfg = self.filter.config
        clock = self.filter.clock
        request_cls, response_cls = _messages()
        message = request_cls(service=cfg.service)
        while not self._closed:
            try:
                if cfg.mode == "watch":
                    await self._watch(message, response_cls)
                    delay = min(cfg.interval, 1.0)
                else:
                    await self._check(message, response_cls, cfg.timeout)
                    delay = cfg.interval
            except grpc.aio.AioRpcError as e:
                if e.code() is grpc.StatusCode.UNIMPLEMENTED:
                    log.info("%r has no grpc.health.v1 service; assuming healthy", self.service)
                    self._set(True)
                    return
                self._set(False)
                delay = min(cfg.interval, 1.0) if cfg.mode == "watch" else cfg.interval
            except Exception:
                log.exception("health check of %r failed", self.service)
                self._set(False)
                delay = cfg.interval
            await clock.sleep(delay * (0.8 + 0.2 * random.random()))

    async def _check(self, message: Any, response_cls: Any, timeout: float) -> None:
        req = GrpcRequest(
            _CHECK,
            CallShape.UNARY_UNARY,
            message,
            serializer=message.__class__.SerializeToString,
            deserializer=response_cls.FromString,
        )
        with deadline_after(timeout):
            rep: Any = await self.service(req)  # type: ignore[arg-type]
        assert isinstance(rep, UnaryResponse)
        self.checks += 1
        self._set(rep.message.status == _SERVING)

    async def _watch(self, message: Any, response_cls: Any) -> None:
        req = GrpcRequest(
            _WATCH,
            CallShape.UNARY_STREAM,
            message,
            serializer=message.__class__.SerializeToString,
            deserializer=response_cls.FromString,
        )
        rep: Any = await self.service(req)  # type: ignore[arg-type]
        assert isinstance(rep, StreamResponse)
        try:
            msg = rep.take_first()
            while msg is not EOF:
                self.checks += 1
                self._set(msg.status == _SERVING)
                msg = await rep.call.read()
            self._set(False)  # the server ended the watch: it is going away
        finally:
            rep.call.cancel()

    async def aclose(self) -> None:
        self._closed = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.service.aclose()

    def __repr__(self) -> str:
        state = "serving" if self.healthy else "not serving"
        return f"HealthCheckedService({state}, checks={self.checks}, {self.service!r})"
