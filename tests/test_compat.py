"""Tests of ``finpy._compat``: the timeout scope used by the deadline and attempt filters."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import pytest

from finpy._compat import TimeoutScope, _timeout_after_shim, timeout_after

IMPLEMENTATIONS: list[Callable[[float | None], AbstractAsyncContextManager[TimeoutScope]]] = [
    timeout_after,
    _timeout_after_shim,
]


@pytest.mark.looptime
@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
async def test_expiry_raises_timeout_error_and_marks_the_scope(
    impl: Callable[[float | None], AbstractAsyncContextManager[TimeoutScope]],
) -> None:
    """When the delay passes, the block is cancelled, TimeoutError raised and scope.expired() is True."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    with pytest.raises(TimeoutError):
        async with impl(3.0) as scope:
            await asyncio.sleep(10)
    assert scope.expired()
    assert loop.time() - start == pytest.approx(3.0)


@pytest.mark.looptime
@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
async def test_inner_timeout_error_is_not_the_scopes(
    impl: Callable[[float | None], AbstractAsyncContextManager[TimeoutScope]],
) -> None:
    """A TimeoutError raised inside the block propagates as is and the scope is not expired."""
    own = TimeoutError("inner")
    with pytest.raises(TimeoutError) as info:
        async with impl(3.0) as scope:
            raise own
    assert info.value is own
    assert not scope.expired()


@pytest.mark.looptime
@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
async def test_no_delay_and_early_finish(
    impl: Callable[[float | None], AbstractAsyncContextManager[TimeoutScope]],
) -> None:
    """None means no timeout; a block finishing early is not affected and leaves no timer behind."""
    async with impl(None) as scope:
        await asyncio.sleep(100)
    assert not scope.expired()
    async with impl(5.0) as scope:
        await asyncio.sleep(1)
    await asyncio.sleep(10)  # past the old delay: nothing fires
    assert not scope.expired()


@pytest.mark.looptime
async def test_shim_lets_outer_cancellation_through() -> None:
    """An outside cancel() inside the shim's block is a CancelledError, not a timeout."""

    async def body() -> None:
        async with _timeout_after_shim(50.0):
            await asyncio.sleep(100)

    task = asyncio.create_task(body())
    await asyncio.sleep(1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
