"""TLS and mTLS per endpoint, verified against the logical service name, not the IP."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import grpc.aio
import pytest
import trustme

from finpy_protocols.grpc import Channel

SERVICE_NAME = "users.svc.test"


def _handler() -> grpc.GenericRpcHandler:
    async def who(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        return b"hello " + request

    return grpc.method_handlers_generic_handler(
        "t.Tls", {"Who": grpc.unary_unary_rpc_method_handler(who)}
    )


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


async def _start(creds: grpc.ServerCredentials) -> tuple[grpc.aio.Server, str]:
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((_handler(),))
    port = server.add_secure_port("127.0.0.1:0", creds)
    await server.start()
    return server, f"127.0.0.1:{port}"


@pytest.fixture
async def tls_server(ca: trustme.CA) -> AsyncIterator[str]:
    cert = ca.issue_cert(SERVICE_NAME)
    creds = grpc.ssl_server_credentials(
        [(cert.private_key_pem.bytes(), cert.cert_chain_pems[0].bytes())]
    )
    server, address = await _start(creds)
    yield address
    await server.stop(None)


async def _call(channel: Channel) -> bytes:
    try:
        result: bytes = await channel.unary_unary("/t.Tls/Who")(b"tls", timeout=5)
        return result
    finally:
        await channel.close()


async def test_tls_verifies_the_logical_name_while_dialling_the_ip(
    ca: trustme.CA, tls_server: str
) -> None:
    """A certificate for the logical name is accepted although the endpoint is an IP."""
    creds = grpc.ssl_channel_credentials(root_certificates=ca.cert_pem.bytes())
    channel = Channel(f"static:///{tls_server}", credentials=creds, server_name=SERVICE_NAME)
    assert await _call(channel) == b"hello tls"


async def test_tls_refuses_a_certificate_from_another_ca(tls_server: str) -> None:
    """A server certificate signed by an untrusted CA fails the call (UNAVAILABLE)."""
    other = trustme.CA()
    creds = grpc.ssl_channel_credentials(root_certificates=other.cert_pem.bytes())
    channel = Channel(f"static:///{tls_server}", credentials=creds, server_name=SERVICE_NAME)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await _call(channel)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_tls_refuses_a_certificate_for_another_name(ca: trustme.CA, tls_server: str) -> None:
    """A valid certificate for a different service name fails the call."""
    creds = grpc.ssl_channel_credentials(root_certificates=ca.cert_pem.bytes())
    channel = Channel(f"static:///{tls_server}", credentials=creds, server_name="orders.svc.test")
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await _call(channel)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_mtls_presents_the_client_certificate(ca: trustme.CA) -> None:
    """With mTLS the server accepts a client holding a certificate from its CA, and only that."""
    server_cert = ca.issue_cert(SERVICE_NAME)
    server_creds = grpc.ssl_server_credentials(
        [(server_cert.private_key_pem.bytes(), server_cert.cert_chain_pems[0].bytes())],
        root_certificates=ca.cert_pem.bytes(),
        require_client_auth=True,
    )
    server, address = await _start(server_creds)
    try:
        client_cert = ca.issue_cert("client.test")
        with_cert = grpc.ssl_channel_credentials(
            root_certificates=ca.cert_pem.bytes(),
            private_key=client_cert.private_key_pem.bytes(),
            certificate_chain=client_cert.cert_chain_pems[0].bytes(),
        )
        ok = Channel(f"static:///{address}", credentials=with_cert, server_name=SERVICE_NAME)
        assert await _call(ok) == b"hello tls"

        without = grpc.ssl_channel_credentials(root_certificates=ca.cert_pem.bytes())
        refused = Channel(f"static:///{address}", credentials=without, server_name=SERVICE_NAME)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await _call(refused)
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        await server.stop(None)


def test_logical_name_defaults_to_the_host_of_a_dns_target() -> None:
    """A dns:/srv: target's DNS name is what TLS verifies by default; path-style targets name none."""
    from finpy_protocols.grpc.channel import _logical_name

    assert _logical_name("dns:///users.svc.test:443") == SERVICE_NAME
    assert _logical_name("dns://127.0.0.1:53/users.svc.test:443") == SERVICE_NAME
    assert _logical_name("static:///127.0.0.1:1,127.0.0.2:1") is None
    assert _logical_name("127.0.0.1:1") is None
    assert _logical_name("srv:///_grpc._tcp.users.svc.test") == SERVICE_NAME
    assert _logical_name("zk://127.0.0.1:2181/services/users") is None
