"""Total deadline of a logical request.

The deadline of a call is the earliest of: the caller's own timeout, the
client's (or method's) default timeout, and the deadline inherited from the
context (for example from the request being served).  Protocol surfaces put
the caller's timeout into the context with :func:`finpy.deadline_after`;
:class:`DeadlineFilter`, near the top of the client stack, adds the default,
refuses to send a request whose deadline has already passed, and (when the
transport does not enforce deadlines itself) bounds the whole call locally.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from finpy._compat import timeout_after
from finpy.clock import SYSTEM_CLOCK, Clock
from finpy.context import _DEADLINE, validate_timeout
from finpy.errors import DeadlineExceededError
from finpy.filter import Filter
from finpy.params import Param, Params
from finpy.service import Service

__all__ = ["DeadlineFilter", "DefaultTimeout", "EnforceDeadline"]

Req = TypeVar("Req")
Rep = TypeVar("Rep")


@dataclass(frozen=True, slots=True)
class DefaultTimeout(Param):
    """Timeout applied to calls that bring none of their own (``None``: unbounded)."""

    seconds: float | None = None

    def __post_init__(self) -> None:
        if self.seconds is not None:
            validate_timeout(self.seconds, "default timeout")


@dataclass(frozen=True, slots=True)
class EnforceDeadline(Param):
    """Whether finpy enforces the deadline locally (False when the transport already does)."""

    enabled: bool = True


class DeadlineFilter(Filter[Req, Rep]):
    """Applies the default timeout, fails expired requests locally, optionally enforces."""

    __slots__ = ("_clock", "_default", "_enforce")

    def __init__(
        self,
        default_timeout: float | None = None,
        *,
        enforce: bool = True,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._default = None if default_timeout is None else validate_timeout(default_timeout)
        self._enforce = enforce
        self._clock = clock

    async def __call__(self, request: Req, service: Service[Req, Rep], /) -> Rep:
        inherited = deadline = _DEADLINE.get()
        now = self._clock.now()
        if self._default is not None:
            d = now + self._default
            if deadline is None or d < deadline:
                deadline = d
        if deadline is None:
            return await service(request)
        remaining = deadline - now
        if remaining <= 0:
            raise DeadlineExceededError(
                f"deadline had passed {-remaining * 1000:.1f} ms before the request was sent; not sent"
            )
        if deadline is inherited and not self._enforce:
            # The caller's scope already holds this deadline (the gRPC surface sets it):
            # nothing to add on this request's path but the expiry check above.
            return await service(request)
        token = _DEADLINE.set(deadline)
        try:
            if not self._enforce:
                return await service(request)
            try:
                async with timeout_after(remaining) as scope:
                    return await service(request)
            except TimeoutError:
                if not scope.expired():
                    raise  # the service's own TimeoutError (e.g. a connect timeout), not ours
                raise DeadlineExceededError(
                    f"deadline of {remaining * 1000:.1f} ms exceeded", request_sent=True
                ) from None
        finally:
            _DEADLINE.reset(token)

    @staticmethod
    def from_params(params: Params) -> DeadlineFilter[Req, Rep]:
        """The filter as configured by :class:`DefaultTimeout` and :class:`EnforceDeadline`."""
        return DeadlineFilter(
            params[DefaultTimeout].seconds,
            enforce=params[EnforceDeadline].enabled,
        )  # deadlines live on the loop clock, whatever ClockParam says (see finpy.clock)

    def __repr__(self) -> str:
        return f"DeadlineFilter(default={self._default!r}, enforce={self._enforce})"
