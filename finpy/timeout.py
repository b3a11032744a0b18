"""Per-attempt timeout.

A per-attempt timeout bounds one try at one endpoint, while the request's
deadline bounds the whole logical call (all attempts and backoff).  It sits in
the endpoint stack, below failure accrual (so breakers see timeouts) and below
retries (so a timed-out attempt can be retried elsewhere while time remains).
The attempt's own deadline goes into the context, so the transport puts the
earlier of it and the request's deadline on the wire.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from finpy._compat import timeout_after
from finpy.clock import SYSTEM_CLOCK, Clock
from finpy.context import _DEADLINE, validate_timeout
from finpy.errors import AttemptTimeoutError, ConfigurationError
from finpy.filter import Filter
from finpy.method import MethodConfig, MethodConfigs
from finpy.params import Param, Params
from finpy.service import Service

__all__ = ["AttemptTimeout", "AttemptTimeoutFilter"]

Req = TypeVar("Req")
Rep = TypeVar("Rep")


@dataclass(frozen=True, slots=True)
class AttemptTimeout(Param):
    """Timeout of each attempt (``None``: only the request's deadline applies)."""

    seconds: float | None = None

    def __post_init__(self) -> None:
        if self.seconds is not None:
            validate_timeout(self.seconds, "attempt timeout")
            if self.seconds == 0:
                raise ConfigurationError("attempt timeout must be > 0 seconds, got 0")


class AttemptTimeoutFilter(Filter[Req, Rep]):
    """Fails an attempt with :class:`AttemptTimeoutError` after ``timeout`` seconds."""

    __slots__ = ("_clock", "_timeout")

    def __init__(self, timeout: float | None, *, clock: Clock = SYSTEM_CLOCK) -> None:
        if timeout is not None and validate_timeout(timeout, "attempt timeout") == 0:
            raise ConfigurationError("attempt timeout must be > 0 seconds, got 0")
        self._timeout = None if timeout is None else float(timeout)
        self._clock = clock

    async def __call__(self, request: Req, service: Service[Req, Rep], /) -> Rep:
        timeout = self._timeout
        config = getattr(request, "method_config", None)
        if isinstance(config, MethodConfig) and config.attempt_timeout is not None:
            timeout = config.attempt_timeout
        if timeout is None:
            return await service(request)
        outer = _DEADLINE.get()
        mine = self._clock.now() + timeout
        if outer is not None and outer <= mine:
            return await service(request)  # the request's deadline is the tighter bound
        token = _DEADLINE.set(mine)
        try:
            async with timeout_after(timeout) as scope:
                return await service(request)
        except TimeoutError:
            if not scope.expired():
                raise  # the service's own TimeoutError (e.g. a connect timeout), not ours
            raise AttemptTimeoutError(
                f"attempt exceeded its timeout of {timeout * 1000:.1f} ms"
            ) from None
        finally:
            _DEADLINE.reset(token)

    @staticmethod
    def from_params(params: Params) -> AttemptTimeoutFilter[Req, Rep] | None:
        """The filter for :class:`AttemptTimeout` and per-method attempt timeouts.

        ``None`` (no module in the path) only when neither the client nor any
        :class:`~finpy.method.MethodConfigs` pattern sets an attempt timeout.
        """
        seconds = params[AttemptTimeout].seconds
        if seconds is None and not params[MethodConfigs].any_attempt_timeout:
            return None
        return AttemptTimeoutFilter(seconds)  # on the loop clock, like every deadline

    def __repr__(self) -> str:
        return f"AttemptTimeoutFilter({self._timeout!r})"
