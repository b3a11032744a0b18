"""A cluster of real local gRPC backends with faults a test controls while calls run.

``FaultCluster(3)`` starts three ``grpc.aio`` servers on ``127.0.0.1`` (free ports),
each serving the Echo service (or your own servicers) behind a fault layer that applies
the backend's :class:`~finpy.testing.Behavior`: latency, tail latency, injected errors
with trailing metadata, a concurrency capacity, refused connections. Backends can be
stopped, started and restarted on the same port, gracefully or abruptly, to play
rolling restarts and crashes; each counts the calls it received.

Why a background thread: the servers run on their own event loop in a daemon thread, so
a cluster works from synchronous tests, from any async framework, and next to a client
on another loop. Every control method is thread-safe and blocks until done; those that
need the servers (``start``, ``stop``, ``restart``, changing ``refuse_connections``)
run on the cluster's loop, so call them from tests, not from inside a servicer (an async
test may use ``await asyncio.to_thread(backend.stop, 5.0)`` to keep its loop running).
"""

from __future__ import annotations

import asyncio
import itertools
import sys
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any

import grpc
import grpc.aio

from finpy.testing._fault_layer import CallCounters, FaultInterceptor
from finpy.testing._loop_thread import LoopThread
from finpy.testing.behavior import Behavior
from finpy.testing.echo.service import EchoService
from finpy.testing.statistics import BackendStatistics, ClusterStatistics

__all__ = ["Backend", "Behavior", "FaultCluster", "ServicerFactory"]

ServicerFactory = Callable[[str], object]
"""Makes the servicer of one backend from its name.

It may return an instance of a generated servicer class (registered with the
``add_<Name>Servicer_to_server`` function generated next to it) or a
``grpc.GenericRpcHandler``. It is called once per backend; the servicer outlives restarts.
"""

HOST = "127.0.0.1"

# Refuse to share a port with another process: a stopped backend's port must not be
# silently load-balanced with a stranger's server when it listens again.
_SERVER_OPTIONS = (("grpc.so_reuseport", 0),)

_cluster_ids = itertools.count()


def _registrar(servicer: object) -> Callable[[grpc.aio.Server], None]:
    """How to add ``servicer`` to a server; fails fast on something that is not a servicer."""
    if isinstance(servicer, grpc.GenericRpcHandler):
        handler = servicer
        return lambda server: server.add_generic_rpc_handlers((handler,))
    for cls in type(servicer).__mro__:
        module = sys.modules.get(cls.__module__)
        add = getattr(module, f"add_{cls.__name__}_to_server", None)
        if callable(add):
            return lambda server: add(servicer, server)
    raise TypeError(
        f"servicer_factory returned {servicer!r}: expected an instance of a generated "
        "servicer class (with add_<Name>Servicer_to_server beside it) or a "
        "grpc.GenericRpcHandler"
    )


class Backend:
    """One real ``grpc.aio`` server on ``127.0.0.1`` behind a fault layer.

    Made by :class:`FaultCluster`; all methods are thread-safe.
    """

    def __init__(
        self,
        name: str,
        *,
        runner: LoopThread,
        behavior: Behavior,
        servicer: object,
    ) -> None:
        self._name = name
        self._runner = runner
        self._initial = behavior.changed(seed=behavior.seed)
        self._behavior = behavior.changed(seed=behavior.seed)
        self._behavior._listener = self._on_refuse_connections
        self._servicer = servicer
        self._register = _registrar(servicer)
        self._counters = CallCounters()
        self._interceptor = FaultInterceptor(name, lambda: self._behavior, self._counters)
        self._port: int | None = None
        self._server: grpc.aio.Server | None = None  # touched on the loop only
        self._wanted = False  # started by start(), cleared by stop()
        self._transition: asyncio.Lock | None = None  # made on the loop
        self._background: set[asyncio.Future[None]] = set()  # changes made from the loop

    def __repr__(self) -> str:
        state = "listening" if self.listening else "stopped"
        return (
            f"<Backend {self._name} {self.address} {state} "
            f"attempts={self.attempts} {self._behavior!r}>"
        )

    @property
    def name(self) -> str:
        """``"backend-<i>"``: what Echo replies carry in ``server``."""
        return self._name

    @property
    def port(self) -> int:
        """The port, chosen free at the first start and kept across restarts."""
        if self._port is None:
            raise RuntimeError(f"{self._name} has not started yet")
        return self._port

    @property
    def address(self) -> str:
        """``"127.0.0.1:<port>"``."""
        return f"{HOST}:{self._port if self._port is not None else '?'}"

    @property
    def listening(self) -> bool:
        """Whether the server accepts connections now."""
        return self._server is not None

    @property
    def servicer(self) -> object:
        """The servicer object this backend serves (an ``EchoService`` by default)."""
        return self._servicer

    @property
    def behavior(self) -> Behavior:
        """The live behavior: assigning its fields changes the backend at once."""
        return self._behavior

    @behavior.setter
    def behavior(self, behavior: Behavior) -> None:
        self._install(behavior.changed(seed=behavior.seed))

    @property
    def attempts(self) -> int:
        """Calls received since start or the last ``reset_counters()``."""
        return self._counters.attempts

    def set(self, **changes: Any) -> Behavior:
        """Change some behavior fields at once, e.g. ``set(latency=0.2)``; returns the result.

        Raises:
            ValueError: an unknown field or an invalid value (nothing is changed).
        """
        self._install(self._behavior.changed(**changes))
        return self._behavior

    def reset(self) -> None:
        """Go back to the behavior the backend was created with (reseeding its random choices)."""
        self._install(self._initial.changed(seed=self._initial.seed))

    def statistics(self) -> BackendStatistics:
        """A frozen snapshot of the counters."""
        return self._counters.snapshot(self._name, self.address, self.listening)

    def reset_counters(self) -> None:
        """Zero the counters (calls in flight stay counted as in flight)."""
        self._counters.reset()

    def start(self) -> None:
        """Listen (again) on the backend's port; a no-op if it is listening.

        While ``behavior.refuse_connections`` is set the backend stays down, and listens
        when it is cleared.
        """
        self._runner.run(self._start())

    def stop(self, grace: float = 0.0) -> None:
        """Stop listening; calls in flight get ``grace`` seconds to finish.

        With ``grace=0`` calls in flight are cancelled at once (clients see UNAVAILABLE),
        as when a process dies. Returns when the server is down.
        """
        if grace < 0:
            raise ValueError(f"grace must be >= 0 seconds, got {grace!r}")
        self._runner.run(self._stop(grace), timeout=grace + 60)

    def restart(self, grace: float = 0.0) -> None:
        """``stop(grace)`` then ``start()``: same port, same servicer, same counters."""
        self.stop(grace)
        self.start()

    def _install(self, behavior: Behavior) -> None:
        old, self._behavior = self._behavior, behavior
        old._listener = None
        behavior._listener = self._on_refuse_connections
        if old.refuse_connections != behavior.refuse_connections:
            self._on_refuse_connections(behavior.refuse_connections)

    def _on_refuse_connections(self, refuse: bool) -> None:
        if self._runner.closed or self._port is None:
            return  # not started yet, or gone: the next start reads the behavior
        if self._runner.in_loop_thread():  # from a servicer: can't wait for ourselves
            task = asyncio.ensure_future(self._reconcile(grace=0.0))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        else:
            self._runner.run(self._reconcile(grace=0.0))

    # Below: coroutines that run on the cluster's loop.

    async def _start(self) -> None:
        self._wanted = True
        if self._port is None:  # first start: bind to learn a free port, even if refusing
            async with self._lock():
                await self._listen()
        await self._reconcile(grace=0.0)

    async def _stop(self, grace: float) -> None:
        self._wanted = False
        await self._reconcile(grace)

    async def _reconcile(self, grace: float) -> None:
        """Make the server match ``wanted and not refuse_connections``."""
        async with self._lock():
            should_listen = self._wanted and not self._behavior.refuse_connections
            if should_listen and self._server is None:
                await self._listen()
            elif not should_listen and self._server is not None:
                server, self._server = self._server, None
                await server.stop(grace if grace > 0 else None)

    def _lock(self) -> asyncio.Lock:
        if self._transition is None:
            self._transition = asyncio.Lock()
        return self._transition

    async def _listen(self) -> None:
        server = grpc.aio.server(interceptors=(self._interceptor,), options=_SERVER_OPTIONS)
        self._register(server)
        wanted = f"{HOST}:{self._port or 0}"
        error: RuntimeError | None = None
        try:
            port = server.add_insecure_port(wanted)
        except RuntimeError as exc:  # grpc raises "Failed to bind" when the port is taken
            port, error = 0, exc
        if port == 0:
            await server.stop(None)
            taken = " (taken by another process while the backend was down?)" if self._port else ""
            raise RuntimeError(f"{self._name} could not listen on {wanted}{taken}") from error
        await server.start()
        self._port = port
        self._server = server


class FaultCluster:
    """N real gRPC backends on ``127.0.0.1``, each with its own controllable :class:`Behavior`.

    Use it as a context manager (``with FaultCluster(3) as cluster:``) or call
    ``start()`` and ``close()``. Backends are named ``backend-0``, ``backend-1``, ...;
    ``target`` is a ``static:///`` target naming all of them.

    Args:
        size: number of backends (>= 1).
        behavior: the initial behavior of every backend (each gets its own copy, seeded
            alike), and what ``Backend.reset()`` returns to. Default: no faults.
        servicer_factory: makes each backend's servicer from its name; default
            :class:`~finpy.testing.echo.EchoService`. See :data:`ServicerFactory`.
    """

    def __init__(
        self,
        size: int = 3,
        *,
        behavior: Behavior | None = None,
        servicer_factory: ServicerFactory | None = None,
    ) -> None:
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"FaultCluster size must be an int >= 1, got {size!r}")
        if behavior is not None and not isinstance(behavior, Behavior):
            raise ValueError(f"behavior must be a finpy.testing.Behavior, got {behavior!r}")
        self._size = size
        self._behavior = behavior if behavior is not None else Behavior()
        self._servicer_factory: ServicerFactory = servicer_factory or EchoService
        self._id = next(_cluster_ids)
        self._runner: LoopThread | None = None
        self._backends: tuple[Backend, ...] = ()
        self._closed = False

    def __repr__(self) -> str:
        if self._closed:
            state = "closed"
        elif self._runner is None:
            state = "not started"
        else:
            state = f"target={self.target!r} attempts={self.total_attempts}"
        return f"<FaultCluster size={self._size} {state}>"

    def __enter__(self) -> FaultCluster:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def start(self) -> FaultCluster:
        """Start the loop thread and every backend; returns the cluster. A no-op if started."""
        if self._closed:
            raise RuntimeError("this FaultCluster is closed; make a new one")
        if self._runner is not None:
            return self
        runner = LoopThread(f"finpy-fault-cluster-{self._id}")
        self._runner = runner
        try:
            self._backends = tuple(
                Backend(
                    f"backend-{i}",
                    runner=runner,
                    behavior=self._behavior,
                    servicer=self._servicer_factory(f"backend-{i}"),
                )
                for i in range(self._size)
            )
            runner.start()
            runner.run(self._start_all(self._backends))
        except BaseException:
            self.close()
            raise
        return self

    def close(self, grace: float = 0.0) -> None:
        """Stop every backend (cancelling calls in flight unless ``grace``) and join the thread.

        Idempotent. Statistics stay readable afterwards.
        """
        if self._closed:
            return
        self._closed = True
        runner = self._runner
        if runner is None:
            return
        try:
            if not runner.closed and self._backends:
                runner.run(self._stop_all(self._backends, grace), timeout=grace + 60)
        finally:
            runner.close()

    @property
    def backends(self) -> tuple[Backend, ...]:
        """The backends, in name order."""
        self._require_started()
        return self._backends

    def backend(self, index: int) -> Backend:
        """The backend named ``backend-<index>``."""
        return self.backends[index]

    @property
    def addresses(self) -> list[str]:
        """``"127.0.0.1:<port>"`` of every backend, in name order."""
        return [b.address for b in self.backends]

    @property
    def target(self) -> str:
        """``"static:///127.0.0.1:<p0>,127.0.0.1:<p1>,..."``: every backend, for a finpy client."""
        return "static:///" + ",".join(self.addresses)

    @property
    def total_attempts(self) -> int:
        """Calls received by all backends."""
        return sum(b.attempts for b in self.backends)

    def attempts_by_backend(self) -> dict[str, int]:
        """Calls received, by backend name."""
        return {b.name: b.attempts for b in self.backends}

    def statistics(self) -> ClusterStatistics:
        """A frozen snapshot of every backend's counters."""
        return ClusterStatistics(tuple(b.statistics() for b in self.backends))

    def reset_counters(self) -> None:
        """Zero every backend's counters."""
        for b in self.backends:
            b.reset_counters()

    def _require_started(self) -> None:
        if not self._backends:
            raise RuntimeError("FaultCluster has not been started: use start() or `with`")

    @staticmethod
    async def _start_all(backends: Sequence[Backend]) -> None:
        await asyncio.gather(*(b._start() for b in backends))

    @staticmethod
    async def _stop_all(backends: Sequence[Backend], grace: float) -> None:
        await asyncio.gather(*(b._stop(grace) for b in backends), return_exceptions=True)
