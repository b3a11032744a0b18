"""finpy's OpenTelemetry instruments.

Two kinds, so that nothing is counted twice and the request path does little:

* **Recorded per call** (by the observe filters): the conventions' call
  duration histogram ``rpc.client.call.duration`` (seconds, one record per
  logical call), ``finpy.client.attempts`` (one per attempt, by reason:
  first, retry, requeue, hedge), ``finpy.client.rejections`` (calls refused
  locally: admission, budget) and ``finpy.client.breaker.transitions``
  (endpoints ejected and revived by failure accrual).
* **Observed at collection** (callbacks reading the live clients'
  statistics, so they cost nothing per call): retries and requeues, hedges
  sent and won, retry budget balance and refusals, endpoints by state,
  breakers by state, and discovery (updates, failures, rejected updates,
  staleness of the last known good set).

Every instrument carries ``finpy.client`` (the client's label).  One
:class:`ClientMetrics` exists per meter provider and is shared by the clients
that use it; its observable instruments report exactly those clients.
Collection may run on another thread (periodic readers, the Prometheus HTTP
server); a client whose state changed in the middle of being read is skipped
for that round rather than failing the whole collection.
"""

from __future__ import annotations

import weakref
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from opentelemetry.metrics import CallbackOptions, Observation

from finpy.observe import semconv as sc
from finpy.observe.dump import ClientSnapshot, client_snapshot
from finpy.observe.registry import live_clients
from finpy.observe.telemetry import _VERSION, Telemetry, meter_provider_or_none

if TYPE_CHECKING:
    from finpy.client import Client

__all__ = ["ClientMetrics", "metrics_for"]

_ENDPOINT_STATES = ("open", "busy", "draining")
_BREAKER_STATES = ("alive", "dead", "probe_open", "probing")


class ClientMetrics:
    """The instruments of one meter provider, shared by every client that uses it."""

    def __init__(self, provider: Any) -> None:
        self._provider = weakref.ref(provider)
        meter = provider.get_meter(sc.SCOPE_NAME, _VERSION)
        self.call_duration = meter.create_histogram(
            sc.CALL_DURATION,
            unit="s",
            description="Duration of each logical call, all attempts and backoff included.",
            explicit_bucket_boundaries_advisory=sc.CALL_DURATION_BUCKETS,
        )
        self.attempts = meter.create_counter(
            sc.METRIC_ATTEMPTS,
            unit="{attempt}",
            description="Attempts sent to endpoints, by reason (first, retry, requeue, hedge).",
        )
        self.rejections = meter.create_counter(
            sc.METRIC_REJECTIONS,
            unit="{call}",
            description="Logical calls refused locally (admission control, retry budget).",
        )
        self.breaker_transitions = meter.create_counter(
            sc.METRIC_BREAKER_TRANSITIONS,
            unit="{transition}",
            description="Endpoints ejected and revived by failure accrual.",
        )
        meter.create_observable_counter(
            sc.METRIC_RETRIES,
            [self._retries],
            unit="{attempt}",
            description="Attempts made again: after a retryable failure (retry) or a failure "
            "that never reached a server (requeue).",
        )
        meter.create_observable_counter(
            sc.METRIC_HEDGES,
            [self._hedges],
            unit="{attempt}",
            description="Backup attempts sent, and those that answered first.",
        )
        meter.create_observable_gauge(
            sc.METRIC_BUDGET_BALANCE,
            [self._budget_balance],
            unit="{attempt}",
            description="Retries, requeues or hedges the retry budget would grant now.",
        )
        meter.create_observable_counter(
            sc.METRIC_BUDGET_EXHAUSTED,
            [self._budget_exhausted],
            unit="{attempt}",
            description="Retries, requeues or hedges wanted but refused by a budget.",
        )
        meter.create_observable_up_down_counter(
            sc.METRIC_ENDPOINTS,
            [self._endpoints],
            unit="{endpoint}",
            description="Endpoints by state: open, busy (ejected, failing), draining (removed).",
        )
        meter.create_observable_up_down_counter(
            sc.METRIC_BREAKERS,
            [self._breakers],
            unit="{endpoint}",
            description="Endpoints by failure-accrual state.",
        )
        meter.create_observable_counter(
            sc.METRIC_RESOLVER_UPDATES,
            [self._resolver_updates],
            unit="{update}",
            description="Good discovery updates accepted.",
        )
        meter.create_observable_counter(
            sc.METRIC_RESOLVER_FAILURES,
            [self._resolver_failures],
            unit="{failure}",
            description="Discovery failures (the last known good set kept serving).",
        )
        meter.create_observable_counter(
            sc.METRIC_RESOLVER_REJECTED,
            [self._resolver_rejected],
            unit="{update}",
            description="Discovery updates kept out: empty (suspect) or malformed.",
        )
        meter.create_observable_gauge(
            sc.METRIC_RESOLVER_STALENESS,
            [self._resolver_staleness],
            unit="s",
            description="Seconds the client has served a last known good set because "
            "discovery is failing (0 while healthy).",
        )

    # -- the clients this provider reports -------------------------------------------------

    def _snapshots(self) -> Iterator[ClientSnapshot]:
        provider = self._provider()
        if provider is None:
            return
        for client in live_clients():
            if client.endpoint_set is None or _provider_of(client) is not provider:
                continue
            try:
                snap = client_snapshot(client)
            except RuntimeError:  # read from a collector thread while the loop changed it
                continue  # (a dict resized mid-read): this client is skipped this round
            yield snap

    def _retries(self, options: CallbackOptions) -> Iterable[Observation]:
        for s in self._snapshots():
            if s.retries is not None:
                yield Observation(s.retries.retries, _attrs(s, sc.FINPY_RETRY_KIND, "retry"))
                yield Observation(s.retries.requeues, _attrs(s, sc.FINPY_RETRY_KIND, "requeue"))

    def _hedges(self, options: CallbackOptions) -> Iterable[Observation]:
        for s in self._snapshots():
            if s.retries is not None:
                yield Observation(s.retries.hedges_sent, _attrs(s, sc.FINPY_HEDGE_OUTCOME, "sent"))
                yield Observation(s.retries.hedges_won, _attrs(s, sc.FINPY_HEDGE_OUTCOME, "won"))

    def _budget_balance(self, options: CallbackOptions) -> Iterable[Observation]:
        for s in self._snapshots():
            if s.retries is not None and s.retries.budget_balance is not None:
                yield Observation(s.retries.budget_balance, _attrs(s))

    def _budget_exhausted(self, options: CallbackOptions) -> Iterable[Observation]:
        for s in self._snapshots():
            if s.retries is not None:
                yield Observation(s.retries.budget_exhausted, _attrs(s))

    def _endpoints(self, options: CallbackOptions) -> Iterable[Observation]:
        for s in self._snapshots():
            es = s.endpoint_set
            if es is None:
                continue
            counts = {"open": es.open, "busy": es.busy, "draining": es.draining}
            for state in _ENDPOINT_STATES:
                yield Observation(counts[state], _attrs(s, sc.FINPY_ENDPOINT_STATE, state))

    def _breakers(self, options: CallbackOptions) -> Iterable[Observation]:
        for s in self._snapshots():
            counts = Counter(e.breaker for e in s.endpoints if e.breaker is not None)
            if not counts:
                continue
            for state in _BREAKER_STATES:
                yield Observation(counts.get(state, 0), _attrs(s, sc.FINPY_BREAKER_STATE, state))

    def _resolver_updates(self, options: CallbackOptions) -> Iterable[Observation]:
        for s in self._snapshots():
            if s.discovery is not None:
                yield Observation(s.discovery.updates, _attrs(s))

    def _resolver_failures(self, options: CallbackOptions) -> Iterable[Observation]:
        for s in self._snapshots():
            if s.discovery is not None:
                yield Observation(s.discovery.failures, _attrs(s))

    def _resolver_rejected(self, options: CallbackOptions) -> Iterable[Observation]:
        for s in self._snapshots():
            d = s.discovery
            if d is not None:
                yield Observation(d.rejected_empty, _attrs(s, sc.FINPY_RESOLVER_REJECTION, "empty"))
                yield Observation(
                    d.rejected_malformed, _attrs(s, sc.FINPY_RESOLVER_REJECTION, "malformed")
                )

    def _resolver_staleness(self, options: CallbackOptions) -> Iterable[Observation]:
        for s in self._snapshots():
            if s.discovery is not None:
                yield Observation(s.discovery.stale_for, _attrs(s))

    def __repr__(self) -> str:
        return f"ClientMetrics({self._provider()!r})"


def _attrs(s: ClientSnapshot, key: str | None = None, value: str = "") -> dict[str, str]:
    if key is None:
        return {sc.FINPY_CLIENT: s.label}
    return {sc.FINPY_CLIENT: s.label, key: value}


def _provider_of(client: Client[Any, Any]) -> Any:
    return meter_provider_or_none(client.params[Telemetry])


_BY_PROVIDER: weakref.WeakKeyDictionary[Any, ClientMetrics] = weakref.WeakKeyDictionary()


def metrics_for(provider: Any) -> ClientMetrics:
    """The instruments of ``provider`` (made once per provider)."""
    found = _BY_PROVIDER.get(provider)
    if found is None:
        found = _BY_PROVIDER[provider] = ClientMetrics(provider)
    return found
