"""Tests of ``finpy.params``: typed stack parameters."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from finpy import ConfigurationError, Param, Params


@dataclass(frozen=True, slots=True)
class Size(Param):
    n: int = 3


@dataclass(frozen=True, slots=True)
class Name(Param):
    text: str = "default"


@dataclass(frozen=True, slots=True)
class Required(Param):
    value: int


def test_unset_param_reads_its_default() -> None:
    """A parameter that was not set reads as its class with field defaults."""
    assert Params()[Size] == Size(3)
    assert Params(Name("x"))[Size].n == 3


def test_set_param_overrides_the_default() -> None:
    """A set parameter is returned as given."""
    assert Params(Size(7))[Size].n == 7


def test_later_value_of_the_same_class_wins() -> None:
    """Setting a parameter class twice keeps the last value."""
    assert Params(Size(1), Size(2))[Size].n == 2


def test_param_without_default_raises_naming_it() -> None:
    """Reading an unset parameter that has required fields raises naming the class."""
    with pytest.raises(ConfigurationError, match="Required"):
        Params()[Required]
    assert Params(Required(5))[Required].value == 5


def test_with_returns_a_copy_and_leaves_the_original() -> None:
    """with_ sets values in a new Params; the original is unchanged."""
    base = Params(Size(1))
    new = base.with_(Size(2), Name("n"))
    assert new[Size].n == 2 and new[Name].text == "n"
    assert base[Size].n == 1 and Name not in base


def test_plus_merges_right_hand_side_winning() -> None:
    """a + b has every parameter of both, b's value winning for shared classes."""
    merged = Params(Size(1), Name("a")) + Params(Size(2))
    assert merged[Size].n == 2
    assert merged[Name].text == "a"


@pytest.mark.parametrize("bad", [42, "Size", Size, None])
def test_non_params_are_rejected_with_their_value(bad: object) -> None:
    """Params and with_ reject values that are not Param instances, naming them."""
    with pytest.raises(ConfigurationError, match="not a stack parameter"):
        Params(bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="not a stack parameter"):
        Params().with_(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [42, "x", Size(1), [Size(1)]])
def test_plus_with_a_non_params_is_a_type_error(bad: object) -> None:
    """Params + something that is not a Params raises TypeError instead of guessing."""
    with pytest.raises(TypeError):
        Params() + bad  # type: ignore[operator]


def test_contains_iter_len() -> None:
    """Membership, iteration and length cover explicitly set parameters only."""
    p = Params(Size(1), Name("x"))
    assert Size in p and Required not in p
    assert set(p) == {Size(1), Name("x")}
    assert len(p) == 2
    assert len(Params()) == 0


def test_equality_hash_and_repr() -> None:
    """Params with the same values are equal and hash alike; repr lists values."""
    assert Params(Size(1), Name("x")) == Params(Name("x"), Size(1))
    assert hash(Params(Size(1), Name("x"))) == hash(Params(Name("x"), Size(1)))
    assert Params(Size(1)) != Params(Size(2))
    assert Params(Size(1)) != Params()
    assert repr(Params(Size(1))) == "Params(Size(n=1))"
