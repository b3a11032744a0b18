"""Tests of ``finpy.method``: per-method configs and how patterns resolve."""

from __future__ import annotations

import pytest

from finpy import ConfigurationError, MethodConfig, MethodConfigs, Params

METHOD = "/users.Users/GetUser"


def test_method_config_fields_default_to_inherit() -> None:
    """A bare MethodConfig says nothing: every field is None and it is not idempotent."""
    c = MethodConfig()
    assert (c.timeout, c.attempt_timeout, c.idempotent) == (None, None, None)
    assert c.is_idempotent is False
    assert MethodConfig(idempotent=True).is_idempotent is True


@pytest.mark.parametrize(
    "kwargs",
    [
        {"timeout": -1},
        {"timeout": float("nan")},
        {"timeout": "1"},
        {"attempt_timeout": 0},
        {"attempt_timeout": -0.5},
        {"idempotent": "yes"},
        {"idempotent": 1},
    ],
)
def test_method_config_rejects_bad_values(kwargs: dict[str, object]) -> None:
    """Bad timeouts, a zero attempt timeout and non-bool idempotency raise ConfigurationError."""
    with pytest.raises(ConfigurationError):
        MethodConfig(**kwargs)  # type: ignore[arg-type]


def test_merged_over_fills_only_none_fields() -> None:
    """merged_over takes each None field from the base and keeps every set field."""
    top = MethodConfig(timeout=1.0)
    base = MethodConfig(timeout=9.0, attempt_timeout=0.1, idempotent=False)
    assert top.merged_over(base) == MethodConfig(timeout=1.0, attempt_timeout=0.1, idempotent=False)
    assert top.merged_over(MethodConfig()) is top


def test_precedence_most_specific_wins() -> None:
    """'*' < 'svc/*' < bare 'Method' < 'svc/Method' for each field."""
    configs = MethodConfigs(
        {
            "*": MethodConfig(timeout=1.0),
            "users.Users/*": MethodConfig(timeout=2.0),
            "GetUser": MethodConfig(timeout=3.0),
            "users.Users/GetUser": MethodConfig(timeout=4.0),
        }
    )
    assert configs.resolve(METHOD).timeout == 4.0
    assert configs.resolve("/other.Svc/GetUser").timeout == 3.0
    assert configs.resolve("/users.Users/ListUsers").timeout == 2.0
    assert configs.resolve("/other.Svc/Other").timeout == 1.0


def test_precedence_does_not_depend_on_insertion_order() -> None:
    """The specific pattern wins even when written before the general ones."""
    configs = MethodConfigs(
        {
            "users.Users/GetUser": MethodConfig(timeout=4.0),
            "GetUser": MethodConfig(timeout=3.0),
            "users.Users/*": MethodConfig(timeout=2.0),
            "*": MethodConfig(timeout=1.0),
        }
    )
    assert configs.resolve(METHOD).timeout == 4.0
    assert configs.resolve("/x.Y/GetUser").timeout == 3.0


def test_none_fields_inherit_field_by_field() -> None:
    """Each field comes from the most specific pattern that sets it."""
    configs = MethodConfigs(
        {
            "*": MethodConfig(timeout=1.0, attempt_timeout=0.5, idempotent=False),
            "users.Users/*": MethodConfig(idempotent=True),
            "GetUser": MethodConfig(attempt_timeout=0.05),
            "users.Users/GetUser": MethodConfig(timeout=0.2),
        }
    )
    assert configs.resolve(METHOD) == MethodConfig(
        timeout=0.2, attempt_timeout=0.05, idempotent=True
    )
    assert configs.resolve("/users.Users/Delete") == MethodConfig(
        timeout=1.0, attempt_timeout=0.5, idempotent=True
    )


def test_resolve_with_base_fills_what_no_pattern_sets() -> None:
    """A base config supplies fields that no matching pattern sets."""
    configs = MethodConfigs({"GetUser": MethodConfig(timeout=0.2)})
    base = MethodConfig(timeout=5.0, idempotent=True)
    assert configs.resolve(METHOD, base) == MethodConfig(timeout=0.2, idempotent=True)


def test_method_paths_with_and_without_leading_slash_resolve_alike() -> None:
    """'/svc/Method' and 'svc/Method' are the same method, in patterns and in lookups."""
    configs = MethodConfigs({"/users.Users/GetUser": MethodConfig(timeout=4.0)})
    assert configs.resolve(METHOD).timeout == 4.0
    assert configs.resolve("users.Users/GetUser").timeout == 4.0


def test_service_wildcard_matches_only_that_service() -> None:
    """'svc/*' matches every method of svc and nothing of a service that merely shares a prefix."""
    configs = MethodConfigs({"users.Users/*": MethodConfig(timeout=2.0)})
    assert configs.resolve("/users.Users/Anything").timeout == 2.0
    assert configs.resolve("/users.UsersAdmin/Anything").timeout is None
    assert configs.resolve("/users/Users").timeout is None


def test_unmatched_method_gets_an_empty_config() -> None:
    """A method no pattern matches resolves to all-None (inherit everything)."""
    assert MethodConfigs().resolve(METHOD) == MethodConfig()
    assert Params()[MethodConfigs].resolve(METHOD) == MethodConfig()


@pytest.mark.parametrize(
    "pattern",
    [
        "",
        "   ",
        "/",
        "svc/",
        "a/b/Method",
        "a/b/*",
        "*Method",
        "Get*",
        "svc/Get*",
        "s*/*",
        "*/M",
        "svc/M ",
        "a b/M",
        5,
    ],
)
def test_invalid_patterns_are_rejected_naming_them(pattern: object) -> None:
    """A pattern that could never match (or is ambiguous) raises ConfigurationError naming it."""
    with pytest.raises(ConfigurationError, match="invalid method pattern"):
        MethodConfigs({pattern: MethodConfig()})  # type: ignore[dict-item]


@pytest.mark.parametrize("pattern", ["*", "/*", "svc/*", "Method", "svc/Method", "/svc/Method"])
def test_valid_patterns_are_accepted(pattern: str) -> None:
    """The four documented pattern forms (with or without a leading slash) are accepted."""
    assert dict(MethodConfigs({pattern: MethodConfig()})) == {pattern: MethodConfig()}


def test_non_config_values_and_non_mappings_are_rejected() -> None:
    """Each pattern needs a MethodConfig, and the configs must be a mapping."""
    with pytest.raises(ConfigurationError, match="GetUser"):
        MethodConfigs({"GetUser": {"timeout": 1}})  # type: ignore[dict-item]
    with pytest.raises(ConfigurationError, match="mapping"):
        MethodConfigs([("GetUser", MethodConfig())])  # type: ignore[arg-type]


def test_configs_are_copied_at_construction() -> None:
    """Mutating the dict given to MethodConfigs does not change the configs."""
    raw = {"*": MethodConfig(timeout=1.0)}
    configs = MethodConfigs(raw)
    raw["*"] = MethodConfig(timeout=9.0)
    assert configs.resolve(METHOD).timeout == 1.0


def test_with_overrides_merges_field_by_field() -> None:
    """with_overrides lets the new configs win per field and keeps the rest."""
    configs = MethodConfigs({"*": MethodConfig(timeout=1.0, idempotent=True)})
    merged = configs.with_overrides(
        {"*": MethodConfig(timeout=2.0), "Get": MethodConfig(attempt_timeout=0.1)}
    )
    assert merged.resolve("/s/Other") == MethodConfig(timeout=2.0, idempotent=True)
    assert merged.resolve("/s/Get").attempt_timeout == 0.1
    assert configs.resolve("/s/Other").timeout == 1.0


def test_any_attempt_timeout() -> None:
    """any_attempt_timeout says whether some pattern sets an attempt timeout."""
    assert not MethodConfigs({"*": MethodConfig(timeout=1.0)}).any_attempt_timeout
    assert MethodConfigs({"Get": MethodConfig(attempt_timeout=0.1)}).any_attempt_timeout


def test_method_configs_are_hashable_params() -> None:
    """MethodConfigs can sit in Params (which hash their values) and compare by content."""
    a = MethodConfigs({"*": MethodConfig(timeout=1.0)})
    b = MethodConfigs({"*": MethodConfig(timeout=1.0)})
    assert a == b and hash(a) == hash(b)
    assert hash(Params(a)) == hash(Params(b))
