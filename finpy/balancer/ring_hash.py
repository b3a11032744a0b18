"""Ring hash: consistent hashing on a request key, for cache affinity.

Each endpoint is placed on a 64-bit hash ring at many points ("virtual
nodes", ketama style), as many as ``replicas`` times its weight, so heavier
endpoints own proportionally more of the ring.  A request's key (set with
:func:`finpy.request_key`, read from the context) is hashed and goes to the
owner of the first point at or after it.  Adding or removing an endpoint only
moves the keys of the arcs it gains or loses (about 1/n of them); the points
of the other endpoints do not move, because each point depends only on its
own endpoint's address.

Hashes are BLAKE2b, so every client process puts the same endpoint at the
same points (Python's ``hash()`` is salted per process).  Each digest gives
four 64-bit points, and the ring is capped at ``max_points`` (replicas are
scaled down for very large sets, never below one per endpoint).

An unhealthy owner is skipped for the next healthy endpoint along the ring,
unless the set is in panic mode.  Requests without a key fall back to P2C
peak-EWMA over the same endpoints.  A pick is one hash of the key and one
binary search: O(log points).
"""

from __future__ import annotations

import hashlib
import random
from bisect import bisect_left
from collections.abc import Callable
from typing import TypeVar

from finpy.balancer.base import Balancer
from finpy.balancer.ewma import DEFAULT_DECAY, P2CPeakEwma
from finpy.balancer.panic import DEFAULT_PANIC_THRESHOLD
from finpy.clock import SYSTEM_CLOCK, Clock
from finpy.context import current_request_key
from finpy.endpoint import Endpoint
from finpy.errors import ConfigurationError
from finpy.service import Status

__all__ = ["RingHash", "hash_key"]

Req = TypeVar("Req")
Rep = TypeVar("Rep")

_OPEN = Status.OPEN
_MAX_WALK = 256


def hash_key(key: str | bytes) -> int:
    """The ring position (64-bit) of a request key; the same in every process."""
    data = key.encode() if isinstance(key, str) else key
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")


def _points(name: bytes, count: int) -> list[int]:
    """``count`` ring positions for one endpoint (four per 256-bit digest)."""
    out: list[int] = []
    i = 0
    while len(out) < count:
        d = hashlib.blake2b(name + b"#" + str(i).encode(), digest_size=32).digest()
        for k in range(0, 32, 8):
            out.append(int.from_bytes(d[k : k + 8], "big"))
        i += 1
    del out[count:]
    return out


class RingHash(Balancer[Req, Rep]):
    """Consistent hashing on :func:`finpy.current_request_key`; P2C peak-EWMA without a key.

    Args:
        replicas: ring points per unit of weight (100).
        max_points: cap on the ring size (65,536).
        key: where the request key comes from (default: the request context).
        decay, clock: for the keyless fallback (P2C peak-EWMA).
        rng, panic_threshold: as for every balancer.
    """

    def __init__(
        self,
        *,
        replicas: int = 100,
        max_points: int = 65536,
        key: Callable[[], str | bytes | None] = current_request_key,
        decay: float = DEFAULT_DECAY,
        clock: Clock = SYSTEM_CLOCK,
        rng: random.Random | None = None,
        panic_threshold: float = DEFAULT_PANIC_THRESHOLD,
    ) -> None:
        super().__init__(rng=rng, panic_threshold=panic_threshold)
        for what, v in (("replicas", replicas), ("max_points", max_points)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigurationError(f"ring hash {what} must be an integer >= 1, got {v!r}")
        if not callable(key):
            raise ConfigurationError(f"ring hash key must be a callable, got {key!r}")
        self.replicas = replicas
        self.max_points = max_points
        self._key = key
        self._hashes: list[int] = []
        self._owners: list[int] = []
        self.fallback: P2CPeakEwma[Req, Rep] = P2CPeakEwma(
            decay=decay, clock=clock, rng=self.rng, panic_threshold=panic_threshold
        )
        # The fallback shares this balancer's health gauge: one count, one panic state.
        self.fallback.health = self.health
        self.keyed_picks = 0

    def _on_update(self) -> None:
        eps = self.endpoints
        self.fallback.update(eps)
        total_weight = sum(e.address.weight for e in eps)
        scale = 1.0
        if total_weight * self.replicas > self.max_points:
            scale = self.max_points / (total_weight * self.replicas)
        ring: list[tuple[int, int]] = []
        for idx, e in enumerate(eps):
            count = max(1, round(self.replicas * e.address.weight * scale))
            name = f"{e.address.host}:{e.address.port}".encode()
            ring.extend((h, idx) for h in _points(name, count))
        ring.sort()
        self._hashes = [h for h, _ in ring]
        self._owners = [i for _, i in ring]

    def pick(self) -> Endpoint[Req, Rep]:
        key = self._key()
        if key is None:
            return self.fallback.pick()
        eps = self.endpoints
        n = len(eps)
        if n < 2:
            if n == 0:
                raise self._no_endpoints()
            return eps[0]
        self.keyed_picks += 1
        panic = self.health.tick(eps)
        hashes = self._hashes
        owners = self._owners
        size = len(hashes)
        at = bisect_left(hashes, hash_key(key))
        if at == size:
            at = 0
        ep = eps[owners[at]]
        if panic or ep.status is _OPEN:
            return ep
        for step in range(1, min(size, _MAX_WALK)):
            other = eps[owners[(at + step) % size]]
            if other is not ep and other.status is _OPEN:
                return other
        self.health.refresh(eps)
        return ep

    def owner(self, key: str | bytes) -> Endpoint[Req, Rep]:
        """The endpoint that owns ``key`` on the ring, ignoring health."""
        if not self._hashes:
            raise self._no_endpoints()
        at = bisect_left(self._hashes, hash_key(key))
        return self.endpoints[self._owners[at % len(self._hashes)]]

    @property
    def points(self) -> int:
        """Points on the ring."""
        return len(self._hashes)

    def __repr__(self) -> str:
        return f"RingHash(endpoints={len(self.endpoints)}, points={len(self._hashes)})"
