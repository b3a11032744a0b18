"""The DNS resolver: answers to states, TTL refresh on virtual time, real dnsmasq."""

from __future__ import annotations

import asyncio

import dns.exception
import pytest

from finpy.errors import ConfigurationError, TargetError
from finpy.resolver.dns import DnsResolver, Lookup, clamp_ttl, combine
from finpy.resolver.guard import DiscoveryStatistics, GuardedResolution
from finpy.resolver.registry import ResolverRegistry
from finpy.resolver.state import Bound, Failed, Negative, ResolutionState
from finpy.resolver.static import StaticResolver
from finpy.resolver.target import Target
from finpy.testing.servers.dnsmasq import DnsmasqServer
from finpy_protocols.grpc import Channel

from .conftest import Backends, Traffic, bound_to, call, eventually, run_traffic, start_backend


def addrs(state: ResolutionState) -> set[str]:
    assert isinstance(state, Bound), state
    return {a.authority for a in state.addresses}


# -- the pure part -------------------------------------------------------------------------


def test_both_families_are_combined_with_the_smallest_ttl() -> None:
    """A and AAAA answers make one Bound; the refresh follows the smallest TTL."""
    state, ttl = combine("h", 80, [Lookup(("10.0.0.1",), 30.0), Lookup(("::1",), 10.0)])
    assert addrs(state) == {"10.0.0.1:80", "[::1]:80"} and ttl == 10.0


def test_nxdomain_for_both_families_is_negative() -> None:
    """NXDOMAIN for every family means the name does not exist."""
    state, _ = combine("h", 80, [Lookup(nxdomain=True), Lookup(nxdomain=True)])
    assert isinstance(state, Negative) and "NXDOMAIN" in state.reason


def test_name_without_addresses_is_an_empty_binding() -> None:
    """NOERROR with no records binds the empty set (which the guard keeps out)."""
    state, _ = combine("h", 80, [Lookup(), Lookup(nxdomain=True)])
    assert state == Bound([])


def test_query_errors_are_failures_unless_addresses_came_back() -> None:
    """A timed-out family fails the lookup only when no family gave addresses."""
    err = dns.exception.Timeout()  # type: ignore[no-untyped-call]
    state, _ = combine("h", 80, [Lookup(error=err), Lookup()])
    assert isinstance(state, Failed) and state.error is err
    state, _ = combine("h", 80, [Lookup(("10.0.0.1",), 5.0), Lookup(error=err)])
    assert addrs(state) == {"10.0.0.1:80"}


@pytest.mark.parametrize(("ttl", "delay"), [(0, 1.0), (30, 30.0), (86400, 300.0), (None, 1.0)])
def test_ttl_is_clamped(ttl: float | None, delay: float) -> None:
    """TTLs are clamped to [1 s, 5 min] by default."""
    assert clamp_ttl(ttl, 1.0, 300.0) == delay


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("dns://not-an-ip/h:80", "invalid DNS server"),
        ("dns:///h:http", "invalid port"),
        ("dns:///bad..name:80", "invalid host name"),
        ("dns:///a:b:80", "IPv6 hosts need brackets"),
    ],
)
def test_bad_targets_name_the_bad_part(raw: str, message: str) -> None:
    """Bad dns: targets fail validation with a message naming the bad part."""
    with pytest.raises(TargetError, match=message):
        DnsResolver().validate(Target.parse(raw))


def test_bad_options_are_configuration_errors() -> None:
    """TTL bounds and families are validated at construction."""
    with pytest.raises(ConfigurationError, match="max_ttl"):
        DnsResolver(min_ttl=10, max_ttl=1)
    with pytest.raises(ConfigurationError, match="families"):
        DnsResolver(families=("MX",))


async def test_ip_literal_and_default_port_need_no_lookup() -> None:
    """dns:///10.0.0.1 binds at once, on gRPC's default port 443."""
    res = DnsResolver().resolve(Target.parse("dns:///10.0.0.1"))
    assert addrs(res.state) == {"10.0.0.1:443"}
    await res.aclose()


# -- refresh on virtual time ---------------------------------------------------------------


@pytest.mark.looptime
async def test_refresh_follows_ttl_and_backs_off_on_failure() -> None:
    """Queries repeat after the clamped TTL; failures retry with backoff (virtual time)."""
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    answers = [
        Lookup(("10.0.0.1",), 30.0),
        Lookup(("10.0.0.1",), 0.0),
        Lookup(error=TimeoutError("query timed out")),
        Lookup(("10.0.0.2",), 86400.0),
        Lookup(("10.0.0.2",), 5.0),
    ]
    times: list[float] = []

    async def query(name: str, rdtype: str) -> Lookup:
        times.append(round(loop.time() - t0, 3))
        return answers[min(len(times) - 1, len(answers) - 1)]

    res = DnsResolver(families=("A",), query=query).resolve(Target.parse("dns:///svc:80"))
    try:
        await asyncio.wait_for(res.wait_for(bound_to({"10.0.0.2:80"})), 100)
        await asyncio.sleep(400)
        assert times[:3] == [0.0, 30.0, 31.0]  # 30 s TTL, then 0 clamped to 1 s
        assert 31.0 < times[3] <= 31.5  # first retry after a failure: U(0, 0.5]
        assert times[4] == pytest.approx(times[3] + 300.0)  # a day clamped to 5 min
    finally:
        await res.aclose()


# -- a real DNS server ---------------------------------------------------------------------


def quick_registry() -> ResolverRegistry:
    """dns: with short query timeouts so an outage is noticed in about a second."""
    return ResolverRegistry((StaticResolver(), DnsResolver(timeout=0.3, lifetime=0.6)))


async def test_resolves_a_and_aaaa_from_dnsmasq(dnsmasq_server: DnsmasqServer) -> None:
    """A real dnsmasq's A and AAAA records become one bound set."""
    dnsmasq_server.set_records({"svc.finpy.test": ["127.0.0.11", "127.0.0.12", "::1"]})
    target = Target.parse(f"dns://{dnsmasq_server.authority}/svc.finpy.test:5000")
    res = DnsResolver().resolve(target)
    try:
        state = await asyncio.wait_for(res.wait_for(lambda s: isinstance(s, Bound)), 10)
        assert addrs(state) == {"127.0.0.11:5000", "127.0.0.12:5000", "[::1]:5000"}
    finally:
        await res.aclose()


async def test_nxdomain_from_dnsmasq_is_negative(dnsmasq_server: DnsmasqServer) -> None:
    """A name dnsmasq does not know is Negative."""
    res = DnsResolver().resolve(Target.parse(f"dns://{dnsmasq_server.authority}/no.finpy.test:1"))
    try:
        state = await asyncio.wait_for(res.wait_for(lambda s: isinstance(s, Negative)), 10)
        assert isinstance(state, Negative)
    finally:
        await res.aclose()


async def test_dns_outage_costs_no_call_and_recovery_adds_members(
    dnsmasq_server: DnsmasqServer, backends: Backends
) -> None:
    """Stop DNS while calls flow: all succeed; restart it: a new address is used."""
    port = backends[0].port
    dnsmasq_server.set_records({"svc.finpy.test": ["127.0.0.1"]})
    channel = Channel(
        f"dns://{dnsmasq_server.authority}/svc.finpy.test:{port}", registry=quick_registry()
    )
    extra = None
    try:
        assert await call(channel) == "b0"
        res = channel.client.resolution
        assert isinstance(res, GuardedResolution)

        def stats() -> DiscoveryStatistics:
            return res.statistics()

        stop, traffic = asyncio.Event(), Traffic()
        task = asyncio.create_task(run_traffic(channel, stop, traffic))
        dnsmasq_server.stop()
        await eventually(lambda: stats().source_state == "Failed", what="DNS failure seen")
        await eventually(lambda: stats().stale_for > 0.5, what="serving stale for a while")
        ok_during_outage = traffic.ok

        extra = await start_backend("b-extra", "127.0.0.2", port)
        dnsmasq_server.set_records({"svc.finpy.test": ["127.0.0.1", "127.0.0.2"]})
        dnsmasq_server.start()
        await eventually(lambda: "b-extra" in traffic.served_by, what="the new address used")
        stop.set()
        await task
        assert traffic.failed == [] and traffic.ok > ok_during_outage > 0
        assert stats().healthy and stats().failures >= 1
    finally:
        await channel.close()
        if extra is not None:
            await extra.server.stop(None)
