"""Real discovery servers and protocol fakes for tests, plus a flaky resolver.

* :class:`DnsmasqServer`, :class:`ZooKeeperServer`, :class:`EtcdServer`: real
  servers from Debian packages, run as child processes on free 127.0.0.1
  ports, with ``start``/``stop``/``kill``/``restart``.
* :class:`FakeConsul`, :class:`FakeKubernetes`: faithful protocol fakes of
  the APIs that cannot run here (Consul's blocking health queries, the
  Kubernetes EndpointSlice list/watch).
* :class:`FlakyResolver`: a resolver whose discovery fails on demand.
* pytest fixtures: ``pytest_plugins = ["finpy.testing.servers.fixtures"]``.
"""

from finpy.testing.servers._process import ServerStartError, ServerUnavailable, free_port
from finpy.testing.servers.consul_fake import ConsulInstance, FakeConsul
from finpy.testing.servers.dnsmasq import DnsmasqServer
from finpy.testing.servers.etcd import EtcdServer
from finpy.testing.servers.flaky import FailureMode, FlakyResolver
from finpy.testing.servers.kubernetes_fake import FakeKubernetes, endpoint_slice
from finpy.testing.servers.zookeeper import ZooKeeperServer

__all__ = [
    "ConsulInstance",
    "DnsmasqServer",
    "EtcdServer",
    "FailureMode",
    "FakeConsul",
    "FakeKubernetes",
    "FlakyResolver",
    "ServerStartError",
    "ServerUnavailable",
    "ZooKeeperServer",
    "endpoint_slice",
    "free_port",
]
