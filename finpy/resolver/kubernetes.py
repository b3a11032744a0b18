"""The Kubernetes resolver: ready endpoints of a Service, from watched EndpointSlices.

Target: ``kubernetes:///users.prod:grpc`` — service ``users`` in namespace
``prod``, port named ``grpc`` (or a number); the namespace defaults to the
pod's own (or ``default``).  ``kubernetes://10.0.0.1:6443/users.prod:grpc``
names the API server; otherwise the in-cluster one is used
(``$KUBERNETES_SERVICE_HOST``, the service-account token and CA).

How it follows the API server: list the service's EndpointSlices (label
``kubernetes.io/service-name``), publish, then watch from the list's
``resourceVersion`` with bookmarks, publishing after each event and
remembering the latest version; a watch that ends (the server's timeout, a
broken connection) resumes from that version.  ``410 Gone`` — as an HTTP
status or an ``ERROR`` event — means the version was compacted: list again.

Only endpoints whose ``conditions.ready`` is not ``false`` are used (a
missing or ``null`` condition counts as ready, as the API documents);
``endpoints: null``, ``ports: null`` and ``addresses: null`` are handled as
empty.  A slice that is not what the API promises rejects the update, naming
the slice.

The API server cannot run in finpy's CI: the tests use a protocol fake
(``finpy.testing.servers.FakeKubernetes``) with list/watch, resourceVersion,
bookmarks and 410 Gone.  Needs httpx (``pip install 'finpy[kubernetes]'``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from finpy.address import Address
from finpy.clock import SYSTEM_CLOCK, Clock
from finpy.errors import ConfigurationError, TargetError
from finpy.resolver.background import Backoff, background_resolution
from finpy.resolver.guard import MalformedUpdateError
from finpy.resolver.resolution import Resolution
from finpy.resolver.state import Bound, Failed
from finpy.resolver.target import Target

__all__ = ["KubernetesResolver", "parse_kubernetes_target", "slice_addresses"]

_SA = Path("/var/run/secrets/kubernetes.io/serviceaccount")


class _Gone(Exception):
    """The resource version is too old (410): list again."""


def _default_namespace() -> str:
    try:
        return (_SA / "namespace").read_text().strip() or "default"
    except OSError:
        return "default"


def parse_kubernetes_target(target: Target) -> tuple[str, str, str | int]:
    """``(service, namespace, port name or number)`` of ``kubernetes:///svc[.ns]:port``."""
    name, sep, port = target.endpoint.rpartition(":")
    if not sep or not name or not port:
        raise TargetError(
            f"kubernetes target {target.raw!r} needs a port: 'kubernetes:///service.namespace:port'"
        )
    service, _, namespace = name.partition(".")
    for what, value in (("service", service), ("namespace", namespace or "x")):
        if not value.replace("-", "").isalnum() or value != value.lower():
            raise TargetError(f"invalid {what} name {value!r} in {target.raw!r}")
    if target.authority:
        try:
            Address.parse(target.authority)
        except ConfigurationError as e:
            raise TargetError(f"invalid API server in {target.raw!r}: {e}") from None
    port_value: str | int = int(port) if port.isdigit() else port
    if isinstance(port_value, int) and not 0 < port_value < 65536:
        raise TargetError(f"invalid port {port!r} in {target.raw!r}")
    return service, namespace or _default_namespace(), port_value


def _slice_port(slice_: Mapping[str, Any], port: str | int, where: str) -> int | None:
    ports = slice_.get("ports") or []
    if not isinstance(ports, list):
        raise MalformedUpdateError(f"{where}: 'ports' must be a list, got {ports!r:.60}")
    for p in ports:
        if not isinstance(p, dict):
            raise MalformedUpdateError(f"{where}: bad port entry {p!r:.60}")
        number = p.get("port")
        if isinstance(port, str) and p.get("name") == port:
            if number is None:
                return None
            if isinstance(number, bool) or not isinstance(number, int):
                raise MalformedUpdateError(f"{where}: bad port number {number!r}")
            return number
        if isinstance(port, int) and number == port:
            return port
    return port if isinstance(port, int) and not ports else None


def slice_addresses(slices: Mapping[str, Any], port: str | int) -> list[Address]:
    """Ready addresses of ``slices`` (name -> EndpointSlice object) for ``port``."""
    out: dict[tuple[str, int], Address] = {}
    for name in sorted(slices):
        s = slices[name]
        where = f"EndpointSlice {name}"
        if not isinstance(s, dict):
            raise MalformedUpdateError(f"{where}: not an object")
        number = _slice_port(s, port, where)
        if number is None:
            continue
        endpoints = s.get("endpoints") or []
        if not isinstance(endpoints, list):
            raise MalformedUpdateError(f"{where}: 'endpoints' must be a list")
        for ep in endpoints:
            if not isinstance(ep, dict):
                raise MalformedUpdateError(f"{where}: bad endpoint {ep!r:.60}")
            conditions = ep.get("conditions") or {}
            if conditions.get("ready") is False:
                continue
            md: dict[str, str] = {}
            for key, src in (("zone", "zone"), ("node", "nodeName")):
                if isinstance(ep.get(src), str):
                    md[key] = ep[src]
            ref = ep.get("targetRef") or {}
            if isinstance(ref, dict) and isinstance(ref.get("name"), str):
                md["pod"] = ref["name"]
            for ip in ep.get("addresses") or []:
                try:
                    addr = Address(ip, number, metadata=md)
                except ConfigurationError as e:
                    raise MalformedUpdateError(f"{where}: {e}") from None
                out.setdefault(addr.key, addr)
    return list(out.values())


class KubernetesResolver:
    """Resolves ``kubernetes:///service.namespace:port`` from EndpointSlices.

    Args:
        api_server: the API server URL (default: the target's authority over
            HTTPS, else the in-cluster ``https://$KUBERNETES_SERVICE_HOST:PORT``).
        token: bearer token (default: the service-account token, if present).
        ca_file: CA bundle for the API server (default: the service-account CA).
        watch_timeout: seconds after which the API server ends a watch (it is resumed).
        transport: an httpx transport (tests, proxies).
    """

    scheme = "kubernetes"

    def __init__(
        self,
        *,
        api_server: str | None = None,
        token: str | None = None,
        ca_file: str | None = None,
        watch_timeout: int = 300,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        if (
            isinstance(watch_timeout, bool)
            or not isinstance(watch_timeout, int)
            or watch_timeout < 1
        ):
            raise ConfigurationError(
                f"watch_timeout must be a positive integer, got {watch_timeout!r}"
            )
        self.api_server = api_server
        self._token = token
        self._ca_file = ca_file
        self.watch_timeout = watch_timeout
        self._transport = transport
        self._clock = clock

    def validate(self, target: Target) -> None:
        parse_kubernetes_target(target)

    def _base_url(self, target: Target) -> str:
        if self.api_server:
            return self.api_server.rstrip("/")
        if target.authority:
            return f"https://{target.authority}"
        host, port = (
            os.environ.get("KUBERNETES_SERVICE_HOST"),
            os.environ.get("KUBERNETES_SERVICE_PORT", "443"),
        )
        if not host:
            raise ConfigurationError(
                f"{target.raw!r}: not running in a cluster; give the API server "
                "('kubernetes://host:port/...') or KubernetesResolver(api_server=...)"
            )
        return f"https://{host}:{port}"

    def _client(self, target: Target) -> httpx.AsyncClient:
        token = self._token
        if token is None and (_SA / "token").is_file():
            token = (_SA / "token").read_text().strip()
        ca = self._ca_file or (str(_SA / "ca.crt") if (_SA / "ca.crt").is_file() else None)
        return httpx.AsyncClient(
            base_url=self._base_url(target),
            headers={"Authorization": f"Bearer {token}"} if token else {},
            verify=ca if ca else True,
            timeout=httpx.Timeout(10.0, read=self.watch_timeout + 30.0),
            transport=self._transport,
        )

    def resolve(self, target: Target) -> Resolution:
        service, namespace, port = parse_kubernetes_target(target)
        http = self._client(target)
        path = f"/apis/discovery.k8s.io/v1/namespaces/{namespace}/endpointslices"
        selector = {"labelSelector": f"kubernetes.io/service-name={service}"}

        def publish(res: Resolution, slices: Mapping[str, Any]) -> None:
            try:
                res.publish(Bound(slice_addresses(slices, port)))
            except MalformedUpdateError as e:
                res.publish(Failed(e))

        async def follow(res: Resolution) -> None:
            backoff = Backoff(0.5, 30.0)
            rv: str | None = None
            slices: dict[str, Any] = {}
            while True:
                try:
                    if rv is None:
                        r = await http.get(path, params=selector)
                        if r.status_code != 200:
                            raise ConnectionError(f"API server answered HTTP {r.status_code}")
                        doc = r.json()
                        items = doc.get("items") or []
                        slices = {i["metadata"]["name"]: i for i in items}
                        rv = str(doc["metadata"]["resourceVersion"])
                        publish(res, slices)
                    rv = await self._watch(http, path, selector, rv, slices, res, publish)
                    backoff.reset()
                except _Gone:
                    rv = None
                except (httpx.HTTPError, ConnectionError, ValueError, KeyError, TypeError) as e:
                    res.publish(Failed(e))
                    await self._clock.sleep(backoff.next())

        return background_resolution(target.raw, follow, clock=self._clock, cleanup=http.aclose)

    async def _watch(
        self,
        http: httpx.AsyncClient,
        path: str,
        selector: dict[str, str],
        rv: str,
        slices: dict[str, Any],
        res: Resolution,
        publish: Any,
    ) -> str:
        params = {
            **selector,
            "watch": "true",
            "resourceVersion": rv,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(self.watch_timeout),
        }
        async with http.stream("GET", path, params=params) as r:
            if r.status_code == 410:
                raise _Gone()
            if r.status_code != 200:
                raise ConnectionError(f"API server answered HTTP {r.status_code} to a watch")
            async for line in r.aiter_lines():
                if not line.strip():
                    continue
                event = json.loads(line)
                kind, obj = event.get("type"), event.get("object") or {}
                if kind == "ERROR":
                    if obj.get("code") == 410:
                        raise _Gone()
                    raise ConnectionError(f"watch error: {obj.get('message', obj)!r}")
                rv = str(obj["metadata"]["resourceVersion"])
                if kind == "BOOKMARK":
                    continue
                name = obj["metadata"]["name"]
                if kind == "DELETED":
                    slices.pop(name, None)
                else:
                    slices[name] = obj
                publish(res, slices)
        return rv

    def __repr__(self) -> str:
        return f"KubernetesResolver(api_server={self.api_server!r})"
