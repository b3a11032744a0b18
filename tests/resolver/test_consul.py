"""The Consul resolver against the protocol fake: blocking queries, passing only, faults."""

from __future__ import annotations

import asyncio

import pytest

from finpy.errors import TargetError
from finpy.resolver.consul import ConsulResolver, consul_addresses, next_index
from finpy.resolver.guard import GuardedResolution, MalformedUpdateError
from finpy.resolver.target import Target
from finpy.testing.servers.consul_fake import ConsulInstance, FakeConsul

from .conftest import bound_to, eventually


def test_index_rules() -> None:
    """The index resets to 0 when it goes backwards and is at least 1."""
    assert next_index(10, "12") == 12
    assert next_index(10, "5") == 0
    assert next_index(0, "0") == 1
    with pytest.raises(MalformedUpdateError, match="X-Consul-Index"):
        next_index(0, "abc")


def test_only_passing_instances_with_node_address_fallback() -> None:
    """Instances with a failing check are dropped; an empty service address uses the node's."""
    up = ConsulInstance("a", "", 1, node_address="10.0.0.1", weight=3).entry("s", "dc1")
    down = ConsulInstance("b", "10.0.0.2", 2, status="critical").entry("s", "dc1")
    (addr,) = consul_addresses([up, down], "s")
    assert addr.authority == "10.0.0.1:1" and addr.weight == 3 and addr.zone == "dc1"


def test_bad_answer_names_the_entry() -> None:
    """An entry without a port is malformed and named."""
    with pytest.raises(MalformedUpdateError, match=r"consul s\[0\]"):
        consul_addresses([{"Service": {"Address": "h"}, "Checks": []}], "s")


def test_bad_consul_targets() -> None:
    """Unknown options and bad agents are rejected at validation."""
    with pytest.raises(TargetError, match="option"):
        ConsulResolver().validate(Target.parse("consul:///users?colour=red"))
    with pytest.raises(TargetError, match="agent"):
        ConsulResolver().validate(Target.parse("consul://h:x/users"))


async def test_follows_changes_through_blocking_queries(consul_fake: FakeConsul) -> None:
    """Changes arrive via blocking queries; unhealthy instances never show up."""
    consul_fake.set_service("users", [ConsulInstance("a", "10.0.0.1", 1)])
    target = Target.parse(f"consul://{consul_fake.address}/users")
    res = GuardedResolution(ConsulResolver(wait=5).resolve(target))
    try:
        await asyncio.wait_for(res.wait_for(bound_to({"10.0.0.1:1"})), 10)
        await eventually(lambda: consul_fake.blocking_queries >= 1, what="a blocking query")
        consul_fake.set_service(
            "users",
            [
                ConsulInstance("a", "10.0.0.1", 1),
                ConsulInstance("b", "10.0.0.2", 2),
                ConsulInstance("c", "10.0.0.3", 3, status="warning"),
            ],
        )
        await asyncio.wait_for(res.wait_for(bound_to({"10.0.0.1:1", "10.0.0.2:2"})), 10)
    finally:
        await res.aclose()


async def test_errors_and_outage_keep_the_last_good_set(consul_fake: FakeConsul) -> None:
    """HTTP 500s and a stopped agent keep the set; an index reset is followed."""
    consul_fake.set_service("users", [ConsulInstance("a", "10.0.0.1", 1)])
    target = Target.parse(f"consul://{consul_fake.address}/users")
    res = GuardedResolution(ConsulResolver(wait=1).resolve(target))
    try:
        await asyncio.wait_for(res.wait_for(bound_to({"10.0.0.1:1"})), 10)
        consul_fake.fail_with(500)
        await eventually(lambda: res.statistics().failures >= 1, what="HTTP 500 seen")
        consul_fake.fail_with(None)
        await asyncio.to_thread(consul_fake.stop)  # the loop keeps running meanwhile
        await eventually(lambda: res.statistics().failures >= 2, what="refused connection seen")
        assert res.statistics().addresses == 1
        consul_fake.start()
        consul_fake.reset_index(1)
        consul_fake.set_service("users", [ConsulInstance("b", "10.0.0.2", 2)])
        await asyncio.wait_for(res.wait_for(bound_to({"10.0.0.2:2"})), 20)
    finally:
        await res.aclose()
