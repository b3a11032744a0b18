"""``finpy bench``: scenario benchmarks of finpy against the clients Python users use today.

The bench offers open-loop load (:mod:`finpy.bench.loadgen`) to real gRPC
backends running in a separate process (:mod:`finpy.bench.backends`), under
named fault scenarios (:mod:`finpy.bench.scenarios`), through finpy and
through its peers (:mod:`finpy.bench.peers`): plain ``grpc.aio`` with
``round_robin``, the same with gRPC service-config retries, and tenacity
around it.  Every figure of finpy is judged against the bars of the design
notes, computed from peers measured in the same run (:mod:`finpy.bench.bars`).
"""
