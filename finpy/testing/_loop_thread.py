"""An asyncio event loop in a background thread, driven from any other thread.

The fault cluster's servers live on such a loop, so the cluster works the same from
synchronous tests, from any async framework, and from a loop other than the client's.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["LoopThread"]

T = TypeVar("T")

# How long a control call waits for the loop before giving up (never reached in practice:
# it bounds a test that would otherwise hang on a wedged server).
DEFAULT_TIMEOUT = 60.0


class LoopThread:
    """A daemon thread running its own event loop; ``run()`` executes coroutines on it."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._started = False
        self._closed = False
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "running" if self._started else "new"
        return f"<LoopThread {self._name!r} {state}>"

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The background loop."""
        return self._loop

    @property
    def closed(self) -> bool:
        """Whether ``close()`` has been called."""
        return self._closed

    def in_loop_thread(self) -> bool:
        """Whether the caller runs on the background loop's thread."""
        return threading.current_thread() is self._thread

    def start(self) -> None:
        """Start the thread and return once its loop runs."""
        with self._lock:
            if self._closed:
                raise RuntimeError(f"{self._name} is closed")
            if self._started:
                return
            self._started = True
        ready = threading.Event()
        self._loop.call_soon(ready.set)
        self._thread.start()
        if not ready.wait(DEFAULT_TIMEOUT):  # pragma: no cover - a wedged machine
            raise RuntimeError(f"{self._name} did not start its event loop")

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = DEFAULT_TIMEOUT) -> T:
        """Run ``coro`` on the background loop and wait for its result.

        Raises:
            RuntimeError: called from the loop's own thread (it would deadlock), or the
                thread is not running.
            TimeoutError: the coroutine did not finish within ``timeout`` seconds.
        """
        future = self.submit(coro)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"{self._name}: operation did not finish in {timeout} s") from None

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule ``coro`` on the background loop without waiting for it."""
        if self.in_loop_thread():
            coro.close()
            raise RuntimeError(
                f"{self._name}: a blocking control call was made from the cluster's own "
                "event loop (e.g. inside a servicer); it would deadlock"
            )
        if not self._started or self._closed:
            coro.close()
            raise RuntimeError(f"{self._name} is not running")
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    def close(self) -> None:
        """Stop the loop, cancel what still runs on it, close it and join the thread."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            started = self._started
        if self.in_loop_thread():
            raise RuntimeError(f"{self._name} cannot be closed from its own thread")
        if started:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(DEFAULT_TIMEOUT)
        else:
            self._loop.close()

    def _main(self) -> None:
        loop = self._loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
        finally:
            try:
                tasks = asyncio.all_tasks(loop)
                for task in tasks:
                    task.cancel()
                if tasks:
                    loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.run_until_complete(loop.shutdown_default_executor())
            finally:
                asyncio.set_event_loop(None)
                loop.close()
