"""The backend process: real servers in another process, controlled over a pipe."""

from __future__ import annotations

import os

import grpc
import grpc.aio
import pytest

from finpy.bench.backends import BackendProcess, BackendProcessError, Counters
from finpy.bench.peers import echo_method
from finpy.testing.echo import EchoRequest


async def echo_once(address: str) -> grpc.StatusCode:
    async with grpc.aio.insecure_channel(address) as channel:
        try:
            await echo_method(channel)(EchoRequest(message="x"), timeout=2.0)
        except grpc.aio.AioRpcError as e:
            return e.code()
    return grpc.StatusCode.OK


async def test_backends_run_in_another_process_and_count_attempts() -> None:
    """The servers live in a child process on 127.0.0.1, and count every call they receive."""
    async with BackendProcess(2) as backends:
        assert backends.pid is not None and backends.pid != os.getpid()
        assert [a.split(":")[0] for a in backends.addresses] == ["127.0.0.1"] * 2
        for _ in range(3):
            assert await echo_once(backends.addresses[1]) is grpc.StatusCode.OK
        assert await backends.counters() == Counters((0, 3))
        await backends.reset_counters()
        assert (await backends.counters()).total == 0


async def test_behaviour_stop_and_start_are_applied_by_the_child() -> None:
    """set() injects errors, kill() refuses connections, start() and reset() bring it back."""
    async with BackendProcess(1) as backends:
        address = backends.addresses[0]
        await backends.set(0, {"error_code": "RESOURCE_EXHAUSTED"})
        assert await echo_once(address) is grpc.StatusCode.RESOURCE_EXHAUSTED
        await backends.kill(0)
        assert await echo_once(address) is grpc.StatusCode.UNAVAILABLE
        await backends.start_backend(0)
        await backends.reset()
        assert await echo_once(address) is grpc.StatusCode.OK
        assert await backends.counters() == Counters((1,))  # reset() zeroed the counters


async def test_refused_commands_say_why() -> None:
    """A bad field or backend index comes back as BackendProcessError naming it."""
    async with BackendProcess(1) as backends:
        with pytest.raises(BackendProcessError, match="latncy"):
            await backends.set(0, {"latncy": 1})
        with pytest.raises(BackendProcessError, match="backend index, got 3"):
            await backends.kill(3)
        with pytest.raises(BackendProcessError, match="unknown command 'dance'"):
            await backends.command("dance", backend=0)
        await backends.command("ping")  # still serving after errors


async def test_closing_ends_the_process() -> None:
    """aclose() ends the child; commands afterwards fail clearly."""
    backends = await BackendProcess(1).start()
    running_before = backends.running
    assert running_before and "pid=" in repr(backends)
    await backends.aclose()
    running_after = backends.running
    assert not running_after and "stopped" in repr(backends)
    with pytest.raises(BackendProcessError, match="not running"):
        await backends.counters()


def test_bad_sizes_are_rejected() -> None:
    """The process size must be 1..64."""
    with pytest.raises(ValueError, match="0"):
        BackendProcess(0)
