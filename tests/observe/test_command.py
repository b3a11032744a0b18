"""Tests of ``finpy stats`` (``finpy.observe.command``) against real local backends.

The command runs in a subprocess, as a user runs it (it owns its event loop).
"""

from __future__ import annotations

import subprocess
import sys

from finpy.testing import FaultCluster


def finpy(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "finpy", *args],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def test_stats_prints_the_endpoints_of_a_target() -> None:
    """`finpy stats TARGET` resolves, connects and lists every endpoint as open."""
    with FaultCluster(2) as cluster:
        result = finpy("stats", cluster.target, "--wait", "20")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("finpy: 1 live client\n")
    assert "discovery   Bound, 2 addresses, healthy" in out
    rows = [line.split() for line in out.splitlines() if line.lstrip().startswith("127.0.0.1:")]
    assert sorted(r[0] for r in rows) == sorted(cluster.addresses)
    assert {r[1] for r in rows} == {"open"}


def test_stats_of_a_bad_target_is_a_clear_error() -> None:
    """A target no resolver understands: exit status 2 and a message naming its scheme."""
    result = finpy("stats", "nope:///users")
    assert result.returncode == 2
    assert "finpy stats: error: no resolver for scheme 'nope'" in result.stderr
