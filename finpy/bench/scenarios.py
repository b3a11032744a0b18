"""The bench scenarios: what the backends do, when, and how much load is offered.

A :class:`Scenario` is plain data: the behaviour of each backend at the
start (fields of :class:`finpy.testing.Behavior`, as JSON-able values), a
timeline of :class:`Event`\\s (change a backend, stop/start it, fail or
restore discovery), the offered load and the deadline of every request, and
the explicit finpy configuration used for it (:class:`FinpyOptions`).

Scenarios come in two profiles: ``full`` (the figures of the docs; durations
of 10 s and more, the 30 s discovery outage of the design bars) and ``quick``
(the same faults compressed so that every scenario and peer run in about a
minute).  :func:`build` makes one, :data:`SCENARIOS` names them in run order.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import grpc

from finpy.errors import ConfigurationError

__all__ = [
    "ACTIONS",
    "BEHAVIOR_FIELDS",
    "PROFILES",
    "SCENARIOS",
    "Event",
    "FinpyOptions",
    "Profile",
    "Scenario",
    "build",
    "canonical_name",
]

#: Fields of :class:`finpy.testing.Behavior` a scenario may set, with the JSON types allowed.
BEHAVIOR_FIELDS: dict[str, tuple[type, ...]] = {
    "latency": (int, float),
    "tail_latency": (int, float),
    "tail_probability": (int, float),
    "error_code": (str,),
    "error_probability": (int, float),
    "capacity": (int,),
    "refuse_connections": (bool,),
}

#: Timeline actions: change a backend's behaviour, stop/start it, break/restore discovery
#: (see :mod:`finpy.bench.discovery`).
ACTIONS = (
    "set",
    "stop",
    "kill",
    "start",
    "discovery_unreachable",
    "discovery_malformed",
    "discovery_empty",
    "discovery_restore",
)

_BACKEND_ACTIONS = ("set", "stop", "kill", "start")


def check_behavior(behavior: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Validate a JSON-able behaviour; the error names the bad field or value."""
    out: dict[str, Any] = {}
    for name, raw in behavior.items():
        value: Any = raw
        types = BEHAVIOR_FIELDS.get(name)
        if types is None:
            raise ConfigurationError(
                f"{where}: unknown behavior field {name!r} (known: {', '.join(BEHAVIOR_FIELDS)})"
            )
        if (isinstance(raw, bool) and bool not in types) or not isinstance(raw, types):
            raise ConfigurationError(f"{where}: behavior {name}={value!r} has the wrong type")
        if name == "error_code" and (not hasattr(grpc.StatusCode, value) or value == "OK"):
            raise ConfigurationError(f"{where}: {value!r} is not a gRPC error status name")
        if name in ("tail_probability", "error_probability") and not 0 <= value <= 1:
            raise ConfigurationError(f"{where}: behavior {name}={value!r} is not in [0, 1]")
        if name in ("latency", "tail_latency") and not (math.isfinite(value) and value >= 0):
            raise ConfigurationError(f"{where}: behavior {name}={value!r} is not seconds >= 0")
        if name == "capacity" and value < 1:
            raise ConfigurationError(f"{where}: behavior capacity={value!r} must be >= 1")
        out[name] = value
    return out


@dataclass(frozen=True, slots=True)
class Event:
    """One change during a run, ``at`` seconds after request 0 is scheduled."""

    at: float
    action: str
    backend: int | None = None
    behavior: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.at, bool) or not isinstance(self.at, (int, float)) or not self.at >= 0:
            raise ConfigurationError(f"event time must be seconds >= 0, got {self.at!r}")
        if self.action not in ACTIONS:
            raise ConfigurationError(
                f"unknown event action {self.action!r} (known: {', '.join(ACTIONS)})"
            )
        if (self.action in _BACKEND_ACTIONS) != (self.backend is not None):
            raise ConfigurationError(
                f"event {self.action!r} {'needs' if self.action in _BACKEND_ACTIONS else 'takes no'} "
                f"backend index, got {self.backend!r}"
            )
        object.__setattr__(
            self, "behavior", check_behavior(self.behavior, f"event {self.action}@{self.at}")
        )
        if self.action == "set" and not self.behavior:
            raise ConfigurationError(f"a 'set' event at {self.at} needs behavior fields")

    def describe(self) -> str:
        what = self.action + ("" if self.backend is None else f" backend-{self.backend}")
        if self.behavior:
            what += " " + ", ".join(f"{k}={v}" for k, v in self.behavior.items())
        return f"t={self.at:.4g}s {what}"


@dataclass(frozen=True, slots=True)
class FinpyOptions:
    """How finpy's channel is configured for a scenario: defaults plus careful opt-ins.

    ``Channel(target)`` defaults apply to everything not listed; the opt-ins are
    what a careful user would set for the Echo method.  ``hedge`` asks for
    hedging when the installed finpy offers it (the report says whether it did).
    """

    idempotent: bool = True
    """Mark ``Echo`` idempotent (it is: it only echoes)."""
    hedge: bool = False
    """Opt in to hedged requests for ``Echo`` (applied only if finpy supports hedging)."""


@dataclass(frozen=True, slots=True)
class Scenario:
    """A named fault scenario with its load; see the module docstring."""

    name: str
    title: str
    description: str
    rate: float
    """Offered load, requests per second (open loop)."""
    duration: float
    """Seconds over which requests are scheduled."""
    timeout: float = 1.0
    """Deadline of every request, in seconds."""
    backends: int = 5
    initial: tuple[Mapping[str, Any], ...] = ()
    """Behaviour of each backend at the start (missing ones are healthy)."""
    events: tuple[Event, ...] = ()
    finpy: FinpyOptions = FinpyOptions()
    peers: tuple[str, ...] | None = None
    """Peers that can take part (``None``: every peer)."""
    capacity_rps: float | None = None
    """Total calls per second the backends can serve (capacity-limited scenarios)."""
    kind: str = "load"
    """``"load"`` (open-loop run against the cluster) or ``"overhead"`` (closed-loop CPU)."""
    calls: int | None = None
    """Closed-loop calls per client and concurrency level (overhead scenario)."""
    faults_from_start: bool = False
    """Apply ``initial`` before the client starts (default: after its warm-up, in steady state)."""

    def __post_init__(self) -> None:
        if not self.name or canonical_name(self.name) != self.name:
            raise ConfigurationError(f"invalid scenario name {self.name!r}")
        for fname in ("rate", "duration", "timeout"):
            v = getattr(self, fname)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < math.inf:
                raise ConfigurationError(f"scenario {self.name}: {fname} must be > 0, got {v!r}")
        if isinstance(self.backends, bool) or not isinstance(self.backends, int):
            raise ConfigurationError(f"scenario {self.name}: backends={self.backends!r}")
        if not 1 <= self.backends <= 64:
            raise ConfigurationError(
                f"scenario {self.name}: backends must be 1..64, got {self.backends!r}"
            )
        if len(self.initial) > self.backends:
            raise ConfigurationError(
                f"scenario {self.name}: {len(self.initial)} initial behaviors for "
                f"{self.backends} backends"
            )
        object.__setattr__(
            self,
            "initial",
            tuple(
                check_behavior(b, f"scenario {self.name} backend-{i}")
                for i, b in enumerate(self.initial)
            ),
        )
        for e in self.events:
            if e.backend is not None and not 0 <= e.backend < self.backends:
                raise ConfigurationError(
                    f"scenario {self.name}: event {e.describe()} names a backend outside "
                    f"0..{self.backends - 1}"
                )
            if e.at > self.duration:
                raise ConfigurationError(
                    f"scenario {self.name}: event {e.describe()} is after the end of the run "
                    f"({self.duration:g}s)"
                )
        if tuple(sorted(self.events, key=lambda e: e.at)) != self.events:
            raise ConfigurationError(f"scenario {self.name}: events must be in time order")
        if self.kind not in ("load", "overhead"):
            raise ConfigurationError(f"scenario {self.name}: unknown kind {self.kind!r}")

    @property
    def requests(self) -> int:
        """Logical requests one run schedules."""
        return max(1, math.floor(self.rate * self.duration + 1e-9))

    def behavior_of(self, backend: int) -> Mapping[str, Any]:
        """The initial behaviour of ``backend`` (``{}``: healthy)."""
        return self.initial[backend] if backend < len(self.initial) else {}

    def describe(self) -> list[str]:
        """Human-readable lines: load, faults, events."""
        if self.kind == "overhead":
            return [
                f"{self.backends} backend, closed loop at concurrency 1 and 32, "
                f"{self.calls or self.requests} calls per client and level"
            ]
        lines = [
            f"{self.backends} backends, {self.rate:g} req/s open loop for {self.duration:g}s "
            f"({self.requests} requests), deadline {self.timeout * 1000:g} ms"
        ]
        faults = [dict(self.behavior_of(i)) for i in range(self.backends)]
        if faults and all(f == faults[0] for f in faults) and faults[0]:
            lines.append("every backend: " + _fields(faults[0]))
        else:
            lines += [f"backend-{i}: {_fields(f)}" for i, f in enumerate(faults) if f]
        lines.extend(e.describe() for e in self.events)
        return lines


def _fields(behavior: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in behavior.items())


@dataclass(frozen=True, slots=True)
class Profile:
    """Durations and rates of one bench profile."""

    name: str
    rate: float
    duration: float
    restart_down: float
    """How long each backend stays down in the rolling restart."""
    restart_gap: float
    """Pause between one backend coming back and the next going down."""
    discovery_outage: float
    overhead_calls: int
    """Calls per client and concurrency level in the overhead scenario."""


PROFILES: dict[str, Profile] = {
    "quick": Profile(
        "quick",
        rate=200,
        duration=1.2,
        restart_down=0.4,
        restart_gap=0.1,
        discovery_outage=1.0,
        overhead_calls=1500,
    ),
    "full": Profile(
        "full",
        rate=300,
        duration=10.0,
        restart_down=1.5,
        restart_gap=0.5,
        discovery_outage=30.0,
        overhead_calls=10000,
    ),
}

UNAVAILABLE = {"error_code": "UNAVAILABLE", "error_probability": 1.0}


def _overhead(p: Profile) -> Scenario:
    return Scenario(
        "overhead",
        "overhead",
        "One healthy 0 ms backend; closed-loop calls at concurrency 1 and 32: client CPU "
        "per call and calls/s, plain grpc.aio vs finpy.",
        rate=p.rate,
        duration=p.duration,
        backends=1,
        peers=("plain", "finpy"),
        kind="overhead",
        calls=p.overhead_calls,
    )


def _healthy(p: Profile) -> Scenario:
    return Scenario(
        "healthy",
        "healthy",
        "Five healthy backends: the baseline other scenarios are compared with.",
        rate=p.rate,
        duration=p.duration,
    )


def _slow_replica(p: Profile) -> Scenario:
    return Scenario(
        "slow-replica",
        "slow replica",
        "One backend answers 60 ms late; the others are healthy.",
        rate=p.rate,
        duration=p.duration,
        initial=({"latency": 0.060},),
    )


def _failing_replica(p: Profile) -> Scenario:
    return Scenario(
        "failing-replica",
        "failing replica",
        "One backend fails every call with UNAVAILABLE.",
        rate=p.rate,
        duration=p.duration,
        initial=(UNAVAILABLE,),
    )


def _outage(p: Profile) -> Scenario:
    return Scenario(
        "outage",
        "outage",
        "Every backend fails every call with UNAVAILABLE: retries can only add load.",
        rate=p.rate,
        duration=p.duration,
        initial=(UNAVAILABLE,) * 5,
    )


def _heavy_tail(p: Profile) -> Scenario:
    tail = {"tail_latency": 0.080, "tail_probability": 0.03}
    return Scenario(
        "heavy-tail",
        "heavy tail",
        "3% of the calls on every backend take 80 ms longer.",
        rate=p.rate,
        duration=p.duration,
        initial=(tail,) * 5,
        finpy=FinpyOptions(hedge=True),
    )


def _down_replica(p: Profile) -> Scenario:
    return Scenario(
        "down-replica",
        "down replica",
        "One address refuses connections from before the client starts to the end of the run.",
        rate=p.rate,
        duration=p.duration,
        initial=({"refuse_connections": True},),
        faults_from_start=True,
    )


def _rolling_restart(p: Profile) -> Scenario:
    lead = 0.1
    events: list[Event] = []
    for i in range(5):
        at = lead + i * (p.restart_down + p.restart_gap)
        # even backends stop gracefully (in-flight calls finish); odd ones are killed
        events.append(Event(round(at, 6), "stop" if i % 2 == 0 else "kill", i))
        events.append(Event(round(at + p.restart_down, 6), "start", i))
    duration = max(p.duration, events[-1].at + p.restart_gap)
    return Scenario(
        "rolling-restart",
        "rolling restart",
        f"Each backend in turn goes down for {p.restart_down:g}s: even ones stop "
        "gracefully, odd ones are killed with calls in flight.",
        rate=p.rate,
        duration=round(duration, 6),
        events=tuple(events),
    )


def _overload(p: Profile) -> Scenario:
    latency, capacity = 0.050, 2
    capacity_rps = 5 * capacity / latency
    return Scenario(
        "overload",
        "overload",
        f"Backends serve {capacity} calls at a time, {latency * 1000:g} ms each "
        f"({capacity_rps:g} calls/s in all) and reject the excess with RESOURCE_EXHAUSTED; "
        "offered load is 1.5x that.",
        rate=1.5 * capacity_rps,
        duration=p.duration,
        initial=({"latency": latency, "capacity": capacity},) * 5,
        capacity_rps=capacity_rps,
    )


def _discovery_outage(p: Profile) -> Scenario:
    lead = min(0.2 * p.discovery_outage, 5.0)
    third = p.discovery_outage / 3
    return Scenario(
        "discovery-outage",
        "discovery outage",
        f"Service discovery fails for {p.discovery_outage:g}s while the backends stay "
        "healthy: finpy follows an address file with its file resolver, and the file is "
        "gone, then garbage, then empty, then back. Only finpy takes part: the grpc.aio "
        "peers use a fixed address list (grpc Python has no pluggable resolver to fail).",
        rate=p.rate,
        duration=lead * 2 + p.discovery_outage,
        events=(
            Event(lead, "discovery_unreachable"),
            Event(round(lead + third, 6), "discovery_malformed"),
            Event(round(lead + 2 * third, 6), "discovery_empty"),
            Event(lead + p.discovery_outage, "discovery_restore"),
        ),
        peers=("finpy",),
    )


#: Scenario builders by name, in run order.
SCENARIOS: dict[str, Callable[[Profile], Scenario]] = {
    "overhead": _overhead,
    "healthy": _healthy,
    "slow-replica": _slow_replica,
    "failing-replica": _failing_replica,
    "outage": _outage,
    "heavy-tail": _heavy_tail,
    "down-replica": _down_replica,
    "rolling-restart": _rolling_restart,
    "overload": _overload,
    "discovery-outage": _discovery_outage,
}


def canonical_name(name: str) -> str:
    """``slow_replica`` / ``Slow-Replica`` -> ``slow-replica``."""
    return name.strip().lower().replace("_", "-")


def build(name: str, profile: str | Profile = "quick") -> Scenario:
    """The scenario ``name`` in ``profile``; errors name unknown scenarios or profiles."""
    if isinstance(profile, str):
        try:
            profile = PROFILES[profile]
        except KeyError:
            raise ConfigurationError(
                f"unknown bench profile {profile!r} (known: {', '.join(PROFILES)})"
            ) from None
    key = canonical_name(name)
    try:
        maker = SCENARIOS[key]
    except KeyError:
        raise ConfigurationError(
            f"unknown scenario {name!r} (known: {', '.join(SCENARIOS)})"
        ) from None
    return maker(profile)
