"""Tests of ``finpy.clock``: the loop clock and the hand-driven ManualClock."""

from __future__ import annotations

import asyncio
import time

import pytest

from finpy import SYSTEM_CLOCK, Clock, ClockParam, ConfigurationError, ManualClock, Params
from finpy.clock import LoopClock


async def settle() -> None:
    """Let woken tasks run."""
    for _ in range(3):
        await asyncio.sleep(0)


def test_manual_clock_starts_where_told_and_moves_only_on_advance() -> None:
    """ManualClock.now() is the start time until advance() moves it."""
    clock = ManualClock(10)
    assert clock.now() == 10.0
    assert clock.now() == 10.0
    clock.advance(2.5)
    assert clock.now() == 12.5
    clock.advance(0)
    assert clock.now() == 12.5


@pytest.mark.parametrize("bad", [-0.001, -5, float("nan")])
def test_advance_rejects_negative_and_nan(bad: float) -> None:
    """advance() refuses to move time backwards (or to NaN), naming the value."""
    clock = ManualClock(1.0)
    with pytest.raises(ConfigurationError, match=repr(bad)):
        clock.advance(bad)
    assert clock.now() == 1.0


async def test_advance_wakes_due_sleepers_in_wake_up_order() -> None:
    """Sleepers wake when time passes their wake-up time, earliest first, later ones keep waiting."""
    clock = ManualClock()
    woke: list[str] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append(name)

    tasks = [
        asyncio.create_task(sleeper(name, s))
        for name, s in [("c", 3.0), ("a", 1.0), ("b", 2.0), ("a2", 1.0)]
    ]
    await settle()
    assert clock.sleepers == 4
    clock.advance(0.5)
    await settle()
    assert woke == []
    clock.advance(1.6)  # now 2.1: a, a2 (same time, in sleep order) and b are due
    await settle()
    assert woke == ["a", "a2", "b"]
    assert clock.sleepers == 1
    clock.advance(0.9)  # exactly 3.0: due
    await settle()
    assert woke == ["a", "a2", "b", "c"]
    await asyncio.gather(*tasks)


async def test_sleep_zero_or_negative_returns_without_advance() -> None:
    """Sleeping zero or less does not wait for the clock."""
    clock = ManualClock()
    await asyncio.wait_for(clock.sleep(0), 1)
    await asyncio.wait_for(clock.sleep(-1), 1)
    await asyncio.wait_for(clock.sleep(float("nan")), 1)  # NaN must not corrupt the sleeper heap
    assert clock.sleepers == 0


async def test_cancelled_sleeper_is_not_counted_and_not_woken() -> None:
    """A cancelled sleep stops counting as a sleeper and advance() skips it."""
    clock = ManualClock()
    task = asyncio.create_task(clock.sleep(1))
    await settle()
    assert clock.sleepers == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert clock.sleepers == 0
    clock.advance(5)  # must not try to set a result on the cancelled future
    assert "sleepers=0" in repr(clock)


def test_manual_clock_repr_shows_time() -> None:
    """The repr of a ManualClock shows its time and sleepers."""
    assert repr(ManualClock(3)) == "ManualClock(now=3.0, sleepers=0)"


def test_clock_protocol_is_satisfied_by_both_clocks() -> None:
    """Both LoopClock and ManualClock are Clocks."""
    assert isinstance(SYSTEM_CLOCK, Clock)
    assert isinstance(ManualClock(), Clock)
    assert isinstance(SYSTEM_CLOCK, LoopClock)


def test_loop_clock_outside_a_loop_is_monotonic() -> None:
    """Without a running loop, the system clock reads time.monotonic()."""
    before = time.monotonic()
    now = SYSTEM_CLOCK.now()
    after = time.monotonic()
    assert before <= now <= after


async def test_loop_clock_reads_the_running_loop_time() -> None:
    """Inside a loop, the system clock is the loop's clock."""
    loop = asyncio.get_running_loop()
    before = loop.time()
    now = SYSTEM_CLOCK.now()
    assert before <= now <= loop.time()


@pytest.mark.looptime
async def test_loop_clock_follows_virtual_time() -> None:
    """Under a virtual-time loop, SYSTEM_CLOCK and its sleep follow the virtual time."""
    start = SYSTEM_CLOCK.now()
    await SYSTEM_CLOCK.sleep(120)
    assert SYSTEM_CLOCK.now() - start == pytest.approx(120)
    await SYSTEM_CLOCK.sleep(-3)  # negative sleeps are zero sleeps
    assert SYSTEM_CLOCK.now() - start == pytest.approx(120)


def test_clock_param_defaults_to_the_system_clock() -> None:
    """Stacks use the system clock unless a ClockParam says otherwise."""
    assert Params()[ClockParam].clock is SYSTEM_CLOCK
    manual = ManualClock()
    assert Params(ClockParam(manual))[ClockParam].clock is manual
