"""What a test backend does with each call: latency, errors, capacity, refusing connections.

A :class:`Behavior` is a plain mutable dataclass that a :class:`~finpy.testing.Backend`
reads on every call, so a test can change it while calls are running. Every assignment
is validated, in the constructor and afterwards, and a bad value raises a ``ValueError``
that names the field and the value.

Random choices (tail latency, probabilistic errors) come from the behavior's own
``random.Random``, seeded with ``seed``: with a seed, the same sequence of calls sees the
same sequence of faults. Each call draws exactly two numbers (tail, then error), whatever
the probabilities, so changing one probability does not shift the other's sequence.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

import grpc

__all__ = ["Behavior", "Metadata"]

Metadata = tuple[tuple[str, str], ...]

_METADATA_KEY = re.compile(r"^[0-9a-z_.\-]+$")


def _check_seconds(name: str, value: object) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < 0
    ):
        raise ValueError(f"Behavior.{name} must be a finite number of seconds >= 0, got {value!r}")


def _check_probability(name: str, value: object) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not (0.0 <= value <= 1.0)  # also rejects NaN
    ):
        raise ValueError(f"Behavior.{name} must be a probability in [0, 1], got {value!r}")


def _check_error_code(name: str, value: object) -> None:
    if value is None:
        return
    if not isinstance(value, grpc.StatusCode):
        raise ValueError(f"Behavior.{name} must be a grpc.StatusCode or None, got {value!r}")
    if value is grpc.StatusCode.OK:
        raise ValueError(f"Behavior.{name} must be an error status, got {value!r}")


def _check_str(name: str, value: object) -> None:
    if not isinstance(value, str):
        raise ValueError(f"Behavior.{name} must be a str, got {value!r}")


def _check_metadata(name: str, value: object) -> None:
    if not isinstance(value, tuple):
        raise ValueError(f"Behavior.{name} must be a tuple of (key, value) pairs, got {value!r}")
    for pair in value:
        if not (
            isinstance(pair, tuple)
            and len(pair) == 2
            and isinstance(pair[0], str)
            and isinstance(pair[1], str)
        ):
            raise ValueError(f"Behavior.{name} entries must be (str, str) pairs, got {pair!r}")
        key = pair[0]
        if not _METADATA_KEY.match(key) or key.endswith("-bin"):
            raise ValueError(
                f"Behavior.{name} key {key!r} is not a valid ASCII metadata key "
                "(lower-case letters, digits, '-', '_', '.'; no '-bin' suffix)"
            )


def _check_capacity(name: str, value: object) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"Behavior.{name} must be an int >= 1 or None, got {value!r}")


def _check_bool(name: str, value: object) -> None:
    if not isinstance(value, bool):
        raise ValueError(f"Behavior.{name} must be a bool, got {value!r}")


def _check_seed(name: str, value: object) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise ValueError(f"Behavior.{name} must be an int or None, got {value!r}")


_CHECKS: dict[str, Callable[[str, object], None]] = {
    "latency": _check_seconds,
    "tail_latency": _check_seconds,
    "tail_probability": _check_probability,
    "error_code": _check_error_code,
    "error_probability": _check_probability,
    "error_details": _check_str,
    "trailing_metadata": _check_metadata,
    "capacity": _check_capacity,
    "refuse_connections": _check_bool,
    "seed": _check_seed,
}


@dataclass(repr=False)
class Behavior:
    """What a backend does with every call it receives; validated on every assignment.

    Attributes:
        latency: seconds added to every call, before the handler runs (for streaming
            calls, once before the first message).
        tail_latency: extra seconds added to a call with probability ``tail_probability``.
        tail_probability: chance that a call gets ``tail_latency`` on top of ``latency``.
        error_code: if set, calls fail with this status (after the latency) with
            probability ``error_probability``, before the handler runs.
        error_probability: chance that a call fails with ``error_code``.
        error_details: the status details of injected errors.
        trailing_metadata: sent with injected errors, e.g.
            ``(("grpc-retry-pushback-ms", "100"),)``.
        capacity: the most calls the backend runs at once; calls over it fail at once
            with ``RESOURCE_EXHAUSTED``. ``None`` is unlimited.
        refuse_connections: the backend stops listening (connects are refused and its
            calls in flight are cancelled); clearing it listens again on the same port.
        seed: seeds the behavior's random choices; ``None`` seeds from the OS.
    """

    latency: float = 0.0
    tail_latency: float = 0.0
    tail_probability: float = 0.0
    error_code: grpc.StatusCode | None = None
    error_probability: float = 1.0
    error_details: str = "injected by finpy.testing"
    trailing_metadata: Metadata = ()
    capacity: int | None = None
    refuse_connections: bool = False
    seed: int | None = None
    # Not set by __init__: assigning ``seed`` creates the generator.
    _random: random.Random = field(init=False, repr=False, compare=False)
    # Told when ``refuse_connections`` changes, by the backend that owns this behavior.
    _listener: Callable[[bool], None] | None = field(
        init=False, repr=False, compare=False, default=None
    )

    def __setattr__(self, name: str, value: Any) -> None:
        check = _CHECKS.get(name)
        if check is not None:
            check(name, value)
        object.__setattr__(self, name, value)
        if name == "seed":
            object.__setattr__(self, "_random", random.Random(value))
        elif name == "refuse_connections":
            listener = getattr(self, "_listener", None)
            if listener is not None:
                listener(value)

    def __repr__(self) -> str:
        """Only the fields that differ from the defaults: ``Behavior(latency=0.2)``."""
        parts = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.init and value != f.default:
                shown = f"grpc.{value}" if isinstance(value, grpc.StatusCode) else repr(value)
                parts.append(f"{f.name}={shown}")
        return f"Behavior({', '.join(parts)})"

    def draw(self) -> tuple[float, bool]:
        """Decide the fate of one call: (seconds to wait, whether to fail with error_code).

        Always draws two numbers from the seeded generator (see the module docstring).
        """
        tail = self._random.random() < self.tail_probability
        error = self._random.random() < self.error_probability
        delay = self.latency + (self.tail_latency if tail else 0.0)
        return delay, error and self.error_code is not None

    def changed(self, **changes: Any) -> Behavior:
        """A validated copy with ``changes`` applied; keeps the random sequence unless reseeded.

        Raises:
            ValueError: a name is not a Behavior field, or a value is invalid.
        """
        names = {f.name for f in fields(self) if f.init}
        unknown = sorted(set(changes) - names)
        if unknown:
            raise ValueError(f"unknown Behavior field(s) {unknown}; known: {sorted(names)}")
        values = {name: getattr(self, name) for name in names}
        values.update(changes)
        copy = Behavior(**values)
        if "seed" not in changes:
            object.__setattr__(copy, "_random", self._random)
        return copy
