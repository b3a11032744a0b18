"""Tests of ``finpy.service``: the Service contract and FunctionService."""

from __future__ import annotations

import pytest

from finpy import FunctionService, Service, Status


class Recorder(Service[str, str]):
    """A service that echoes and counts aclose() calls."""

    def __init__(self) -> None:
        self.closed = 0

    async def __call__(self, request: str, /) -> str:
        return f"echo:{request}"

    async def aclose(self) -> None:
        self.closed += 1


def test_status_values_are_stable_strings() -> None:
    """Status values are the lower-case names that statistics and reprs print."""
    assert [s.value for s in Status] == ["open", "busy", "closed"]


def test_service_without_call_cannot_be_instantiated() -> None:
    """Service is abstract: a subclass must implement __call__."""

    class Incomplete(Service[str, str]):
        pass

    with pytest.raises(TypeError):
        Incomplete()  # type: ignore[abstract]


async def test_default_status_is_open_and_aclose_is_a_noop() -> None:
    """A service that says nothing about its health is OPEN, and aclose() is harmless."""

    class Plain(Service[int, int]):
        async def __call__(self, request: int, /) -> int:
            return request + 1

    svc = Plain()
    assert svc.status is Status.OPEN
    await svc.aclose()
    await svc.aclose()
    assert await svc(1) == 2


async def test_async_with_closes_the_service_on_exit() -> None:
    """``async with service`` yields the service itself and closes it on exit, even on error."""
    svc = Recorder()
    async with svc as entered:
        assert entered is svc
        assert await entered("x") == "echo:x"
    assert svc.closed == 1
    with pytest.raises(RuntimeError):
        async with svc:
            raise RuntimeError("boom")
    assert svc.closed == 2


async def test_function_service_calls_the_function_with_the_request() -> None:
    """FunctionService passes the request to the function and returns its result."""
    seen: list[int] = []

    async def double(x: int) -> int:
        seen.append(x)
        return 2 * x

    svc = FunctionService(double)
    assert await svc(21) == 42
    assert seen == [21]
    assert svc.status is Status.OPEN


async def test_function_service_propagates_exceptions() -> None:
    """A failure of the function is the failure of the service, unchanged."""

    async def fail(x: int) -> int:
        raise KeyError(x)

    with pytest.raises(KeyError):
        await FunctionService(fail)(1)


def test_function_service_repr_names_the_function() -> None:
    """FunctionService's repr shows the wrapped function's qualified name."""

    async def lookup_user(x: int) -> int:
        return x

    assert "lookup_user" in repr(FunctionService(lookup_user))
