"""An asyncio loop in a daemon thread, for the protocol fakes (sync-controllable)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["BackgroundLoop"]

T = TypeVar("T")


class BackgroundLoop:
    """``run(coro)`` executes ``coro`` on the thread's loop and waits (bounded)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self.started = self.closed = False

    def start(self) -> None:
        if not self.started:
            self.started = True
            self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError(f"{self.name}: blocking call from its own loop would deadlock")
        if not self.started or self.closed:
            coro.close()
            raise RuntimeError(f"{self.name} is not running")
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.started:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(30)
        else:
            self.loop.close()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
        finally:
            tasks = asyncio.all_tasks(self.loop)
            for t in tasks:
                t.cancel()
            self.loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            self.loop.close()
