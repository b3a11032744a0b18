"""Was anything else using the machine during a run?

The bench runs on shared machines.  When another process takes the CPU, the
load generator fires late and every latency of the run grows for reasons that
have nothing to do with the client under test.  Lateness alone cannot tell
that apart from a client that saturates its own process, so the bench also
measures the interference directly: the CPU the whole machine spent during
the run (``/proc/stat``), minus the CPU of the bench's own client process and
of its backend process (``/proc/<pid>/stat``), is what *other* processes
used.  On systems without ``/proc`` the interference is unknown (``None``)
and no run is set aside for it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CpuSnapshot", "others_cpu", "snapshot"]

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True, slots=True)
class CpuSnapshot:
    """CPU seconds spent so far: by the whole machine (busy), and by each watched process."""

    wall: float
    machine_busy: float
    processes: float


def _machine_busy(text: str) -> float:
    """Busy CPU seconds from the ``cpu`` line of ``/proc/stat`` (all but idle and iowait)."""
    fields = text.split("\n", 1)[0].split()
    if not fields or fields[0] != "cpu":
        raise ValueError(f"unexpected /proc/stat line: {fields[:3]!r}")
    ticks = [int(v) for v in fields[1:]]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)
    # guest time is already counted in user/nice: count user..steal only
    return (sum(ticks[:8]) - idle) / _TICK


def _process_cpu(text: str) -> float:
    """utime + stime (seconds) from a ``/proc/<pid>/stat`` line (the name may hold spaces)."""
    after_name = text.rsplit(")", 1)[1].split()
    return (int(after_name[11]) + int(after_name[12])) / _TICK


def snapshot(pids: tuple[int, ...], wall: float) -> CpuSnapshot | None:
    """CPU counters now (``None`` where ``/proc`` is not available)."""
    try:
        machine = _machine_busy(Path("/proc/stat").read_text())
        procs = sum(_process_cpu(Path(f"/proc/{pid}/stat").read_text()) for pid in pids)
    except (OSError, ValueError, IndexError):
        return None
    return CpuSnapshot(wall, machine, procs)


def others_cpu(before: CpuSnapshot | None, after: CpuSnapshot | None) -> float | None:
    """Average CPU cores used by processes other than the watched ones between two snapshots."""
    if before is None or after is None or after.wall <= before.wall:
        return None
    others = (after.machine_busy - before.machine_busy) - (after.processes - before.processes)
    return max(0.0, others) / (after.wall - before.wall)
