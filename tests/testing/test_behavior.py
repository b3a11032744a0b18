"""Behavior: validated on every assignment, deterministic with a seed, compact repr."""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from finpy.testing import Behavior

BAD_VALUES = [
    ("latency", -0.1),
    ("latency", float("nan")),
    ("latency", float("inf")),
    ("latency", "1"),
    ("tail_latency", -1),
    ("tail_probability", 1.5),
    ("tail_probability", -0.1),
    ("error_probability", 2),
    ("error_probability", float("nan")),
    ("error_code", grpc.StatusCode.OK),
    ("error_code", 14),
    ("error_details", None),
    ("trailing_metadata", [("a", "b")]),
    ("trailing_metadata", (("Upper", "v"),)),
    ("trailing_metadata", (("x-bin", "v"),)),
    ("trailing_metadata", (("a", 1),)),
    ("capacity", 0),
    ("capacity", -3),
    ("capacity", 1.5),
    ("capacity", True),
    ("refuse_connections", 1),
    ("seed", "abc"),
]


def _shown(value: Any) -> str:
    """What the error must quote: the value, or for metadata the offending key or pair."""
    if isinstance(value, tuple) and value:
        pair = value[0]
        return repr(pair) if not isinstance(pair[1], str) else repr(pair[0])
    return repr(value)


@pytest.mark.parametrize(("field", "value"), BAD_VALUES)
def test_bad_values_raise_value_error_naming_field_and_value(field: str, value: Any) -> None:
    """A bad value is rejected in the constructor and on assignment, naming field and value."""
    with pytest.raises(ValueError, match=f"Behavior.{field}") as info:
        Behavior(**{field: value})
    assert _shown(value) in str(info.value)
    behavior = Behavior()
    with pytest.raises(ValueError, match=f"Behavior.{field}"):
        setattr(behavior, field, value)
    assert behavior == Behavior()


def test_changed_validates_and_rejects_unknown_fields() -> None:
    """changed() returns a validated copy and names unknown fields."""
    base = Behavior(latency=0.1)
    assert base.changed(capacity=2) == Behavior(latency=0.1, capacity=2)
    assert base == Behavior(latency=0.1)
    with pytest.raises(ValueError, match="latencyy"):
        base.changed(latencyy=1)
    with pytest.raises(ValueError, match="capacity"):
        base.changed(capacity=0)


def test_defaults_inject_no_fault() -> None:
    """A default Behavior adds no delay and no error."""
    behavior = Behavior()
    assert [behavior.draw() for _ in range(5)] == [(0.0, False)] * 5


def test_seed_makes_draws_deterministic() -> None:
    """Two behaviors with the same seed draw the same tails and errors; reseeding restarts."""
    settings = {
        "latency": 0.01,
        "tail_latency": 1.0,
        "tail_probability": 0.3,
        "error_code": grpc.StatusCode.UNAVAILABLE,
        "error_probability": 0.4,
        "seed": 42,
    }
    a, b = Behavior(**settings), Behavior(**settings)
    draws = [a.draw() for _ in range(50)]
    assert draws == [b.draw() for _ in range(50)]
    assert {d for d, _ in draws} == {0.01, 1.01}
    assert 0 < sum(e for _, e in draws) < 50
    a.seed = 42
    assert [a.draw() for _ in range(50)] == draws


def test_changed_keeps_the_random_sequence_unless_reseeded() -> None:
    """changed() continues the generator; changed(seed=...) starts a new one."""
    a = Behavior(error_code=grpc.StatusCode.UNAVAILABLE, error_probability=0.5, seed=7)
    reference = Behavior(error_code=grpc.StatusCode.UNAVAILABLE, error_probability=0.5, seed=7)
    expected = [reference.draw() for _ in range(20)]
    first = [a.draw() for _ in range(10)]
    rest = [a.changed(error_details="x").draw() for _ in range(10)]
    assert first + rest == expected
    assert [a.changed(seed=7).draw() for _ in range(1)] == expected[:1]


def test_errors_need_an_error_code() -> None:
    """Without error_code nothing fails, whatever error_probability says."""
    assert Behavior(error_probability=1.0).draw() == (0.0, False)
    assert Behavior(error_code=grpc.StatusCode.INTERNAL).draw() == (0.0, True)


def test_repr_shows_only_what_differs_from_the_defaults() -> None:
    """repr names the non-default fields only."""
    assert repr(Behavior()) == "Behavior()"
    assert (
        repr(Behavior(latency=0.2, error_code=grpc.StatusCode.UNAVAILABLE))
        == "Behavior(latency=0.2, error_code=grpc.StatusCode.UNAVAILABLE)"
    )
