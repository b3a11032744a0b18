"""``Resolution``: the live, observable result of resolving one target.

A resolution holds the current :mod:`~finpy.resolver.state` and tells its
subscribers about every change.  Resolvers publish into it (from a background
task, a watch callback, ...); the client's endpoint set subscribes to it.
Applications can also make one themselves and publish addresses by hand::

    res = Resolution(Bound([Address("10.0.0.1", 50051)]))
    channel = finpy_protocols.grpc.Channel(res)
    res.publish(Bound([...]))        # the client follows
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from finpy.errors import ServiceClosedError
from finpy.resolver.state import Bound, Failed, Negative, Pending, ResolutionState

__all__ = ["Resolution"]

log = logging.getLogger("finpy.resolver")

Listener = Callable[[ResolutionState], None]


class Resolution:
    """Current state of a name plus change notification."""

    def __init__(
        self,
        initial: ResolutionState | None = None,
        *,
        target: str = "",
        on_close: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._state: ResolutionState = initial if initial is not None else Pending()
        self._listeners: list[Listener] = []
        # wake-ups of changes() iterators and wait_for() calls when the resolution closes
        self._on_close_wakeups: set[Callable[[], None]] = set()
        self._version = 0
        self._closed = False
        self._on_close = on_close
        self.target = target

    @property
    def state(self) -> ResolutionState:
        """The latest published state."""
        return self._state

    @property
    def version(self) -> int:
        """How many states were published after the initial one."""
        return self._version

    @property
    def closed(self) -> bool:
        return self._closed

    def publish(self, state: ResolutionState) -> None:
        """Make ``state`` current and notify subscribers (no-op when closed)."""
        if not isinstance(state, (Bound, Negative, Pending, Failed)):
            raise TypeError(f"not a resolution state: {state!r}")
        if self._closed:
            return
        self._state = state
        self._version += 1
        version = self._version
        for listener in tuple(self._listeners):
            if self._version != version:
                break  # a listener published a newer state, already sent to everyone
            try:
                listener(state)
            except Exception:  # a broken subscriber must not break discovery
                log.exception("resolution listener %r failed on %r", listener, state)

    def subscribe(self, listener: Listener, *, replay: bool = True) -> Callable[[], None]:
        """Call ``listener`` on every change (and now, if ``replay``); returns an unsubscribe."""
        self._listeners.append(listener)
        if replay:
            try:
                listener(self._state)
            except BaseException:  # not subscribed if it cannot take the current state
                self._listeners.remove(listener)
                raise

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._listeners.remove(listener)

        return unsubscribe

    async def changes(self) -> AsyncIterator[ResolutionState]:
        """Iterate over the current state and then every new one until closed."""
        if self._closed:
            return
        queue: asyncio.Queue[ResolutionState | None] = asyncio.Queue()

        def wake() -> None:
            queue.put_nowait(None)

        unsubscribe = self.subscribe(queue.put_nowait)
        self._on_close_wakeups.add(wake)
        try:
            while not self._closed:
                item = await queue.get()
                if item is None:
                    break
                yield item
        finally:
            self._on_close_wakeups.discard(wake)
            unsubscribe()

    async def wait_for(self, predicate: Callable[[ResolutionState], bool]) -> ResolutionState:
        """Wait until the state satisfies ``predicate`` and return it.

        Raises :class:`~finpy.errors.ServiceClosedError` if the resolution is (or
        gets) closed first: no state will ever come.
        """
        if predicate(self._state):
            return self._state
        if self._closed:
            raise ServiceClosedError(f"resolution of {self.target!r} is closed")
        fut: asyncio.Future[ResolutionState] = asyncio.get_running_loop().create_future()

        def check(state: ResolutionState) -> None:
            if fut.done():
                return
            try:
                matched = predicate(state)
            except Exception as e:  # the waiter gets the predicate's error instead of hanging
                fut.set_exception(e)
                return
            if matched:
                fut.set_result(state)

        def closed() -> None:
            if not fut.done():
                fut.set_exception(ServiceClosedError(f"resolution of {self.target!r} was closed"))

        unsubscribe = self.subscribe(check, replay=False)
        self._on_close_wakeups.add(closed)
        try:
            return await fut
        finally:
            self._on_close_wakeups.discard(closed)
            unsubscribe()

    async def aclose(self) -> None:
        """Stop the resolver behind this resolution (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._listeners.clear()
        for wake in tuple(self._on_close_wakeups):
            wake()
        if self._on_close is not None:
            await self._on_close()

    def __repr__(self) -> str:
        return f"Resolution({self.target!r}, {self._state!r}, version={self._version})"
