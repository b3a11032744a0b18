"""The pytest plugin: finpy_cluster and finpy_cluster_factory fixtures, the marker."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading

import pytest

USER_TESTS = """
import grpc
import pytest

from finpy.testing import FaultCluster
from finpy.testing.echo import EchoRequest, EchoStub


def test_default_cluster(finpy_cluster):
    assert isinstance(finpy_cluster, FaultCluster)
    assert len(finpy_cluster.backends) == 3
    with grpc.insecure_channel(finpy_cluster.backend(2).address) as channel:
        assert EchoStub(channel).Echo(EchoRequest(message="x"), timeout=10).server == "backend-2"
    assert finpy_cluster.attempts_by_backend() == {"backend-0": 0, "backend-1": 0, "backend-2": 1}


@pytest.mark.finpy_cluster(size=2, latency=0.01, error_code=grpc.StatusCode.UNAVAILABLE)
def test_marked_cluster(finpy_cluster):
    assert [b.name for b in finpy_cluster.backends] == ["backend-0", "backend-1"]
    assert finpy_cluster.backend(1).behavior.latency == 0.01
    with grpc.insecure_channel(finpy_cluster.backend(0).address) as channel:
        with pytest.raises(grpc.RpcError) as info:
            EchoStub(channel).Echo(EchoRequest(message="x"), timeout=10)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE


@pytest.mark.finpy_cluster(1)
def test_positional_size(finpy_cluster):
    assert len(finpy_cluster.backends) == 1


def test_factory(finpy_cluster_factory):
    first = finpy_cluster_factory(1)
    second = finpy_cluster_factory(2, capacity=4)
    assert second.backend(1).behavior.capacity == 4
    assert first.backend(0).port not in {b.port for b in second.backends}
"""


@pytest.fixture(autouse=True)
def _quiet_pytest_asyncio(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")


def _refused(address: str) -> bool:
    host, port = address.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=5):
            return False
    except ConnectionRefusedError:
        return True


def test_fixtures_and_marker_work_in_a_user_test_file(pytester: pytest.Pytester) -> None:
    """A user's sync tests get started clusters, sized and faulted by the marker."""
    pytester.makepyfile(test_user=USER_TESTS)
    pytester.runpytest().assert_outcomes(passed=4)


def test_fixtures_close_their_servers_at_teardown(pytester: pytest.Pytester) -> None:
    """After the user's tests, every address they used refuses connections and no thread is left."""
    before = set(threading.enumerate())
    pytester.makepyfile(
        test_user="""
        from pathlib import Path

        def test_both(finpy_cluster, finpy_cluster_factory):
            more = finpy_cluster_factory(2)
            Path("addresses.txt").write_text(" ".join(finpy_cluster.addresses + more.addresses))
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)
    addresses = (pytester.path / "addresses.txt").read_text().split()
    assert len(addresses) == 3 + 2
    assert all(_refused(a) for a in addresses)
    assert not [t for t in set(threading.enumerate()) - before if "fault-cluster" in t.name]


def test_marker_is_registered(pytester: pytest.Pytester) -> None:
    """--strict-markers accepts @pytest.mark.finpy_cluster without the project declaring it."""
    pytester.makepyfile(
        test_marked="""
        import pytest

        @pytest.mark.finpy_cluster(size=1)
        def test_nothing():
            pass
        """
    )
    pytester.runpytest("--strict-markers").assert_outcomes(passed=1)


def test_bad_marker_arguments_fail_the_test_clearly(pytester: pytest.Pytester) -> None:
    """A bad marker value errors the test with the Behavior's ValueError."""
    pytester.makepyfile(
        test_bad="""
        import pytest

        @pytest.mark.finpy_cluster(latency=-1)
        def test_bad(finpy_cluster):
            pass
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*Behavior.latency must be*-1*"])


def test_importing_the_plugin_imports_no_grpc_and_starts_nothing() -> None:
    """The plugin module loads neither grpc nor the cluster until a fixture is used."""
    code = (
        "import sys, threading, finpy\n"
        "before = set(sys.modules)\n"
        "import finpy.testing.pytest_plugin\n"
        "new = set(sys.modules) - before\n"
        "bad = sorted(m for m in new if m.split('.')[0] == 'grpc' or m.startswith('finpy.testing.') "
        "and m != 'finpy.testing.pytest_plugin')\n"
        "assert not bad, bad\n"
        "assert threading.active_count() == 1, threading.enumerate()\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
