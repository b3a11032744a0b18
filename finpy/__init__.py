"""finpy: the service mesh inside the process.

A Finagle-style client library for asyncio: every outgoing call goes through a
stack of composable :class:`Service` and :class:`Filter` objects that add
deadlines, load balancing over a live set of endpoints and, layer by layer,
the rest of a production RPC client.  Protocol adapters live in
``finpy_protocols`` (gRPC first); test tools in :mod:`finpy.testing`.
"""

from finpy.accrual import FailureAccrual
from finpy.address import Address
from finpy.balancer import (
    BALANCERS,
    Aperture,
    Balancer,
    P2CLeastLoaded,
    P2CPeakEwma,
    PeakEwma,
    RandomBalancer,
    RingHash,
    RoundRobin,
    ZoneAware,
    balancer_factory,
)
from finpy.client import (
    BalancerFactory,
    Client,
    ClientStatistics,
    DrainTimeout,
    EndpointAddress,
    Label,
    default_client_stack,
    default_endpoint_stack,
)
from finpy.clock import SYSTEM_CLOCK, Clock, ClockParam, ManualClock
from finpy.context import (
    current_attempt,
    current_deadline,
    current_request_key,
    deadline_after,
    deadline_at,
    endpoints_tried,
    request_key,
    time_remaining,
    tracking_endpoints,
)
from finpy.deadline import DeadlineFilter, DefaultTimeout, EnforceDeadline
from finpy.endpoint import Endpoint
from finpy.endpoint_set import EndpointSet
from finpy.errors import (
    AttemptTimeoutError,
    BudgetExhaustedError,
    ConfigurationError,
    DeadlineExceededError,
    FinpyError,
    NoEndpointsError,
    RejectedError,
    ResolutionError,
    ServiceClosedError,
    TargetError,
)
from finpy.filter import Filter, FilteredService
from finpy.method import MethodConfig, MethodConfigs
from finpy.observe import Telemetry
from finpy.params import Param, Params
from finpy.resolver import (
    Bound,
    DiscoveryPolicy,
    Failed,
    Negative,
    Pending,
    Resolution,
    Target,
)
from finpy.retry import (
    Backoff,
    Classification,
    Hedge,
    ResponseClass,
    RetryBudget,
    RetryStatistics,
)
from finpy.service import FunctionService, Service, Status
from finpy.stack import FilterModule, Stack, StackModule
from finpy.timeout import AttemptTimeout, AttemptTimeoutFilter

__version__ = "0.1.0.dev0"

__all__ = [
    "BALANCERS",
    "SYSTEM_CLOCK",
    "Address",
    "Aperture",
    "AttemptTimeout",
    "AttemptTimeoutError",
    "AttemptTimeoutFilter",
    "Backoff",
    "Balancer",
    "BalancerFactory",
    "Bound",
    "BudgetExhaustedError",
    "Classification",
    "Client",
    "ClientStatistics",
    "Clock",
    "ClockParam",
    "ConfigurationError",
    "DeadlineExceededError",
    "DeadlineFilter",
    "DefaultTimeout",
    "DiscoveryPolicy",
    "DrainTimeout",
    "Endpoint",
    "EndpointAddress",
    "EndpointSet",
    "EnforceDeadline",
    "Failed",
    "FailureAccrual",
    "Filter",
    "FilterModule",
    "FilteredService",
    "FinpyError",
    "FunctionService",
    "Hedge",
    "Label",
    "ManualClock",
    "MethodConfig",
    "MethodConfigs",
    "Negative",
    "NoEndpointsError",
    "P2CLeastLoaded",
    "P2CPeakEwma",
    "Param",
    "Params",
    "PeakEwma",
    "Pending",
    "RandomBalancer",
    "RejectedError",
    "Resolution",
    "ResolutionError",
    "ResponseClass",
    "RetryBudget",
    "RetryStatistics",
    "RingHash",
    "RoundRobin",
    "Service",
    "ServiceClosedError",
    "Stack",
    "StackModule",
    "Status",
    "Target",
    "TargetError",
    "Telemetry",
    "ZoneAware",
    "__version__",
    "balancer_factory",
    "current_attempt",
    "current_deadline",
    "current_request_key",
    "deadline_after",
    "deadline_at",
    "default_client_stack",
    "default_endpoint_stack",
    "endpoints_tried",
    "request_key",
    "time_remaining",
    "tracking_endpoints",
]
