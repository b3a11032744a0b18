"""Measuring what other processes used while a run was on."""

from __future__ import annotations

import os
import time

import pytest

from finpy.bench import machine
from finpy.bench.machine import CpuSnapshot, others_cpu


def test_proc_stat_lines_parse_to_busy_seconds() -> None:
    """Busy machine time excludes idle and iowait; process time is utime + stime."""
    tick = machine._TICK
    busy = machine._machine_busy("cpu  100 10 50 1000 40 5 5 2 0 0\ncpu0 1 2 3\n")
    assert busy == pytest.approx((100 + 10 + 50 + 5 + 5 + 2) / tick)
    line = "1234 (a name (with) spaces) S 1 2 3 4 5 6 7 8 9 10 300 200 0 0"
    assert machine._process_cpu(line) == pytest.approx(500 / tick)
    with pytest.raises(ValueError, match="unexpected"):
        machine._machine_busy("intr 1 2 3")


def test_others_are_machine_busy_minus_the_watched_processes() -> None:
    """3 busy cores-seconds over 2 s, 1 of them ours: others used 1 core on average."""
    before = CpuSnapshot(wall=10.0, machine_busy=100.0, processes=5.0)
    after = CpuSnapshot(wall=12.0, machine_busy=103.0, processes=6.0)
    assert others_cpu(before, after) == pytest.approx(1.0)
    assert others_cpu(None, after) is None
    assert others_cpu(after, before) is None


def test_snapshot_reads_this_machine_when_proc_exists() -> None:
    """On Linux a snapshot watches our own process; a missing pid gives None."""
    if not os.path.exists("/proc/stat"):
        pytest.skip("no /proc on this system")
    snap = machine.snapshot((os.getpid(),), time.monotonic())
    assert snap is not None and snap.machine_busy >= snap.processes > 0
    assert machine.snapshot((2**31 - 1,), time.monotonic()) is None
