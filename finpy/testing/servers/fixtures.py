"""pytest fixtures for the real discovery servers and the protocol fakes.

Each server starts once per test session on free 127.0.0.1 ports; the
function-scoped fixture hands it to a test running (restarting it if an
earlier test stopped it), so tests may stop, kill and restart servers freely.

A missing binary skips the test on a developer machine and *fails* it under
``CI`` (``CI`` set and not ``false``/``0``): a CI run without its servers must
not pass silently.  Register them in a conftest with
``pytest_plugins = ["finpy.testing.servers.fixtures"]``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest

from finpy.testing.servers._process import ManagedServer, ServerUnavailable
from finpy.testing.servers.consul_fake import FakeConsul
from finpy.testing.servers.dnsmasq import DnsmasqServer
from finpy.testing.servers.etcd import EtcdServer
from finpy.testing.servers.kubernetes_fake import FakeKubernetes
from finpy.testing.servers.zookeeper import ZooKeeperServer

__all__ = [
    "consul_fake",
    "dnsmasq_server",
    "etcd_server",
    "in_ci",
    "kubernetes_fake",
    "require_server",
    "zookeeper_server",
]

S = TypeVar("S", bound=ManagedServer)


def in_ci() -> bool:
    """Whether we run under CI (then missing servers are failures, not skips)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def require_server(factory: Callable[[], S]) -> S:
    """Build a server, or skip (fail under CI) if its binary is missing."""
    try:
        return factory()
    except ServerUnavailable as e:
        if in_ci():
            pytest.fail(f"{e} — CI must install it (.ci/run)", pytrace=False)
        pytest.skip(str(e))


def _session_server(factory: Callable[[], S]) -> Iterator[S]:
    server = require_server(factory)
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def _finpy_zookeeper_session() -> Iterator[ZooKeeperServer]:
    yield from _session_server(ZooKeeperServer)


@pytest.fixture(scope="session")
def _finpy_etcd_session() -> Iterator[EtcdServer]:
    yield from _session_server(EtcdServer)


@pytest.fixture(scope="session")
def _finpy_dnsmasq_session() -> Iterator[DnsmasqServer]:
    yield from _session_server(DnsmasqServer)


@pytest.fixture
def zookeeper_server(_finpy_zookeeper_session: ZooKeeperServer) -> ZooKeeperServer:
    """A real ZooKeeper on 127.0.0.1, running when the test starts (``.hosts``)."""
    _finpy_zookeeper_session.start()
    return _finpy_zookeeper_session


@pytest.fixture
def etcd_server(_finpy_etcd_session: EtcdServer) -> EtcdServer:
    """A real etcd on 127.0.0.1, running when the test starts (``.endpoint``)."""
    _finpy_etcd_session.start()
    return _finpy_etcd_session


@pytest.fixture
def dnsmasq_server(_finpy_dnsmasq_session: DnsmasqServer) -> DnsmasqServer:
    """A real dnsmasq on 127.0.0.1 with no records yet (``set_records`` to add some)."""
    server = _finpy_dnsmasq_session
    server.hosts, server.srv, server.ttl = {}, {}, 1
    server.restart()
    return server


@pytest.fixture
def consul_fake() -> Iterator[FakeConsul]:
    """A protocol fake of Consul's health API (blocking queries) on 127.0.0.1."""
    with FakeConsul() as fake:
        yield fake


@pytest.fixture
def kubernetes_fake() -> Iterator[FakeKubernetes]:
    """A protocol fake of the Kubernetes EndpointSlice list/watch API on 127.0.0.1."""
    with FakeKubernetes() as fake:
        yield fake
