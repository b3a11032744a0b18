"""``RetryBudget``: how many retries a client may make, as a share of its requests.

Per-request retry limits ("at most 3 attempts") do not stop a retry storm: when
a whole service fails, every request makes all its attempts and the load on the
failing service triples.  A budget bounds retries for the *client* instead:
every request deposits a little credit, every retry, requeue or hedge withdraws
a whole one, so retries can never exceed a fixed share of the traffic
(Finagle's ``RetryBudget``, Linkerd 2's retry budget)::

    retries in any ttl window <= percent_can_retry * requests in that window
                                 + min_retries_per_sec * ttl

The ``min_retries_per_sec`` reserve lets a client with little traffic (or one
that has just started) still retry a few requests.  Credits and withdrawals
expire after ``ttl`` seconds, so an old burst of traffic does not fund retries
long after it ended, and an old burst of retries does not starve new ones.

Deposit and withdrawal are plain synchronous decisions on a sliding window of
``slices`` buckets.  The window is conservative on both sides: a deposit is
forgotten up to one bucket *before* ``ttl`` has passed, a withdrawal is kept up
to one bucket *after*, so the bound above holds for every ``ttl`` window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from finpy.clock import SYSTEM_CLOCK, Clock
from finpy.errors import ConfigurationError
from finpy.params import Param

__all__ = ["RetryBudget", "RetryBudgetParam", "RetryBudgetStatistics", "UnlimitedRetryBudget"]

#: Fixed-point scale of one deposit, so the budget works in integers.
_SCALE = 1_000_000
#: Largest ``percent_can_retry`` (Finagle's bound: 1000 retries per request).
_MAX_PERCENT_CAN_RETRY = 1000.0


@dataclass(frozen=True, slots=True)
class RetryBudgetStatistics:
    """A snapshot of a retry budget."""

    balance: int
    """Retries (or requeues, hedges) that would be granted right now."""
    deposits: int
    """Requests that deposited credit (since the budget was made)."""
    withdrawals: int
    """Retries, requeues and hedges granted."""
    refusals: int
    """Withdrawals refused because the budget was empty."""


def _number(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigurationError(f"retry budget {what} must be a number, got {value!r}")
    v = float(value)
    if v != v or math.isinf(v):
        raise ConfigurationError(f"retry budget {what} must be finite, got {value!r}")
    return v


class RetryBudget:
    """A sliding-window token bucket shared by a client's retries, requeues and hedges.

    Args:
        ttl: seconds a deposit (and a withdrawal) counts, in ``[1, 60]``.
        min_retries_per_sec: retries allowed whatever the traffic, ``>= 0``.
        percent_can_retry: retries allowed per request, as a fraction (``0.2``
            is 20%), in ``[0, 1000]``.
        clock: where time comes from (virtual in tests).
        slices: buckets of the sliding window (more: closer to an exact window).
    """

    __slots__ = (
        "_clock",
        "_cost",
        "_deposit_amount",
        "_deposits",
        "_n",
        "_refusals",
        "_reserve",
        "_slice",
        "_slice_end",
        "_slot",
        "_slot_deposits",
        "_slot_withdrawals",
        "_width",
        "_withdrawals",
        "min_retries_per_sec",
        "percent_can_retry",
        "ttl",
    )

    def __init__(
        self,
        *,
        ttl: float = 10.0,
        min_retries_per_sec: float = 10.0,
        percent_can_retry: float = 0.2,
        clock: Clock = SYSTEM_CLOCK,
        slices: int = 10,
    ) -> None:
        ttl = _number(ttl, "ttl")
        if not 1.0 <= ttl <= 60.0:
            raise ConfigurationError(f"retry budget ttl must be in [1, 60] seconds, got {ttl!r}")
        rate = _number(min_retries_per_sec, "min_retries_per_sec")
        if rate < 0:
            raise ConfigurationError(
                f"retry budget min_retries_per_sec must be >= 0, got {min_retries_per_sec!r}"
            )
        percent = _number(percent_can_retry, "percent_can_retry")
        if not 0.0 <= percent <= _MAX_PERCENT_CAN_RETRY:
            raise ConfigurationError(
                "retry budget percent_can_retry must be in [0, 1000] (a fraction: 0.2 is 20%), "
                f"got {percent_can_retry!r}"
            )
        if isinstance(slices, bool) or not isinstance(slices, int) or slices < 1:
            raise ConfigurationError(f"retry budget slices must be an int >= 1, got {slices!r}")
        self.ttl = ttl
        self.min_retries_per_sec = rate
        self.percent_can_retry = percent
        self._clock = clock
        # Integer arithmetic: a deposit is _SCALE, a withdrawal costs _SCALE / percent
        # rounded *up* (never cheaper than the ratio allows).  With percent == 0 only
        # the reserve funds retries, each costing _SCALE.
        # (Exact fractions here, so even a subnormal percent gives a finite integer cost.)
        self._deposit_amount = _SCALE if percent > 0 else 0
        self._cost = math.ceil(Fraction(_SCALE) / Fraction(percent)) if percent > 0 else _SCALE
        self._reserve = math.floor(Fraction(rate) * Fraction(ttl) * self._cost)
        self._n = slices
        self._width = ttl / slices
        # ring of slices + 1 slots: deposits count over the newest n slots,
        # withdrawals over all n + 1 (see the module docstring)
        self._slot_deposits = [0] * (slices + 1)
        self._slot_withdrawals = [0] * (slices + 1)
        self._slice: int | None = None
        self._slot = 0  # slot of the current slice
        self._slice_end = -math.inf  # when the current slice ends
        self._deposits = 0
        self._withdrawals = 0
        self._refusals = 0

    @classmethod
    def unlimited(cls) -> UnlimitedRetryBudget:
        """A budget that never refuses (for peers in benchmarks and for tests)."""
        return UnlimitedRetryBudget()

    # -- the window ----------------------------------------------------------------------

    def _advance(self) -> int:
        """Move the window to now; return the current slot."""
        current = math.floor(self._clock.now() / self._width)
        last = self._slice
        size = self._n + 1
        if last is None or current - last >= size:
            self._slot_deposits = [0] * size
            self._slot_withdrawals = [0] * size
        elif current > last:
            for s in range(last + 1, current + 1):
                i = s % size
                self._slot_deposits[i] = 0
                self._slot_withdrawals[i] = 0
        else:  # same slice (or a clock that went backwards: stay where we were)
            current = last
        self._slice = current
        self._slot = current % size
        self._slice_end = (current + 1) * self._width
        return self._slot

    def _available(self, slot: int) -> int:
        """Scaled credit available now."""
        oldest = (slot + 1) % (self._n + 1)  # the extra slot: counts withdrawals only
        deposits = sum(self._slot_deposits) - self._slot_deposits[oldest]
        withdrawals = sum(self._slot_withdrawals)
        return deposits * self._deposit_amount + self._reserve - withdrawals * self._cost

    # -- decisions -----------------------------------------------------------------------

    def deposit(self) -> None:
        """Credit the budget for one request (call once per logical request)."""
        # every request comes through here: no window arithmetic inside the current slice
        slot = self._slot if self._clock.now() < self._slice_end else self._advance()
        self._slot_deposits[slot] += 1
        self._deposits += 1

    def try_withdraw(self) -> bool:
        """Take one retry's worth of credit; ``False`` (and nothing taken) if there is none."""
        slot = self._advance()
        if self._available(slot) >= self._cost:
            self._slot_withdrawals[slot] += 1
            self._withdrawals += 1
            return True
        self._refusals += 1
        return False

    @property
    def balance(self) -> int:
        """Whole retries that would be granted right now."""
        return max(0, self._available(self._advance()) // self._cost)

    def statistics(self) -> RetryBudgetStatistics:
        return RetryBudgetStatistics(
            balance=self.balance,
            deposits=self._deposits,
            withdrawals=self._withdrawals,
            refusals=self._refusals,
        )

    def __repr__(self) -> str:
        return (
            f"RetryBudget(ttl={self.ttl:g}, min_retries_per_sec={self.min_retries_per_sec:g}, "
            f"percent_can_retry={self.percent_can_retry:g}, balance={self.balance})"
        )


class UnlimitedRetryBudget(RetryBudget):
    """A budget that grants every withdrawal; it only counts."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(min_retries_per_sec=0.0, percent_can_retry=0.0)

    def deposit(self) -> None:
        self._deposits += 1

    def try_withdraw(self) -> bool:
        self._withdrawals += 1
        return True

    @property
    def balance(self) -> int:
        return 2**62

    def __repr__(self) -> str:
        return "RetryBudget.unlimited()"


@dataclass(frozen=True, slots=True)
class RetryBudgetParam(Param):
    """The client's retry budget, shared by its retries, requeues and hedges.

    ``None`` (the default) means "one budget of the default size per client":
    :class:`finpy.Client` creates it once when it is built.  Set a budget to
    size it differently, or to share one budget between clients on purpose.
    """

    budget: RetryBudget | None = None

    def __post_init__(self) -> None:
        if self.budget is not None and not isinstance(self.budget, RetryBudget):
            raise ConfigurationError(
                f"retry budget must be a finpy.retry.RetryBudget, got {self.budget!r}"
            )
