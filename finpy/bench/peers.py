"""The clients under test: finpy and the peers Python users use today.

Every client gets the same addresses, the same request (a unary
``Echo``) and the same deadline per request, and is built fresh for every
run.  Each one describes its own configuration in words, printed in the
report, so that what ran is never in doubt:

* ``plain`` — ``grpc.aio`` with the ``round_robin`` policy over the addresses
  (``ipv4:`` target, service config ``loadBalancingConfig``);
* ``grpc-retry`` — the same, plus gRPC's service-config ``retryPolicy``
  (maxAttempts 3, UNAVAILABLE and RESOURCE_EXHAUSTED retryable, exponential
  backoff 10 ms..200 ms) and ``retryThrottling`` (maxTokens 10, tokenRatio 0.1);
* ``tenacity`` — ``plain`` wrapped in tenacity: 3 attempts, exponential
  backoff with jitter, on UNAVAILABLE and RESOURCE_EXHAUSTED, each attempt
  given what is left of the deadline;
* ``finpy`` — ``finpy_protocols.grpc.Channel`` with its defaults plus the
  opt-ins of the scenario's :class:`~finpy.bench.scenarios.FinpyOptions`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
import grpc.aio

from finpy.bench.discovery import POLL_INTERVAL, AddressFile
from finpy.bench.scenarios import FinpyOptions
from finpy.errors import ConfigurationError
from finpy.method import MethodConfig
from finpy.testing.echo import EchoReply, EchoRequest

__all__ = [
    "ECHO_SERVICE",
    "PEERS",
    "FinpyPeer",
    "GrpcRetryPeer",
    "PeerClient",
    "PeerContext",
    "PlainPeer",
    "TenacityPeer",
    "finpy_channel_options",
    "make_peer",
    "parse_peers",
]

ECHO_SERVICE = "finpy.testing.echo.Echo"
RETRYABLE = ("UNAVAILABLE", "RESOURCE_EXHAUSTED")


@dataclass(frozen=True)
class PeerContext:
    """What a client under test is built from."""

    addresses: Sequence[str]
    """``host:port`` of every backend."""
    finpy: FinpyOptions = dataclasses.field(default_factory=FinpyOptions)
    discovery: AddressFile | None = None
    """For finpy: an address file the bench can break (discovery scenarios); else a static target."""


class PeerClient(ABC):
    """One client under test: ``await client.call(timeout)``, then ``aclose()``."""

    name: str = ""

    @property
    @abstractmethod
    def config(self) -> str:
        """The configuration, in words."""

    @abstractmethod
    async def call(self, timeout: float) -> object:
        """One logical Echo request with a deadline of ``timeout`` seconds."""

    async def warm_up(self, calls: int = 20, timeout: float = 1.0) -> None:
        """Open connections with a few calls whose outcomes are ignored."""
        await asyncio.gather(*(self.call(timeout) for _ in range(calls)), return_exceptions=True)

    def begin_run(self) -> None:  # noqa: B027 - optional hook, nothing to do by default
        """Called just before the measured load (after the warm-up)."""

    def run_notes(self) -> list[str]:
        """What the client reports about itself for the measured run (default: nothing)."""
        return []

    @abstractmethod
    async def aclose(self) -> None: ...

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config})"


def echo_method(channel: grpc.aio.Channel) -> Any:
    """``EchoStub(channel).Echo``, made the way the generated stub makes it (but typed)."""
    ch: Any = channel  # grpc-stubs does not know _registered_method yet
    return ch.unary_unary(
        f"/{ECHO_SERVICE}/Echo",
        request_serializer=EchoRequest.SerializeToString,
        response_deserializer=EchoReply.FromString,
        _registered_method=True,
    )


def _ipv4_target(addresses: Sequence[str]) -> str:
    return "ipv4:" + ",".join(addresses)


def service_config(retries: bool) -> dict[str, Any]:
    """The gRPC service config of the ``plain`` (``retries=False``) and ``grpc-retry`` peers."""
    config: dict[str, Any] = {"loadBalancingConfig": [{"round_robin": {}}]}
    if retries:
        config["methodConfig"] = [
            {
                "name": [{"service": ECHO_SERVICE}],
                "retryPolicy": {
                    "maxAttempts": 3,
                    "initialBackoff": "0.01s",
                    "maxBackoff": "0.2s",
                    "backoffMultiplier": 2,
                    "retryableStatusCodes": list(RETRYABLE),
                },
            }
        ]
        config["retryThrottling"] = {"maxTokens": 10, "tokenRatio": 0.1}
    return config


class PlainPeer(PeerClient):
    """``grpc.aio`` with ``round_robin`` (and, in the subclass, service-config retries)."""

    name = "plain"
    retries = False

    def __init__(self, ctx: PeerContext) -> None:
        self._target = _ipv4_target(ctx.addresses)
        self._service_config = service_config(self.retries)
        self.channel = grpc.aio.insecure_channel(
            self._target,
            options=[("grpc.service_config", json.dumps(self._service_config))],
        )
        self._echo = echo_method(self.channel)
        self._request = EchoRequest(message="bench")

    @property
    def config(self) -> str:
        return f"grpc.aio.insecure_channel({self._target[:24]}..., service_config={json.dumps(self._service_config)})"

    async def call(self, timeout: float) -> object:
        return await self._echo(self._request, timeout=timeout)

    async def aclose(self) -> None:
        await self.channel.close(None)


class GrpcRetryPeer(PlainPeer):
    """``round_robin`` plus gRPC service-config ``retryPolicy`` and ``retryThrottling``."""

    name = "grpc-retry"
    retries = True


def _retryable(error: BaseException) -> bool:
    return isinstance(error, grpc.aio.AioRpcError) and error.code().name in RETRYABLE


class TenacityPeer(PlainPeer):
    """``round_robin`` wrapped in tenacity: 3 attempts, exponential backoff with jitter."""

    name = "tenacity"

    def __init__(self, ctx: PeerContext) -> None:
        super().__init__(ctx)
        import tenacity

        self._tenacity = tenacity
        # 10 ms doubling up to 200 ms, plus up to 10 ms of jitter ("initial" became
        # "multiplier" in tenacity 9.1)
        params = inspect.signature(tenacity.wait_exponential_jitter).parameters
        first = "multiplier" if "multiplier" in params else "initial"
        self._wait = tenacity.wait_exponential_jitter(**{first: 0.01}, max=0.2, jitter=0.01)
        self._retry = tenacity.retry_if_exception(_retryable)

    @property
    def config(self) -> str:
        return (
            super().config + "; tenacity.AsyncRetrying(stop=stop_after_attempt(3) | "
            "stop_after_delay(deadline), wait=wait_exponential_jitter(0.01 doubling, max=0.2, "
            "jitter=0.01), retry on UNAVAILABLE/RESOURCE_EXHAUSTED, reraise=True); "
            "each attempt gets the time left of the deadline"
        )

    async def call(self, timeout: float) -> object:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        echo, request = self._echo, self._request
        t = self._tenacity

        async def attempt() -> object:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise asyncio.TimeoutError("deadline passed during backoff")
            return await echo(request, timeout=remaining)

        retrying = t.AsyncRetrying(
            stop=t.stop_after_attempt(3) | t.stop_after_delay(timeout),
            wait=self._wait,
            retry=self._retry,
            reraise=True,
        )
        return await retrying(attempt)


def finpy_channel_options(
    options: FinpyOptions, timeout: float
) -> tuple[dict[str, Any], list[str]]:
    """``Channel`` keyword arguments for ``options``, and notes on what could not be applied.

    Hedging is applied only if the installed finpy's :class:`MethodConfig` has a
    hedging field; otherwise the note says it was requested but is not available.
    """
    notes: list[str] = []
    method: dict[str, Any] = {}
    if options.idempotent:
        method["idempotent"] = True
    if options.hedge:
        names = {f.name for f in dataclasses.fields(MethodConfig)}
        field = next((n for n in ("hedge", "hedging") if n in names), None)
        if field is None:
            notes.append("hedging requested, not available in this finpy (issue 4)")
        else:
            method[field] = True
    kwargs: dict[str, Any] = {"timeout": timeout}
    if method:
        kwargs["methods"] = {"Echo": MethodConfig(**method)}
    return kwargs, notes


class FinpyPeer(PeerClient):
    """``finpy_protocols.grpc.Channel`` with defaults plus the scenario's opt-ins."""

    name = "finpy"

    def __init__(self, ctx: PeerContext, timeout: float = 1.0) -> None:
        from finpy_protocols.grpc import Channel

        kwargs, self.notes = finpy_channel_options(ctx.finpy, timeout)
        self._kwargs = kwargs
        if ctx.discovery is not None:
            self._target_kind = (
                f"file:///... polled every {POLL_INTERVAL:g}s by finpy's file resolver"
            )
            self.channel = Channel(
                ctx.discovery.target, label="bench", registry=ctx.discovery.registry(), **kwargs
            )
        else:
            self._target_kind = "static:///..."
            target = "static:///" + ",".join(ctx.addresses)
            self.channel = Channel(target, label="bench", **kwargs)
        self._echo = echo_method(self.channel)
        self._request = EchoRequest(message="bench")

    @property
    def config(self) -> str:
        client = self.channel.client
        args = ", ".join(f"{k}={_describe(v)}" for k, v in sorted(self._kwargs.items()))
        text = (
            f"Channel({self._target_kind}, {args}); client stack: "
            f"{' -> '.join(client.stack.roles)}; endpoint stack: "
            f"{' -> '.join(client.endpoint_stack.roles)}; balancer: "
            f"{_balancer_name(self.channel)}"
        )
        return text + "".join(f"; {n}" for n in self.notes)

    async def call(self, timeout: float) -> object:
        return await self._echo(self._request, timeout=timeout)

    def _retry_counts(self) -> dict[str, int]:
        retries = getattr(self.channel.client.statistics(), "retries", None)
        if retries is None:
            return {}
        return {
            name: int(getattr(retries, name, 0))
            for name in ("retries", "requeues", "hedges_sent", "hedges_won", "budget_exhausted")
        }

    def begin_run(self) -> None:
        self._before = self._retry_counts()

    def run_notes(self) -> list[str]:
        """finpy's own account of the run: retries, hedges, budget refusals, discovery."""
        notes = []
        after = self._retry_counts()
        before = getattr(self, "_before", {})
        delta = {k: v - before.get(k, 0) for k, v in after.items()}
        if any(delta.values()):
            notes.append(
                "retry layer: "
                + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in delta.items() if v)
            )
        stats = getattr(self.channel.client.resolution, "statistics", None)
        if callable(stats):
            d = stats()
            failures = getattr(d, "failures", 0)
            empty = getattr(d, "rejected_empty", 0)
            malformed = getattr(d, "rejected_malformed", 0)
            if failures or empty or malformed:
                notes.append(
                    f"discovery guard: {failures} failed, {malformed} malformed and "
                    f"{empty} empty updates, last known good set kept"
                )
        return notes

    async def aclose(self) -> None:
        await self.channel.close()


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_describe(v)}" for k, v in value.items()) + "}"
    if isinstance(value, MethodConfig):
        set_fields = {
            f.name: getattr(value, f.name)
            for f in dataclasses.fields(value)
            if getattr(value, f.name) is not None
        }
        return "MethodConfig(" + ", ".join(f"{k}={v!r}" for k, v in set_fields.items()) + ")"
    return repr(value)


def _balancer_name(channel: Any) -> str:
    from finpy.client import BalancerFactory

    make = channel.params[BalancerFactory].make
    return getattr(make, "__name__", repr(make))


#: Client factories by peer name, in report order.
PEERS: dict[str, Callable[[PeerContext], PeerClient]] = {
    "plain": PlainPeer,
    "grpc-retry": GrpcRetryPeer,
    "tenacity": TenacityPeer,
    "finpy": FinpyPeer,
}


def parse_peers(spec: str | Sequence[str]) -> tuple[str, ...]:
    """``"plain,finpy"`` (or a list) -> known peer names in report order; errors name the bad one."""
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    names = [i.strip().lower().replace("_", "-") for i in items if i.strip()]
    for n in names:
        if n not in PEERS:
            raise ConfigurationError(f"unknown peer {n!r} (known: {', '.join(PEERS)})")
    if not names:
        raise ConfigurationError(f"no peers selected in {spec!r}")
    return tuple(p for p in PEERS if p in names)


def make_peer(name: str, ctx: PeerContext, timeout: float = 1.0) -> PeerClient:
    """A fresh client of peer ``name`` (must run inside the event loop)."""
    if name == "finpy":
        return FinpyPeer(ctx, timeout)
    try:
        return PEERS[name](ctx)
    except KeyError:
        raise ConfigurationError(f"unknown peer {name!r} (known: {', '.join(PEERS)})") from None
