"""Tests of ``finpy.filter``: composition order, flattening and delegation."""

from __future__ import annotations

import pytest

from finpy import Filter, FilteredService, Service, Status


class Log(Filter[str, str]):
    """Records when it sees the request and the response, tagging the response."""

    def __init__(self, name: str, events: list[str]) -> None:
        self.name = name
        self.events = events

    async def __call__(self, request: str, service: Service[str, str], /) -> str:
        self.events.append(f"{self.name}>{request}")
        response = await service(f"{request}+{self.name}")
        self.events.append(f"{self.name}<{response}")
        return f"{response}+{self.name}"

    def __repr__(self) -> str:
        return f"Log({self.name})"


class Echo(Service[str, str]):
    def __init__(self, events: list[str] | None = None) -> None:
        self.events = events if events is not None else []
        self.closed = 0
        self.health = Status.OPEN

    async def __call__(self, request: str, /) -> str:
        self.events.append(f"svc:{request}")
        return "rep"

    async def aclose(self) -> None:
        self.closed += 1

    @property
    def status(self) -> Status:
        return self.health

    def __repr__(self) -> str:
        return "Echo"


async def test_outer_filter_sees_request_first_and_response_last() -> None:
    """In a.and_then(b).and_then(svc), a sees the request first and the response last."""
    events: list[str] = []
    a, b = Log("a", events), Log("b", events)
    svc = a.and_then(b).and_then(Echo(events))
    assert await svc("req") == "rep+b+a"
    assert events == ["a>req", "b>req+a", "svc:req+a+b", "b<rep", "a<rep+b"]


async def test_composed_filter_called_directly_keeps_the_same_order() -> None:
    """A composed filter used as a filter (not materialised) runs outer then inner."""
    events: list[str] = []
    composed = Log("a", events).and_then(Log("b", events))
    assert isinstance(composed, Filter)
    assert await composed("req", Echo(events)) == "rep+b+a"
    assert events == ["a>req", "b>req+a", "svc:req+a+b", "b<rep", "a<rep+b"]


async def test_right_nested_composition_matches_left_nested() -> None:
    """a.and_then(b.and_then(c)) and a.and_then(b).and_then(c) behave identically."""
    left: list[str] = []
    right: list[str] = []
    s1 = Log("a", left).and_then(Log("b", left)).and_then(Log("c", left)).and_then(Echo(left))
    s2 = Log("a", right).and_then(Log("b", right).and_then(Log("c", right))).and_then(Echo(right))
    assert await s1("r") == await s2("r")
    assert left == right


def test_and_then_flattens_composed_filters_into_nested_filtered_services() -> None:
    """Materialising a composed filter gives plain FilteredService layers, one per filter."""
    events: list[str] = []
    a, b, c = Log("a", events), Log("b", events), Log("c", events)
    bottom = Echo()
    svc = a.and_then(b.and_then(c)).and_then(bottom)
    layers: list[Filter[str, str]] = []
    node: Service[str, str] = svc
    while isinstance(node, FilteredService):
        layers.append(node.filter)
        node = node.service
    assert layers == [a, b, c]
    assert node is bottom


def test_and_then_rejects_what_is_neither_filter_nor_service() -> None:
    """and_then with anything else raises TypeError naming the bad value."""
    with pytest.raises(TypeError, match="not-a-service"):
        Log("a", []).and_then("not-a-service")  # type: ignore[call-overload]


async def test_filter_may_answer_without_calling_the_service() -> None:
    """A filter that short-circuits returns its own response and the service is not called."""

    class Cache(Filter[str, str]):
        async def __call__(self, request: str, service: Service[str, str], /) -> str:
            return "cached"

    bottom = Echo()
    assert await Cache().and_then(bottom)("x") == "cached"
    assert bottom.events == []


async def test_filter_sees_the_failure_of_the_service() -> None:
    """An exception from the service travels up through the filters, which can observe it."""
    seen: list[BaseException] = []

    class Watch(Filter[str, str]):
        async def __call__(self, request: str, service: Service[str, str], /) -> str:
            try:
                return await service(request)
            except Exception as e:
                seen.append(e)
                raise

    class Broken(Service[str, str]):
        async def __call__(self, request: str, /) -> str:
            raise ValueError("down")

    with pytest.raises(ValueError, match="down"):
        await Watch().and_then(Broken())("x")
    assert len(seen) == 1 and isinstance(seen[0], ValueError)


async def test_filtered_service_delegates_status_and_aclose() -> None:
    """FilteredService reports the status of the service below and closes it."""
    bottom = Echo()
    svc = Log("a", []).and_then(Log("b", [])).and_then(bottom)
    seen = []
    for health in (Status.OPEN, Status.BUSY, Status.CLOSED):
        bottom.health = health
        seen.append(svc.status)
    assert seen == [Status.OPEN, Status.BUSY, Status.CLOSED]
    await svc.aclose()
    assert bottom.closed == 1


def test_reprs_show_the_chain() -> None:
    """Reprs of composed filters and filtered services read as the and_then chain."""
    a, b = Log("a", []), Log("b", [])
    assert repr(a.and_then(b)) == "Log(a).and_then(Log(b))"
    assert repr(a.and_then(Echo())) == "Log(a).and_then(Echo)"
