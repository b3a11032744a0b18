"""Overhead: client CPU per unary call through finpy vs plain grpc.aio, same server, same run.

The server runs in a separate process (``python -m finpy.bench.backends``), so
``time.process_time()`` here measures the client alone: every thread of this
process, grpc's included.  Both clients call the same Echo method on the same
server, alternating in rounds so machine noise hits both alike.  The same
measurement is the ``overhead`` scenario of ``finpy bench``.

    python examples/overhead.py            # 5000 calls per client and concurrency level
    python examples/overhead.py 20000      # more calls, steadier figures
"""

from __future__ import annotations

import asyncio
import os
import sys

from finpy.bench.backends import BackendProcess
from finpy.bench.overhead import measure_overhead
from finpy.bench.result import OverheadResult


async def run(calls: int, concurrencies: tuple[int, ...]) -> OverheadResult:
    """Start one 0 ms backend in another process and measure both clients against it."""
    async with BackendProcess(1) as backend:
        return await measure_overhead(
            backend.addresses[0], calls=calls, concurrencies=concurrencies
        )


def main(calls: int = 5000, concurrencies: tuple[int, ...] = (1, 32)) -> OverheadResult:
    """Measure, print a table, and return the figures."""
    result = asyncio.run(run(calls, concurrencies))
    print(f"{'client':8} {'conc.':>5} {'CPU us/call':>12} {'calls/s':>9} {'p50 ms':>8}")
    for f in result.figures:
        print(
            f"{f.client:8} {f.concurrency:>5} {f.cpu_us_per_call:>12.0f} "
            f"{f.calls_per_second:>9.0f} {f.latency.p50 * 1000:>8.3f}"
        )
    for level in concurrencies:
        plain, finpy = result.get("plain", level), result.get("finpy", level)
        if plain and finpy:
            ratio = finpy.cpu_us_per_call / plain.cpu_us_per_call
            print(f"concurrency {level}: finpy uses {ratio:.2f}x the client CPU of plain grpc.aio")
    return result


if __name__ == "__main__":
    quick = bool(os.environ.get("FINPY_EXAMPLE_QUICK"))
    default = 300 if quick else 5000
    main(int(sys.argv[1]) if len(sys.argv) > 1 else default)
