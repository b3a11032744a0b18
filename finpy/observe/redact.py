"""Metadata that must never be recorded: credentials and anything that may carry one.

finpy records no request metadata unless asked to (``Telemetry(request_metadata=...)``)
and, even then, never a key this module calls sensitive: authorization headers,
cookies, API keys, tokens, secrets, passwords, session ids, signatures, and every
binary (``-bin``) key, whose bytes may be a credential (``grpc-*-bin`` auth
tickets).  Matching is by key, case-insensitively, and deliberately broad: a
harmless key left out of a span costs little, a leaked token costs a lot.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["SENSITIVE_FRAGMENTS", "is_sensitive", "safe_metadata"]

#: Substrings that make a metadata key sensitive wherever they appear in it.
SENSITIVE_FRAGMENTS: tuple[str, ...] = (
    "auth",  # authorization, proxy-authorization, x-goog-authenticated-*, ...
    "cookie",
    "token",
    "secret",
    "password",
    "passwd",
    "credential",
    "session",
    "signature",
    "api-key",
    "apikey",
    "api_key",
    "private",
    "jwt",
    "bearer",
)


def is_sensitive(key: str) -> bool:
    """Whether a metadata key may carry a credential (and so is never recorded)."""
    k = key.lower()
    if k.endswith("-bin") or k.endswith("-key"):
        return True
    return any(fragment in k for fragment in SENSITIVE_FRAGMENTS)


def safe_metadata(
    metadata: Iterable[Any] | None, keys: frozenset[str] | None = None
) -> list[tuple[str, str]]:
    """The ``(key, value)`` pairs of ``metadata`` that may be recorded.

    ``keys`` limits them to those keys (lower case; ``None``: every key);
    sensitive keys and non-text values are always left out.
    """
    out: list[tuple[str, str]] = []
    if not metadata:
        return out
    for item in metadata:
        try:
            key, value = item
        except (TypeError, ValueError):
            continue
        if not isinstance(key, str) or not isinstance(value, str):
            continue
        k = key.lower()
        if (keys is None or k in keys) and not is_sensitive(k):
            out.append((k, value))
    return out
