"""The clients under test: configured as documented, and doing what they claim on real servers."""

from __future__ import annotations

import grpc
import pytest

import finpy
from finpy.bench.backends import BackendProcess
from finpy.bench.peers import (
    PEERS,
    FinpyPeer,
    PeerContext,
    finpy_channel_options,
    make_peer,
    parse_peers,
    service_config,
)
from finpy.bench.scenarios import FinpyOptions
from finpy.method import MethodConfig


def test_plain_service_config_is_round_robin_only() -> None:
    """plain: round_robin and nothing else (no retry policy, no throttling)."""
    assert service_config(retries=False) == {"loadBalancingConfig": [{"round_robin": {}}]}


def test_grpc_retry_service_config_matches_the_issue() -> None:
    """grpc-retry: maxAttempts 3, UNAVAILABLE and RESOURCE_EXHAUSTED retryable, throttled."""
    config = service_config(retries=True)
    (method,) = config["methodConfig"]
    assert method["name"] == [{"service": "finpy.testing.echo.Echo"}]
    policy = method["retryPolicy"]
    assert policy["maxAttempts"] == 3
    assert policy["retryableStatusCodes"] == ["UNAVAILABLE", "RESOURCE_EXHAUSTED"]
    assert config["retryThrottling"] == {"maxTokens": 10, "tokenRatio": 0.1}
    assert config["loadBalancingConfig"] == [{"round_robin": {}}]


def test_finpy_options_add_only_the_careful_opt_ins() -> None:
    """finpy gets the deadline and Echo marked idempotent; hedging only when asked."""
    kwargs, notes = finpy_channel_options(FinpyOptions(), 0.5)
    assert kwargs == {"timeout": 0.5, "methods": {"Echo": MethodConfig(idempotent=True)}}
    assert notes == []
    kwargs, notes = finpy_channel_options(FinpyOptions(idempotent=False), 0.5)
    assert kwargs == {"timeout": 0.5}


def test_hedging_is_applied_when_finpy_has_it_and_noted_when_not() -> None:
    """The heavy-tail opt-in becomes MethodConfig(hedge=True) or an honest note."""
    kwargs, notes = finpy_channel_options(FinpyOptions(hedge=True), 1.0)
    fields = set(MethodConfig.__dataclass_fields__)
    if "hedge" in fields:
        assert kwargs["methods"]["Echo"].hedge is True and notes == []
    else:
        assert notes == ["hedging requested, not available in this finpy (issue 4)"]


def test_peer_lists_are_parsed_in_report_order_with_bad_names_named() -> None:
    """'finpy,plain' runs plain first; grpc_retry is grpc-retry; unknown names are errors."""
    assert parse_peers("finpy, plain") == ("plain", "finpy")
    assert parse_peers(["grpc_retry"]) == ("grpc-retry",)
    with pytest.raises(finpy.ConfigurationError, match="'envoy'"):
        parse_peers("plain,envoy")
    with pytest.raises(finpy.ConfigurationError, match="no peers"):
        parse_peers(" , ")
    with pytest.raises(finpy.ConfigurationError, match="'nope'"):
        make_peer("nope", PeerContext(["127.0.0.1:1"]))


@pytest.mark.parametrize("name", list(PEERS))
async def test_every_peer_calls_a_real_backend_and_describes_itself(name: str) -> None:
    """Each client makes a successful Echo call and prints a configuration naming its policy."""
    async with BackendProcess(2) as backends:
        client = make_peer(name, PeerContext(backends.addresses), 1.0)
        try:
            reply = await client.call(1.0)
            assert reply.server in ("backend-0", "backend-1")  # type: ignore[attr-defined]
        finally:
            await client.aclose()
    expected = {
        "plain": "round_robin",
        "grpc-retry": "retryThrottling",
        "tenacity": "stop_after_attempt(3)",
        "finpy": "client stack: ",
    }[name]
    assert expected in client.config
    if isinstance(client, FinpyPeer):
        assert "idempotent=True" in client.config and "deadline" in client.config


async def test_grpc_retry_peer_really_retries_on_another_backend() -> None:
    """With one failing backend, grpc-retry's calls all succeed and the failures were retried."""
    async with BackendProcess(2) as backends:
        await backends.set(0, {"error_code": "UNAVAILABLE"})
        client = make_peer("grpc-retry", PeerContext(backends.addresses), 1.0)
        try:
            for _ in range(4):
                await client.call(1.0)
        except grpc.aio.AioRpcError as e:  # pragma: no cover - the failure we test against
            pytest.fail(f"a call was not retried: {e.code()}")
        finally:
            await client.aclose()
        counters = await backends.counters()
    assert counters.attempts[0] >= 1  # round_robin sent some first attempts to the bad one
    assert counters.attempts[1] == 4  # and every call was answered by the good one
