"""Tests of ``finpy.observe.redact``: credential-bearing metadata is never recorded."""

from __future__ import annotations

import pytest

from finpy.observe import is_sensitive, safe_metadata


@pytest.mark.parametrize(
    "key",
    [
        "authorization",
        "Authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "api-key",
        "x-auth-token",
        "x-amz-security-token",
        "x-client-secret",
        "x-password",
        "x-session-id",
        "x-csrf-token",
        "grpc-creds-bin",
        "x-trace-bin",
        "x-goog-iam-authorization-token",
        "x-jwt-assertion",
        "x-hub-signature",
        "idempotency-key",
    ],
)
def test_credential_bearing_keys_are_sensitive(key: str) -> None:
    """Authorization, cookies, keys, tokens, secrets, sessions, signatures, -bin: sensitive."""
    assert is_sensitive(key)


@pytest.mark.parametrize("key", ["tenant", "x-request-id", "user-agent", "traceparent"])
def test_ordinary_keys_are_not_sensitive(key: str) -> None:
    """Ordinary metadata keys may be recorded when asked for."""
    assert not is_sensitive(key)


def test_safe_metadata_keeps_only_asked_for_non_sensitive_text() -> None:
    """Sensitive keys and binary values are dropped; keys are lower-cased; a key set filters."""
    md = (
        ("Tenant", "acme"),
        ("authorization", "Bearer x"),
        ("x-request-id", "r-1"),
        ("blob-bin", b"\x00"),
        ("odd", b"bytes"),
        "not-a-pair",
    )
    assert safe_metadata(md) == [("tenant", "acme"), ("x-request-id", "r-1")]
    assert safe_metadata(md, frozenset({"tenant", "authorization"})) == [("tenant", "acme")]
    assert safe_metadata(None) == []
