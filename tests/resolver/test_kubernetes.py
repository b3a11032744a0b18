"""The Kubernetes resolver against the protocol fake: list/watch, resourceVersion, 410."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from finpy.errors import TargetError
from finpy.resolver.guard import GuardedResolution, MalformedUpdateError
from finpy.resolver.kubernetes import KubernetesResolver, parse_kubernetes_target, slice_addresses
from finpy.resolver.target import Target
from finpy.testing.servers.kubernetes_fake import FakeKubernetes, endpoint_slice

from .conftest import bound_to, eventually

PORTS = [{"name": "grpc", "port": 8080, "protocol": "TCP"}]


def ep(ip: str, ready: bool | None = True, zone: str = "z1") -> dict[str, Any]:
    cond = {} if ready is None else {"ready": ready}
    return {"addresses": [ip], "conditions": cond, "zone": zone, "nodeName": "n1"}


def test_ready_endpoints_and_named_port() -> None:
    """Only ready (or unknown) endpoints count; the named port gives the number."""
    s = endpoint_slice(
        "s1", "users", [ep("10.0.0.1"), ep("10.0.0.2", False), ep("10.0.0.3", None)], PORTS
    )
    got = {a.authority: a.zone for a in slice_addresses({"s1": s}, "grpc")}
    assert got == {"10.0.0.1:8080": "z1", "10.0.0.3:8080": "z1"}


def test_null_fields_are_empty() -> None:
    """endpoints: null, ports: null and addresses: null are handled as empty."""
    slices = {
        "a": endpoint_slice("a", "users", None, PORTS),
        "b": endpoint_slice("b", "users", [{"addresses": None}], PORTS),
        "c": endpoint_slice("c", "users", [ep("10.0.0.9")], None),
    }
    assert slice_addresses(slices, "grpc") == []
    assert [a.authority for a in slice_addresses(slices, 7000)] == ["10.0.0.9:7000"]


def test_bad_slice_is_malformed_and_named() -> None:
    """A slice whose endpoints are not a list is rejected, naming the slice."""
    with pytest.raises(MalformedUpdateError, match="EndpointSlice s9"):
        slice_addresses({"s9": {"endpoints": "oops", "ports": PORTS}}, "grpc")


@pytest.mark.parametrize(
    ("raw", "message"),
    [("kubernetes:///users", "needs a port"), ("kubernetes:///Users.ns:80", "invalid service")],
)
def test_bad_kubernetes_targets(raw: str, message: str) -> None:
    """Targets are validated at construction."""
    with pytest.raises(TargetError, match=message):
        parse_kubernetes_target(Target.parse(raw))


async def test_list_watch_resume_and_gone(kubernetes_fake: FakeKubernetes) -> None:
    """Watch events update the set, a closed watch resumes, 410 Gone relists."""
    kubernetes_fake.apply(endpoint_slice("users-a", "users", [ep("10.0.0.1")], PORTS))
    resolver = KubernetesResolver(api_server=kubernetes_fake.url, watch_timeout=1)
    res = GuardedResolution(resolver.resolve(Target.parse("kubernetes:///users.default:grpc")))
    try:
        await asyncio.wait_for(res.wait_for(bound_to({"10.0.0.1:8080"})), 10)
        kubernetes_fake.apply(endpoint_slice("users-b", "users", [ep("10.0.0.2")], PORTS))
        await asyncio.wait_for(res.wait_for(bound_to({"10.0.0.1:8080", "10.0.0.2:8080"})), 10)
        await eventually(lambda: kubernetes_fake.watches >= 2, what="the watch resumed")
        lists = kubernetes_fake.lists
        kubernetes_fake.compact()
        kubernetes_fake.delete("default", "users-a")
        await asyncio.wait_for(res.wait_for(bound_to({"10.0.0.2:8080"})), 10)
        kubernetes_fake.apply(endpoint_slice("users-b", "users", [ep("10.0.0.2", False)], PORTS))
        await eventually(lambda: res.statistics().rejected_empty >= 1, what="empty set kept out")
        assert lists >= 1
    finally:
        await res.aclose()


async def test_api_server_outage_keeps_the_set(kubernetes_fake: FakeKubernetes) -> None:
    """With the API server down the set stays; when it returns, changes are followed."""
    kubernetes_fake.apply(endpoint_slice("users-a", "users", [ep("10.0.0.1")], PORTS))
    resolver = KubernetesResolver(api_server=kubernetes_fake.url, watch_timeout=30)
    res = GuardedResolution(resolver.resolve(Target.parse("kubernetes:///users.default:grpc")))
    try:
        await asyncio.wait_for(res.wait_for(bound_to({"10.0.0.1:8080"})), 10)
        await asyncio.to_thread(kubernetes_fake.stop)  # the loop keeps running meanwhile
        await eventually(lambda: res.statistics().failures >= 1, what=f"outage seen {res!r}")
        assert res.statistics().addresses == 1
        kubernetes_fake.start()
        kubernetes_fake.apply(endpoint_slice("users-a", "users", [ep("10.0.0.3")], PORTS))
        await asyncio.wait_for(res.wait_for(bound_to({"10.0.0.3:8080"})), 20)
    finally:
        await res.aclose()


@pytest.mark.parametrize("yields", [0, 1, 2, 5])
def test_stop_cuts_a_connection_accepted_just_before(
    kubernetes_fake: FakeKubernetes, yields: int
) -> None:
    """A connection accepted right before stop() is cut, whether or not its handler ran.

    The outage test's watch used to connect in this window and be served on by a
    stopped fake (its handler started after the stop had swept the connections).
    """
    listener = kubernetes_fake._listener
    assert listener is not None

    async def pause_accepting() -> None:
        asyncio.get_running_loop().remove_reader(listener.fileno())

    async def accept_then_stop() -> None:
        kubernetes_fake._accept(listener)  # accepted; the handler task is only scheduled
        for _ in range(yields):  # the handler gets nowhere, or part of the way
            await asyncio.sleep(0)
        await kubernetes_fake._stop()

    kubernetes_fake._thread.run(pause_accepting())
    with socket.create_connection(("127.0.0.1", kubernetes_fake.port), timeout=5) as client:
        client.sendall(
            b"GET /apis/discovery.k8s.io/v1/namespaces/default/endpointslices"
            b"?labelSelector=kubernetes.io/service-name=users&watch=true HTTP/1.1\r\n"
            b"Host: x\r\n\r\n"
        )
        kubernetes_fake._thread.run(accept_then_stop())
        try:  # the response may have begun before the stop; the connection must end
            while client.recv(65536):
                pass
        except ConnectionResetError:
            pass  # cut with a reset, as a dying server's connections are
        except TimeoutError:
            pytest.fail("a connection accepted before stop() was left open")
