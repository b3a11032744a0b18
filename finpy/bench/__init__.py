"""``finpy bench``: scenario benchmarks of finpy against the clients Python users use today.

The bench offers open-loop load (:mod:`finpy.bench.loadgen`) to real gRPC
backends running in a separate process (:mod:`finpy.bench.backends`), under
named fault scenarios (:mod:`finpy.bench.scenarios`), through finpy and
through its peers (:mod:`finpy.bench.peers`): plain ``grpc.aio`` with
``round_robin``, the same with gRPC service-config retries, and tenacity
around it.  Every figure of finpy is judged against the bars of the design
notes, computed from peers measured in the same run (:mod:`finpy.bench.bars`).

Modules: :mod:`~finpy.bench.loadgen` (open-loop load), :mod:`~finpy.bench.histogram`
(exact percentiles), :mod:`~finpy.bench.scenarios`, :mod:`~finpy.bench.backends` (the
backend process), :mod:`~finpy.bench.peers`, :mod:`~finpy.bench.runner` and
:mod:`~finpy.bench.suite` (running), :mod:`~finpy.bench.bars` and
:mod:`~finpy.bench.verify` (judging), :mod:`~finpy.bench.report` (tables, JSON lines,
Markdown, PNG), :mod:`~finpy.bench.overhead`, :mod:`~finpy.bench.discovery`,
:mod:`~finpy.bench.machine` and :mod:`~finpy.bench.demo` (``finpy demo``).  Nothing is
imported here, so the backend process starts without the client's dependencies.
"""

__all__: list[str] = []
