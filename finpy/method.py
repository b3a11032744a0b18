"""Per-method configuration: what a client knows about each method it calls.

A client knows things a proxy cannot, such as which methods are safe to call
twice.  :class:`MethodConfig` records that, and the policies (timeouts, and in
later layers retries and hedging) read it from each request.  Configs are
matched by pattern, most specific first::

    MethodConfigs({
        "*": MethodConfig(timeout=1.0),                           # every method
        "users.Users/*": MethodConfig(idempotent=True),           # one service
        "users.Users/GetUser": MethodConfig(timeout=0.2),         # one method
        "GetUser": MethodConfig(attempt_timeout=0.05),            # bare method name
    })

Fields left as ``None`` inherit from the less specific match, so a method
config only says what differs.  Resolution happens once per method (when a
stub is created), never per call.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from finpy.context import validate_timeout
from finpy.errors import ConfigurationError
from finpy.params import Param

if TYPE_CHECKING:
    from finpy.retry.backoff import Backoff
    from finpy.retry.classifier import Classifier
    from finpy.retry.hedge import Hedge

__all__ = ["MethodConfig", "MethodConfigs", "MethodRequest"]


@dataclass(frozen=True, slots=True)
class MethodConfig:
    """What finpy should know about a method.  ``None`` means "inherit"."""

    timeout: float | None = None
    """Total deadline of a call when the caller gives no timeout (seconds)."""
    attempt_timeout: float | None = None
    """Bound of each attempt (seconds); the total deadline still applies."""
    idempotent: bool | None = None
    """Whether calling the method twice is safe (enables retries of more failures, hedging)."""
    max_attempts: int | None = None
    """Most attempts per call, the first and requeues included (1: never send again)."""
    backoff: Backoff | None = None
    """Wait before each retry (:class:`finpy.retry.Backoff`)."""
    classifier: Classifier | None = None
    """Which outcomes are failures and which may be retried (:mod:`finpy.retry.classifier`)."""
    hedge: Hedge | bool | None = None
    """Backup requests for this (idempotent) method: ``True`` or a :class:`finpy.retry.Hedge`
    to enable, ``False`` to disable what a less specific pattern enabled."""

    def __post_init__(self) -> None:
        if self.timeout is not None:
            validate_timeout(self.timeout, "method timeout")
        if self.attempt_timeout is not None:
            validate_timeout(self.attempt_timeout, "method attempt_timeout")
            if self.attempt_timeout == 0:
                raise ConfigurationError("method attempt_timeout must be > 0 seconds, got 0")
        if self.idempotent is not None and not isinstance(self.idempotent, bool):
            raise ConfigurationError(f"idempotent must be True or False, got {self.idempotent!r}")
        if (
            self.max_attempts is not None
            or self.backoff is not None
            or self.classifier is not None
            or self.hedge is not None
        ):
            self._validate_retry_fields()

    def _validate_retry_fields(self) -> None:
        # imported here: finpy.retry reads MethodConfig, so it cannot be imported at the top
        from finpy.retry.backoff import Backoff
        from finpy.retry.filter import validate_max_attempts
        from finpy.retry.hedge import Hedge

        if self.max_attempts is not None:
            validate_max_attempts(self.max_attempts, "method max_attempts")
        if self.backoff is not None and not isinstance(self.backoff, Backoff):
            raise ConfigurationError(
                f"method backoff must be a finpy.retry.Backoff, got {self.backoff!r}"
            )
        if self.classifier is not None and not callable(self.classifier):
            raise ConfigurationError(
                f"method classifier must be callable (request, response, error), got {self.classifier!r}"
            )
        if self.hedge is not None and not isinstance(self.hedge, (bool, Hedge)):
            raise ConfigurationError(
                f"method hedge must be True, False or a finpy.retry.Hedge, got {self.hedge!r}"
            )

    def merged_over(self, base: MethodConfig) -> MethodConfig:
        """This config with every ``None`` field taken from ``base``."""
        changes: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            if getattr(self, f.name) is None and getattr(base, f.name) is not None:
                changes[f.name] = getattr(base, f.name)
        return dataclasses.replace(self, **changes) if changes else self

    @property
    def is_idempotent(self) -> bool:
        return bool(self.idempotent)


@runtime_checkable
class MethodRequest(Protocol):
    """A request that carries the resolved config of its method."""

    @property
    def method_config(self) -> MethodConfig: ...


def _specificity(pattern: str) -> int:
    if pattern == "*":
        return 0
    if pattern.endswith("/*"):
        return 1
    if "/" not in pattern:
        return 2  # bare method name
    return 3


def _valid_pattern(p: str) -> bool:
    """``*``, ``svc/*``, ``Method`` or ``svc/Method``: no empty part, no stray ``*`` or space."""
    if p == "*":
        return True
    if any(c.isspace() for c in p):
        return False
    service, slash, name = p.rpartition("/")
    if not name or (slash and not service) or "/" in service or "*" in service:
        return False
    return bool(slash) if name == "*" else "*" not in name


@dataclass(frozen=True, slots=True)
class MethodConfigs(Param):
    """Method configs by pattern (``*``, ``pkg.Service/*``, ``Method``, ``pkg.Service/Method``)."""

    configs: Mapping[str, MethodConfig] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.configs, Mapping):
            raise ConfigurationError(
                f"method configs must be a mapping of pattern to MethodConfig, got {self.configs!r}"
            )
        for pattern, cfg in self.configs.items():
            if not isinstance(pattern, str) or not pattern.strip():
                raise ConfigurationError(f"invalid method pattern {pattern!r}")
            if not _valid_pattern(pattern.lstrip("/")):
                raise ConfigurationError(
                    f"invalid method pattern {pattern!r}: use '*', 'pkg.Service/*', 'Method' or 'pkg.Service/Method'"
                )
            if not isinstance(cfg, MethodConfig):
                raise ConfigurationError(
                    f"config for {pattern!r} must be a MethodConfig, got {cfg!r}"
                )
        object.__setattr__(self, "configs", dict(self.configs))

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.configs.items(), key=lambda kv: kv[0])))

    def __iter__(self) -> Iterator[tuple[str, MethodConfig]]:
        return iter(self.configs.items())

    def resolve(self, method: str, base: MethodConfig | None = None) -> MethodConfig:
        """The effective config of ``method`` (``/pkg.Service/Method`` or ``pkg.Service/Method``)."""
        path = method.lstrip("/")
        service, _, name = path.rpartition("/")
        candidates = []
        for pattern, cfg in self.configs.items():
            p = pattern.lstrip("/")
            if p in ("*", path, name) or (p.endswith("/*") and p[:-2] == service):
                candidates.append((_specificity(p), cfg))
        candidates.sort(key=lambda sc: sc[0], reverse=True)
        result = MethodConfig()
        for _, cfg in candidates:
            result = result.merged_over(cfg)
        return result.merged_over(base) if base is not None else result

    def with_overrides(self, other: Mapping[str, MethodConfig]) -> MethodConfigs:
        """These configs with ``other`` merged in (``other`` wins field by field)."""
        merged = dict(self.configs)
        for pattern, cfg in other.items():
            merged[pattern] = cfg.merged_over(merged[pattern]) if pattern in merged else cfg
        return MethodConfigs(merged)

    @property
    def any_attempt_timeout(self) -> bool:
        return any(c.attempt_timeout is not None for c in self.configs.values())
