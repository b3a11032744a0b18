"""Peak EWMA: a latency-aware load metric, and the P2C balancer that uses it (the default).

Each endpoint gets a :class:`PeakEwma` (attached as ``endpoint.observer``, so it
lives with the endpoint and survives balancer updates) that estimates its
round-trip time:

* a sample *above* the estimate replaces it at once (the *peak*): an endpoint
  that turns slow is avoided from its very next response;
* a sample below pulls it down exponentially with the time since the previous
  sample (weight ``1 - exp(-dt / decay)``, ``decay`` = 10 s), so the estimate
  recovers over seconds, whatever the request rate;
* with no samples it decays towards zero at the same rate, so an endpoint that
  was avoided gets tried again;
* while requests are in flight it is never below their mean age, so an
  endpoint that stops answering looks slow before the first timeout, in O(1)
  (a running sum of start times);
* a failure can raise the estimate (a timeout is slow) but never lower it: a
  fast error is not a fast server;
* an endpoint's first answer is not a sample: it usually paid for connecting
  (TCP, TLS, HTTP/2 set-up), and as a peak it would keep a perfectly good
  endpoint out of rotation for seconds.

An endpoint with no history is unknown: it costs nothing while idle, so a new
endpoint is used at once, and is very expensive while a request is in flight,
so it gets one request at a time until its answers give it an estimate
(Finagle's penalty).  The cost is ``estimate * (pending + 1)``.

:class:`P2CPeakEwma` draws two distinct endpoints at random (in proportion to
their weights, when weights differ); the healthier (``OPEN``) wins, then the
cheaper, costs divided by weights.  Estimates within ``tolerance`` (50%) of
each other are a tie on latency and the two are compared by load alone: the
estimates are noisy, and strict comparisons would herd a quiet client's
requests onto whichever endpoint happened to measure fastest.  Unhealthy
endpoints are re-drawn (a few tries) unless the set is in panic mode.  O(1)
per pick for any number of endpoints.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from finpy.balancer.base import Balancer
from finpy.balancer.panic import DEFAULT_PANIC_THRESHOLD
from finpy.balancer.weighted import AliasTable
from finpy.clock import SYSTEM_CLOCK, Clock
from finpy.endpoint import Endpoint
from finpy.errors import ConfigurationError
from finpy.service import Status

__all__ = [
    "DEFAULT_DECAY",
    "DEFAULT_MAX_EFFORT",
    "DEFAULT_TOLERANCE",
    "P2CPeakEwma",
    "PeakEwma",
    "costs",
    "healthy_after",
    "peak_ewma",
]

Req = TypeVar("Req")
Rep = TypeVar("Rep")

#: Time constant of the estimate's decay, in seconds.
DEFAULT_DECAY = 10.0
#: Re-draws to find a healthy candidate before settling for an unhealthy one.
DEFAULT_MAX_EFFORT = 5
#: Round-trip estimates within this fraction of each other count as equal.
DEFAULT_TOLERANCE = 0.5

# Cost of an endpoint with no history while a request is in flight: above any real cost.
_PENALTY = 1e9
_OPEN = Status.OPEN
_exp = math.exp


def healthy_after(endpoints: Sequence[Endpoint[Any, Any]], start: int, avoid: int = -1) -> int:
    """Index of the first OPEN endpoint from ``start`` on (wrapping), skipping ``avoid``; -1 if none."""
    n = len(endpoints)
    for step in range(n):
        k = (start + step) % n
        if k != avoid and endpoints[k].status is _OPEN:
            return k
    return -1


def costs(
    ma: PeakEwma, mb: PeakEwma, pa: int, pb: int, band: float, now: Callable[[], float]
) -> tuple[float, float]:
    """Comparable costs of two endpoints (meters ``ma``/``mb``, ``pa``/``pb`` pending).

    Estimates within a factor ``band`` of each other count as equal (a tie on
    latency is decided by load).  The clock is read only when it matters: with
    nothing in flight, both estimates decay at the same rate from their last
    samples, so decaying the older one to the newer one's time compares them
    exactly.
    """
    if ma._inflight or mb._inflight or not ma.samples or not mb.samples:
        t = now()
        if not ma.samples or not mb.samples:  # no history on one side
            return ma.cost(pa, t), mb.cost(pb, t)
        ea = ma.current(t)
        eb = mb.current(t)
    else:
        ea = ma._value
        eb = mb._value
        dt = ma._stamp - mb._stamp
        if dt > 0.0:
            eb *= _exp(-dt / mb.decay)
        elif dt < 0.0:
            ea *= _exp(dt / ma.decay)
    if ea <= eb * band and eb <= ea * band:
        return float(pa + 1), float(pb + 1)
    return ea * (pa + 1), eb * (pb + 1)


def validate_decay(decay: float) -> float:
    if (
        isinstance(decay, bool)
        or not isinstance(decay, (int, float))
        or not math.isfinite(decay)
        or decay <= 0
    ):
        raise ConfigurationError(f"EWMA decay must be a positive number of seconds, got {decay!r}")
    return float(decay)


def validate_effort(effort: int) -> int:
    if isinstance(effort, bool) or not isinstance(effort, int) or effort < 0:
        raise ConfigurationError(f"max_effort must be an integer >= 0, got {effort!r}")
    return effort


class PeakEwma:
    """Round-trip estimate of one endpoint (a :class:`~finpy.endpoint.LatencyObserver`)."""

    __slots__ = (
        "_clock",
        "_inflight",
        "_stamp",
        "_start_sum",
        "_value",
        "_warm",
        "decay",
        "samples",
    )

    def __init__(self, decay: float = DEFAULT_DECAY, *, clock: Clock = SYSTEM_CLOCK) -> None:
        self.decay = validate_decay(decay)
        self._clock = clock
        self._value = 0.0
        self._stamp = 0.0
        self._inflight = 0
        self._start_sum = 0.0
        #: Latency samples taken (0: no history).
        self.samples = 0
        self._warm = False

    # -- measurement (LatencyObserver) ---------------------------------------------------

    def begin(self) -> float:
        now = self._clock.now()
        self._inflight += 1
        self._start_sum += now
        return now

    def end(self, started: float, ok: bool | None) -> None:
        now = self._clock.now()
        self._inflight -= 1
        if self._inflight > 0:
            self._start_sum -= started
        else:  # reset, so rounding errors cannot accumulate
            self._inflight = 0
            self._start_sum = 0.0
        if ok is None:
            return
        rtt = now - started
        if rtt < 0.0:
            rtt = 0.0
        if ok:
            if self._warm:
                self.observe(rtt, now)
            else:  # the first answer paid for connecting: it only warms the endpoint up
                self._warm = True
        elif self.samples and rtt > self.value_at(now):
            # a failure may raise the estimate, never lower it (nor start a history)
            self.observe(rtt, now)

    # -- the estimate --------------------------------------------------------------------

    def observe(self, rtt: float, now: float) -> None:
        """Take one round-trip sample ``rtt`` (seconds) made at ``now``."""
        v = self._value
        if self.samples == 0 or rtt >= v:
            self._value = rtt
        else:
            dt = now - self._stamp
            w = _exp(-dt / self.decay) if dt > 0.0 else 1.0
            self._value = v * w + rtt * (1.0 - w)
        self._stamp = now
        self.samples += 1

    def value_at(self, now: float) -> float:
        """The sampled estimate decayed to ``now`` (0.0 without history)."""
        dt = now - self._stamp
        return self._value * _exp(-dt / self.decay) if dt > 0.0 else self._value

    def current(self, now: float) -> float:
        """The estimate at ``now``, or -1.0 without history (the fast path of balancers)."""
        if self.samples == 0:
            return -1.0
        dt = now - self._stamp
        est = self._value * _exp(-dt / self.decay) if dt > 0.0 else self._value
        n = self._inflight
        if n > 0:
            age = now - self._start_sum / n
            if age > est:
                est = age
        return est

    def estimate(self, now: float | None = None) -> float | None:
        """Round-trip estimate at ``now`` (default: the clock's now); None without history."""
        if self.samples == 0:
            return None
        return self.current(self._clock.now() if now is None else now)

    def cost(self, pending: int, now: float) -> float:
        """Load of the endpoint with ``pending`` requests in flight: ``estimate * (pending + 1)``.

        Without history: 0 while idle, above any real cost while a request is in flight.
        """
        if self.samples == 0:
            return 0.0 if pending == 0 else _PENALTY + pending
        return self.current(now) * (pending + 1)

    @property
    def inflight(self) -> int:
        """Requests measured and not yet answered."""
        return self._inflight

    def __repr__(self) -> str:
        est = self.estimate()
        shown = "unknown" if est is None else f"{est * 1000:.3f}ms"
        return f"PeakEwma({shown}, samples={self.samples}, inflight={self._inflight})"


def peak_ewma(
    endpoint: Endpoint[Req, Rep], decay: float = DEFAULT_DECAY, clock: Clock = SYSTEM_CLOCK
) -> PeakEwma:
    """The endpoint's :class:`PeakEwma`, attaching a new one if it has none yet."""
    obs = endpoint.observer
    if isinstance(obs, PeakEwma):
        return obs
    meter = PeakEwma(decay, clock=clock)
    endpoint.observer = meter
    return meter


class P2CPeakEwma(Balancer[Req, Rep]):
    """Power of two choices over peak-EWMA costs: healthier wins, then cheaper (the default).

    Args:
        decay: time constant of the round-trip estimates, seconds (10).
        clock: time source (virtual in tests).
        rng: random source (seeded in tests).
        panic_threshold: panic when more than this fraction of endpoints is unhealthy.
        max_effort: re-draws to find a healthy candidate outside panic mode.
        tolerance: estimates within this fraction of each other (0.5: 1.5x) are a tie,
            and the two endpoints are compared by load alone, so that measurement
            noise does not herd traffic onto whichever endpoint happened to measure
            fastest; real differences (a replica 10x slower) are well outside it.
    """

    def __init__(
        self,
        *,
        decay: float = DEFAULT_DECAY,
        clock: Clock = SYSTEM_CLOCK,
        rng: random.Random | None = None,
        panic_threshold: float = DEFAULT_PANIC_THRESHOLD,
        max_effort: int = DEFAULT_MAX_EFFORT,
        tolerance: float = DEFAULT_TOLERANCE,
    ) -> None:
        super().__init__(rng=rng, panic_threshold=panic_threshold)
        self.decay = validate_decay(decay)
        self.clock = clock
        self._now = clock.now
        self.max_effort = validate_effort(max_effort)
        if (
            isinstance(tolerance, bool)
            or not isinstance(tolerance, (int, float))
            or not 0.0 <= tolerance < math.inf
        ):
            raise ConfigurationError(f"tolerance must be a number >= 0, got {tolerance!r}")
        self.tolerance = float(tolerance)
        self._band = 1.0 + self.tolerance
        self._meters: tuple[PeakEwma, ...] = ()
        self._table: AliasTable | None = None

    def _on_update(self) -> None:
        self._meters = tuple(peak_ewma(e, self.decay, self.clock) for e in self.endpoints)
        table = AliasTable([e.address.weight for e in self.endpoints])
        self._table = None if table.uniform else table

    def _index(self, n: int, avoid: int) -> int:
        """A random index other than ``avoid`` (-1: any), uniform or by weight."""
        rnd = self.rng.random
        table = self._table
        if table is None:
            if avoid < 0:
                return int(rnd() * n)
            k = int(rnd() * (n - 1))
            return k + 1 if k >= avoid else k
        for _ in range(8):
            k = table.draw(rnd)
            if k != avoid:
                return k
        return (avoid + 1) % n

    def _redraw(self, n: int, avoid: int) -> int:
        """Index of a healthy endpoint other than ``avoid``, or -1 if there is none.

        Random draws first (``max_effort``); if they all miss, which is rare
        outside panic mode, a scan from a random start settles it.
        """
        eps = self.endpoints
        for _ in range(self.max_effort):
            k = self._index(n, avoid)
            if eps[k].status is _OPEN:
                return k
        return healthy_after(eps, int(self.rng.random() * n), avoid)

    def _prefer(self, i: int, j: int) -> bool:
        """Whether endpoint ``i`` is cheaper than ``j`` (ties broken at random)."""
        eps = self.endpoints
        a = eps[i]
        b = eps[j]
        ca, cb = costs(
            self._meters[i], self._meters[j], a.pending, b.pending, self._band, self._now
        )
        if self._table is not None:  # weights differ somewhere
            ca /= a.address.weight
            cb /= b.address.weight
        if ca == cb:
            return self.rng.random() < 0.5
        return ca < cb

    def pick(self) -> Endpoint[Req, Rep]:
        eps = self.endpoints
        n = len(eps)
        if n < 2:
            if n == 0:
                raise self._no_endpoints()
            return eps[0]
        panic = self.health.tick(eps)
        if self._table is None:
            rnd = self.rng.random
            i = int(rnd() * n)
            j = int(rnd() * (n - 1))
            if j >= i:
                j += 1
        else:
            i = self._index(n, -1)
            j = self._index(n, i)
        if not self._prefer(i, j):
            i, j = j, i
        # i is the cheaper: if it is healthy it wins either way (one status read)
        first = eps[i]
        if first.status is _OPEN:
            return first
        second = eps[j]
        second_ok = second.status is _OPEN
        if panic:
            return second if second_ok else first
        # Outside panic mode, replace what is unhealthy by healthy draws: two choices.
        k = self._redraw(n, j)
        if k < 0:
            if second_ok:
                return second
            self.health.refresh(eps)  # nothing healthy anywhere: the count was stale
            return first
        if not second_ok:
            j = self._redraw(n, k)
            if j < 0:
                return eps[k]
        return eps[k] if self._prefer(k, j) else eps[j]

    def __repr__(self) -> str:
        h = self.health
        mode = ", panic" if h.panic else ""
        return f"P2CPeakEwma(endpoints={len(self.endpoints)}, unhealthy={h.unhealthy}{mode})"
