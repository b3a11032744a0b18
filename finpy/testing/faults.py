"""Fault injection inside a client: delays and failures where you choose, reproducibly.

:class:`FaultInjectionFilter` sits in a client's stack (typically the endpoint stack, just
above the transport) and, for the requests that match a :class:`Fault`, waits a delay
and/or fails the request instead of sending it.  Faults match by method (glob on the
request's ``method`` attribute, e.g. ``/pkg.Service/*``) and by endpoint (glob on
``host:port``), with a probability; all randomness comes from one seeded
``random.Random``, so a seeded run injects the same faults every time.

The error is whatever you say: an exception instance or a zero-argument factory.  For
gRPC, :func:`finpy_protocols.grpc.testing.abort` makes a factory of genuine
``grpc.aio.AioRpcError``\\s, so the rest of the client treats an injected failure exactly
like one returned by a server::

    from finpy.testing import Fault, fault_injection_stack
    from finpy_protocols.grpc.testing import abort

    faults = [Fault(method="*/GetUser", endpoint="10.0.0.7:*", error=abort("UNAVAILABLE")),
              Fault(delay=0.05, probability=0.1)]
    channel = Channel(target, endpoint_stack=fault_injection_stack(faults, seed=7))
"""

from __future__ import annotations

import fnmatch
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from finpy.address import Address
from finpy.client import EndpointAddress, default_endpoint_stack
from finpy.clock import SYSTEM_CLOCK, Clock, ClockParam
from finpy.errors import ConfigurationError
from finpy.filter import Filter
from finpy.params import Param, Params
from finpy.service import Service
from finpy.stack import FilterModule, Stack

__all__ = [
    "Fault",
    "FaultInjection",
    "FaultInjectionFilter",
    "FaultStatistics",
    "fault_injection_module",
    "fault_injection_stack",
]

Req = TypeVar("Req")
Rep = TypeVar("Rep")

ErrorSpec = BaseException | Callable[[], BaseException]


@dataclass(frozen=True)
class Fault:
    """One fault: which requests it hits, how often, and what it does to them."""

    method: str = "*"
    """Glob on the request's ``method`` (``/pkg.Service/Method``); ``*`` matches all."""
    endpoint: str = "*"
    """Glob on the endpoint's ``host:port``; ``*`` matches all."""
    probability: float = 1.0
    """Chance that a matching request is hit, in [0, 1]."""
    delay: float = 0.0
    """Seconds to wait before the request goes on (or fails)."""
    error: ErrorSpec | None = None
    """Exception (or factory of one) to raise instead of sending the request."""

    def __post_init__(self) -> None:
        if not isinstance(self.method, str) or not self.method:
            raise ConfigurationError(f"Fault.method must be a non-empty glob, got {self.method!r}")
        if not isinstance(self.endpoint, str) or not self.endpoint:
            raise ConfigurationError(
                f"Fault.endpoint must be a non-empty glob, got {self.endpoint!r}"
            )
        p = self.probability
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
            raise ConfigurationError(f"Fault.probability must be in [0, 1], got {p!r}")
        d = self.delay
        if isinstance(d, bool) or not isinstance(d, (int, float)) or not math.isfinite(d) or d < 0:
            raise ConfigurationError(f"Fault.delay must be seconds >= 0, got {d!r}")
        e = self.error
        if e is not None and not isinstance(e, BaseException) and not callable(e):
            raise ConfigurationError(f"Fault.error must be an exception or a factory, got {e!r}")
        if d == 0 and e is None:
            raise ConfigurationError("a Fault needs a delay > 0 or an error (it would do nothing)")

    def matches(self, method: str, endpoint: str) -> bool:
        """Whether a request for ``method`` at ``endpoint`` is in this fault's scope."""
        return (self.method == "*" or fnmatch.fnmatchcase(method, self.method)) and (
            self.endpoint == "*" or fnmatch.fnmatchcase(endpoint, self.endpoint)
        )

    def make_error(self) -> BaseException | None:
        e = self.error
        if e is None or isinstance(e, BaseException):
            return e
        return e()


@dataclass(frozen=True, slots=True)
class FaultStatistics:
    """What a fault-injection filter did."""

    requests: int
    delayed: int
    failed: int


class FaultInjectionFilter(Filter[Req, Rep]):
    """Delays or fails matching requests; the first matching fault that fires wins."""

    def __init__(
        self,
        faults: Sequence[Fault],
        *,
        seed: int | None = None,
        endpoint: Address | str | None = None,
        clock: Clock = SYSTEM_CLOCK,
        rng: random.Random | None = None,
    ) -> None:
        for f in faults:
            if not isinstance(f, Fault):
                raise ConfigurationError(f"not a Fault: {f!r}")
        self.faults = tuple(faults)
        self._rng = rng if rng is not None else random.Random(seed)
        self._endpoint = endpoint.authority if isinstance(endpoint, Address) else (endpoint or "")
        self._clock = clock
        self._requests = self._delayed = self._failed = 0

    async def __call__(self, request: Req, service: Service[Req, Rep], /) -> Rep:
        self._requests += 1
        method = getattr(request, "method", "")
        method = method if isinstance(method, str) else ""
        for fault in self.faults:
            if not fault.matches(method, self._endpoint):
                continue
            if fault.probability < 1.0 and self._rng.random() >= fault.probability:
                continue
            if fault.delay > 0:
                self._delayed += 1
                await self._clock.sleep(fault.delay)
            error = fault.make_error()
            if error is not None:
                self._failed += 1
                raise error
            break
        return await service(request)

    def statistics(self) -> FaultStatistics:
        return FaultStatistics(self._requests, self._delayed, self._failed)

    def __repr__(self) -> str:
        return f"FaultInjectionFilter({len(self.faults)} faults, endpoint={self._endpoint!r})"


@dataclass(frozen=True)
class FaultInjection(Param):
    """Faults for the ``fault_injection`` stack module (one shared seeded RNG per client)."""

    faults: tuple[Fault, ...] = ()
    seed: int | None = None
    rng: random.Random = field(default_factory=random.Random, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "faults", tuple(self.faults))
        if self.seed is not None:
            object.__setattr__(self, "rng", random.Random(self.seed))


def fault_injection_module() -> FilterModule[Any, Any]:
    """The ``fault_injection`` stack module, configured by the :class:`FaultInjection` param."""

    def make(params: Params) -> FaultInjectionFilter[Any, Any] | None:
        config = params[FaultInjection]
        if not config.faults:
            return None
        return FaultInjectionFilter(
            config.faults,
            endpoint=params[EndpointAddress].address,
            clock=params[ClockParam].clock,
            rng=config.rng,
        )

    return FilterModule("fault_injection", make, "inject delays and failures (testing)")


def fault_injection_stack(
    faults: Sequence[Fault], *, seed: int | None = None, base: Stack[Any, Any] | None = None
) -> Stack[Any, Any]:
    """An endpoint stack with ``faults`` injected just above the transport.

    The faults are baked into the module, so the stack can be passed as a client's
    ``endpoint_stack`` without extra params.  One seeded RNG is shared by every endpoint.
    """
    config = FaultInjection(tuple(faults), seed)
    module = fault_injection_module()
    baked: FilterModule[Any, Any] = FilterModule(
        module.role,
        lambda params: module._make_filter(params.with_(config)),
        module.description,
    )
    return (base if base is not None else default_endpoint_stack()).append(baked)
