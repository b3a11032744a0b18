"""Failure accrual in the endpoint stack: each endpoint's breaker, fed by its requests.

:class:`FailureAccrualFilter` sits in every endpoint's stack (role
``failure_accrual``) *above* the per-attempt timeout, so an attempt that times
out counts as a failure.  It classifies each outcome (see
:mod:`finpy.accrual.classify`) and feeds the endpoint's
:class:`~finpy.accrual.breaker.Breaker`.

It never rejects a request: the service it builds reports ``BUSY`` while the
breaker says the endpoint is dead or probing, and the balancer steers
traffic elsewhere (fail open).  If every endpoint is dead the balancer panics
and requests still flow, which is better than failing them all locally.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import TypeVar

from finpy.accrual.backoff import EqualJitterBackoff
from finpy.accrual.breaker import Breaker, BreakerState
from finpy.accrual.classify import DEFAULT_FAILURE_STATUSES, Classifier, status_classifier
from finpy.accrual.policy import FailureAccrualPolicy
from finpy.clock import SYSTEM_CLOCK, Clock, ClockParam
from finpy.errors import ConfigurationError
from finpy.filter import Filter, FilteredService
from finpy.params import Param, Params
from finpy.service import Service, Status

__all__ = ["FailureAccrual", "FailureAccrualFilter", "FailureAccrualService"]

Req = TypeVar("Req")
Rep = TypeVar("Rep")

_BUSY = Status.BUSY
_ALIVE = BreakerState.ALIVE


@dataclass(frozen=True, slots=True)
class FailureAccrual(Param):
    """Failure accrual (circuit breaking) of each endpoint; ``enabled=False`` removes it.

    Defaults (Finagle's): eject after 5 consecutive failures or a success rate
    below 80% over 30 s (with at least 5 requests); stay dead for a jittered
    backoff from 5 s growing to 300 s; then one probe request at a time.
    """

    enabled: bool = True
    consecutive_failures: int | None = 5
    success_rate: float | None = 0.8
    window: float = 30.0
    min_requests: int = 5
    backoff_base: float = 5.0
    backoff_max: float = 300.0
    failure_statuses: frozenset[str] = DEFAULT_FAILURE_STATUSES
    classifier: Classifier | None = field(default=None, compare=False)
    """Overrides ``failure_statuses``: ``classify(exc) -> True/False/None``."""

    def __post_init__(self) -> None:
        if not isinstance(self.enabled, bool):
            raise ConfigurationError(f"FailureAccrual.enabled must be a bool, got {self.enabled!r}")
        if self.consecutive_failures is None and self.success_rate is None and self.enabled:
            raise ConfigurationError(
                "failure accrual needs consecutive_failures or success_rate "
                "(or enabled=False to turn it off)"
            )
        statuses: object = self.failure_statuses
        if (
            isinstance(statuses, str)
            or not isinstance(statuses, (set, frozenset, list, tuple))
            or not all(isinstance(s, str) for s in statuses)
        ):
            raise ConfigurationError(
                f"failure_statuses must be a set of status names, got {self.failure_statuses!r}"
            )
        object.__setattr__(self, "failure_statuses", frozenset(self.failure_statuses))
        if self.classifier is not None and not callable(self.classifier):
            raise ConfigurationError(f"classifier must be callable, got {self.classifier!r}")
        # Validate the numbers once, here, so a bad value fails at configuration time.
        self.make_policy()
        self.make_backoff()

    def make_policy(self) -> FailureAccrualPolicy:
        """A fresh policy with these settings."""
        return FailureAccrualPolicy(
            consecutive_failures=self.consecutive_failures,
            success_rate=self.success_rate,
            window=self.window,
            min_requests=self.min_requests,
        )

    def make_backoff(self) -> EqualJitterBackoff:
        return EqualJitterBackoff(self.backoff_base, self.backoff_max)

    @classmethod
    def disabled(cls) -> FailureAccrual:
        return cls(enabled=False)


class FailureAccrualFilter(Filter[Req, Rep]):
    """Feeds one endpoint's :class:`Breaker`; the service it builds is BUSY while dead."""

    __slots__ = ("_classify", "breaker")

    def __init__(self, breaker: Breaker, classify: Classifier | None = None) -> None:
        self.breaker = breaker
        self._classify: Classifier = classify if classify is not None else status_classifier()

    async def __call__(self, request: Req, service: Service[Req, Rep], /) -> Rep:
        breaker = self.breaker
        probe = breaker.on_dispatch()
        try:
            rep = await service(request)
        except BaseException as e:
            verdict = self._classify(e)
            if verdict is None:
                breaker.on_ignored(probe)
            elif verdict:
                breaker.on_failure(probe)
            else:
                breaker.on_success(probe)
            raise
        breaker.on_success(probe)
        return rep

    def _wrap(self, service: Service[Req, Rep]) -> Service[Req, Rep]:
        return FailureAccrualService(self, service)

    @staticmethod
    def from_params(params: Params) -> FailureAccrualFilter[Req, Rep] | None:
        """One filter (one breaker) per endpoint, from :class:`FailureAccrual`; None if disabled."""
        cfg = params[FailureAccrual]
        if not cfg.enabled:
            return None
        return FailureAccrualFilter.create(cfg, clock=params[ClockParam].clock)

    @staticmethod
    def create(
        config: FailureAccrual | None = None,
        *,
        clock: Clock = SYSTEM_CLOCK,
        rng: random.Random | None = None,
    ) -> FailureAccrualFilter[Req, Rep]:
        """A filter with a fresh breaker configured by ``config`` (default settings if None)."""
        cfg = config if config is not None else FailureAccrual()
        breaker = Breaker(cfg.make_policy(), backoff=cfg.make_backoff(), clock=clock, rng=rng)
        classify = (
            cfg.classifier
            if cfg.classifier is not None
            else status_classifier(cfg.failure_statuses)
        )
        return FailureAccrualFilter(breaker, classify)

    def __repr__(self) -> str:
        return f"FailureAccrualFilter({self.breaker!r})"


class FailureAccrualService(FilteredService[Req, Rep]):
    """The filtered service of an endpoint: BUSY while its breaker is dead or probing."""

    __slots__ = ("_breaker",)

    filter: FailureAccrualFilter[Req, Rep]

    def __init__(self, filter: FailureAccrualFilter[Req, Rep], service: Service[Req, Rep]) -> None:
        super().__init__(filter, service)
        self._breaker = filter.breaker

    @property
    def status(self) -> Status:
        b = self._breaker
        if b._state is _ALIVE or b.available():  # the common case without a call
            return self.service.status
        return _BUSY
