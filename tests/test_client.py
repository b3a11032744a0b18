"""Tests of ``finpy.client``: target, transport and stacks assembled into one service."""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import Callable

import pytest

from finpy import (
    Address,
    BalancerFactory,
    Client,
    ConfigurationError,
    DeadlineExceededError,
    DefaultTimeout,
    DrainTimeout,
    EndpointAddress,
    Filter,
    FilterModule,
    Label,
    Params,
    RoundRobin,
    Service,
    ServiceClosedError,
    Stack,
    TargetError,
    default_client_stack,
    default_endpoint_stack,
)
from finpy.resolver import Bound, Pending, Resolution


class Backend(Service[str, str]):
    """An in-memory transport: answers '<address>:<request>' and records closes."""

    def __init__(self, address: Address, params: Params) -> None:
        self.address = address
        self.params = params
        self.closed = 0
        self.delay = 0.0

    async def __call__(self, request: str, /) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        return f"{self.address}:{request}"

    async def aclose(self) -> None:
        self.closed += 1


class Transports:
    def __init__(self) -> None:
        self.made: list[Backend] = []

    def __call__(self, address: Address, params: Params) -> Service[str, str]:
        b = Backend(address, params)
        self.made.append(b)
        return b


class Tag(Filter[str, str]):
    def __init__(self, tag: str) -> None:
        self.tag = tag

    async def __call__(self, request: str, service: Service[str, str], /) -> str:
        return await service(f"{request}>{self.tag}")


def tag_module(
    role: str, make: Callable[[Params], Tag | None] | None = None
) -> FilterModule[str, str]:
    return FilterModule(role, make or (lambda _p: Tag(role)))


def rr() -> RoundRobin[str, str]:
    return RoundRobin(rng=random.Random(0))


@pytest.mark.parametrize(
    ("target", "needle"),
    [
        ("nope:///x", "'nope'"),
        ("static:///a:1,,b:2", "'static:///a:1,,b:2'"),
        ("dns://users:50051", "'dns://users:50051'"),
        ("", "empty"),
        ("10.0.0.1:99999", "99999"),
    ],
)
def test_bad_target_raises_target_error_at_construction(target: str, needle: str) -> None:
    """A target that cannot be parsed or resolved fails when the client is built, naming it."""
    t = Transports()
    with pytest.raises(TargetError, match=needle.replace("[", r"\[")):
        Client(target, t)
    assert t.made == []


def test_bad_target_type_and_transport_are_configuration_errors() -> None:
    """A target that is not a string/Resolution, or a transport that is not callable, is rejected."""
    with pytest.raises(ConfigurationError, match="42"):
        Client(42, Transports())  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="transport"):
        Client("10.0.0.1:1", "grpc")  # type: ignore[arg-type]


async def test_client_is_lazy_until_the_first_request() -> None:
    """Building a client resolves nothing and dials nothing; the first request starts both."""
    t = Transports()
    client: Client[str, str] = Client("static:///10.0.0.1:1,10.0.0.2:2", t)
    before = (client.endpoint_set, client.resolution, client.statistics().endpoints)
    assert before == (None, None, None)
    assert t.made == []
    assert await client("hi") in {"10.0.0.1:1:hi", "10.0.0.2:2:hi"}
    assert sorted(str(b.address) for b in t.made) == ["10.0.0.1:1", "10.0.0.2:2"]
    assert None not in (client.endpoint_set, client.resolution, client.statistics().endpoints)
    await client.aclose()


def test_start_needs_a_running_loop() -> None:
    """start() outside an event loop raises instead of resolving in the wrong place."""
    client: Client[str, str] = Client("10.0.0.1:1", Transports())
    with pytest.raises(RuntimeError):
        client.start()
    assert client.endpoint_set is None


async def test_start_resolves_before_any_request() -> None:
    """start() inside a loop builds the endpoint set now; calling it twice is harmless."""
    t = Transports()
    client: Client[str, str] = Client("10.0.0.1:1", t)
    client.start()
    eps = client.endpoint_set
    client.start()
    assert client.endpoint_set is eps
    assert len(t.made) == 1
    await client.aclose()


async def test_transport_gets_address_and_params_with_endpoint_address() -> None:
    """The transport factory is called per address with the client params plus EndpointAddress."""
    t = Transports()
    client: Client[str, str] = Client("10.0.0.1:1", t, params=Params(DefaultTimeout(7.0)))
    await client("x")
    (backend,) = t.made
    assert backend.params[EndpointAddress].address == Address("10.0.0.1", 1)
    assert backend.params[DefaultTimeout].seconds == 7.0
    await client.aclose()


async def test_statistics_count_requests_and_show_endpoints() -> None:
    """statistics() reports label, target, status, requests and the endpoint set snapshot."""
    client: Client[str, str] = Client(
        "10.0.0.1:1,10.0.0.2:2", Transports(), params=Params(Label("users"))
    )
    for _ in range(3):
        await client("x")
    s = client.statistics()
    assert (s.label, s.target, s.status, s.requests) == (
        "users",
        "10.0.0.1:1,10.0.0.2:2",
        "open",
        3,
    )
    assert s.endpoints is not None and s.endpoints.endpoints == 2
    assert repr(client) == "Client('users', status=open)"
    await client.aclose()
    assert client.statistics().status == "closed"


def test_label_defaults_to_the_target() -> None:
    """Without a Label param the client is labelled by its target."""
    assert Client("10.0.0.1:1", Transports()).label == "10.0.0.1:1"


async def test_aclose_closes_transports_and_owned_resolution_idempotently() -> None:
    """aclose() closes every transport once, stops discovery it started and can be called again."""
    t = Transports()
    client: Client[str, str] = Client("10.0.0.1:1,10.0.0.2:2", t)
    await client("x")
    res = client.resolution
    assert res is not None
    await client.aclose()
    await client.aclose()
    assert [b.closed for b in t.made] == [1, 1]
    assert res.closed


async def test_requests_after_aclose_raise_service_closed() -> None:
    """A closed client refuses requests with ServiceClosedError, started or not."""
    started: Client[str, str] = Client("10.0.0.1:1", Transports())
    await started("x")
    await started.aclose()
    with pytest.raises(ServiceClosedError):
        await started("y")
    never: Client[str, str] = Client("10.0.0.1:1", Transports())
    await never.aclose()
    with pytest.raises(ServiceClosedError, match=re.escape("10.0.0.1:1")):
        await never("y")


async def test_client_follows_a_given_resolution_and_leaves_it_open() -> None:
    """A client over an application's Resolution follows its updates and does not close it."""
    res = Resolution(Pending(), target="app-managed")
    t = Transports()
    client: Client[str, str] = Client(res, t, params=Params(BalancerFactory(rr)))
    assert client.target == "app-managed"
    call = asyncio.create_task(client("x"))
    await asyncio.sleep(0)
    res.publish(Bound([Address("10.0.0.1", 1)]))
    assert await asyncio.wait_for(call, 5) == "10.0.0.1:1:x"
    res.publish(Bound([Address("10.0.0.2", 2)]))
    assert await client("y") == "10.0.0.2:2:y"
    await client.aclose()
    assert not res.closed
    await res.aclose()


def test_unnamed_resolution_gets_a_generated_target_name() -> None:
    """A Resolution without a target string gets a unique 'resolution-N' name."""
    a: Client[str, str] = Client(Resolution(Bound([])), Transports())
    b: Client[str, str] = Client(Resolution(Bound([])), Transports())
    assert a.target.startswith("resolution-") and b.target.startswith("resolution-")
    assert a.target != b.target


def test_default_stacks_keep_finagle_ordering_rules() -> None:
    """observe > deadline > retries > hedge above the balancer; attempt spans > accrual > timeout below."""
    client = default_client_stack().roles
    assert client.index("observe") < client.index("deadline") < client.index("retries")
    assert client.index("retries") < client.index("hedge")  # hedges share the attempt budget
    endpoint = default_endpoint_stack().roles
    # the attempt span sees the attempt's own timeout; failure accrual sees timeouts too
    assert endpoint.index("attempt_observe") < endpoint.index("failure_accrual")
    assert endpoint.index("failure_accrual") < endpoint.index("attempt_timeout")


async def test_custom_client_and_endpoint_stacks_are_used_in_order() -> None:
    """Client stack modules run above the balancer, endpoint stack modules per endpoint, top first."""
    client_stack: Stack[str, str] = Stack(
        [default_client_stack()["deadline"], tag_module("c1"), tag_module("c2")]
    )
    endpoint_stack: Stack[str, str] = Stack([tag_module("e1"), tag_module("e2")])
    client: Client[str, str] = Client(
        "10.0.0.1:1", Transports(), stack=client_stack, endpoint_stack=endpoint_stack
    )
    assert await client("r") == "10.0.0.1:1:r>c1>c2>e1>e2"
    await client.aclose()


async def test_endpoint_stack_sees_the_endpoint_address() -> None:
    """Endpoint stack modules are built with EndpointAddress set to their endpoint's address."""

    def per_address(params: Params) -> Tag | None:
        address = params[EndpointAddress].address
        return Tag(f"via-{address.port}") if address is not None else None

    client: Client[str, str] = Client(
        "10.0.0.1:1",
        Transports(),
        endpoint_stack=Stack([tag_module("where", per_address)]),
    )
    assert await client("r") == "10.0.0.1:1:r>via-1"
    await client.aclose()


async def test_balancer_factory_param_picks_the_balancer() -> None:
    """BalancerFactory makes the client's balancer."""
    client: Client[str, str] = Client(
        "10.0.0.1:1,10.0.0.2:2", Transports(), params=Params(BalancerFactory(rr))
    )
    client.start()
    eps = client.endpoint_set
    assert eps is not None
    assert isinstance(eps.balancer, RoundRobin)
    answers = [await client("x") for _ in range(2)]
    assert sorted(answers) == ["10.0.0.1:1:x", "10.0.0.2:2:x"]
    await client.aclose()


@pytest.mark.looptime
async def test_drain_timeout_param_bounds_the_drain_of_removed_endpoints() -> None:
    """DrainTimeout is how long a removed endpoint's in-flight call may run before its transport closes."""
    res = Resolution(Bound([Address("10.0.0.1", 1)]))
    t = Transports()
    client: Client[str, str] = Client(res, t, params=Params(DrainTimeout(1.5)))
    client.start()
    (old,) = t.made
    old.delay = 100
    stuck = asyncio.create_task(client("x"))
    await asyncio.sleep(0.1)
    loop = asyncio.get_running_loop()
    start = loop.time()
    res.publish(Bound([Address("10.0.0.2", 2)]))
    await asyncio.sleep(1.4)
    assert old.closed == 0
    await asyncio.sleep(0.2)
    assert old.closed == 1
    assert loop.time() - start == pytest.approx(1.6)
    stuck.cancel()
    await asyncio.gather(stuck, return_exceptions=True)
    await client.aclose()


@pytest.mark.looptime
async def test_default_timeout_bounds_calls_through_the_client() -> None:
    """DefaultTimeout reaches the deadline module: a slow backend fails with DeadlineExceededError."""
    t = Transports()
    client: Client[str, str] = Client("10.0.0.1:1", t, params=Params(DefaultTimeout(0.5)))
    client.start()
    t.made[0].delay = 10
    loop = asyncio.get_running_loop()
    start = loop.time()
    with pytest.raises(DeadlineExceededError):
        await client("x")
    assert loop.time() - start == pytest.approx(0.5)
    await client.aclose()
