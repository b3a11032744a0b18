"""A faithful protocol fake of Consul's health API, for the Consul resolver's tests.

Consul cannot run here, so this fake speaks the part of its HTTP API the
resolver uses, with the semantics that matter:

* ``GET /v1/health/service/<name>`` returns the service's instances as
  ``[{"Node": {...}, "Service": {...}, "Checks": [...]}]``, with
  ``X-Consul-Index``; ``?passing`` keeps only instances whose checks all pass;
  ``?tag=`` filters by tag; ``?dc=`` must name the fake's datacenter.
* **Blocking queries**: with ``?index=N`` the request is held until the
  service's index is greater than ``N`` or ``?wait=`` (``"10s"``, ``"500ms"``, ``"1m"``; default
  5 min, at most 10 min) runs out, then answers with the current state and
  index — the same index when nothing changed.
* The index only grows, except that :meth:`FakeConsul.reset_index` moves it
  back, as a restored snapshot can: a query blocked on a higher index then
  waits out its ``wait`` and answers with the lower index (clients must reset).
* :meth:`FakeConsul.fail_with` makes every answer an HTTP error (e.g. 500, a
  leader election); ``stop()``/``start()`` refuse connections in between.

What it leaves out: ACL tokens, consistency modes, ``near``, ``filter``,
catalog endpoints, and the up-to-``wait/16`` jitter Consul adds to waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from dataclasses import dataclass, field
from typing import Any

from finpy.testing.servers._http_fake import (
    FakeHttpServer,
    HttpRequest,
    HttpResponse,
    json_response,
)

__all__ = ["ConsulInstance", "FakeConsul", "parse_wait"]

_WAIT = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)?$")


def parse_wait(text: str) -> float:
    """Consul's ``wait`` duration in seconds (default 5 min, capped at 10 min)."""
    if not text:
        return 300.0
    m = _WAIT.match(text)
    if not m:
        raise ValueError(f"invalid wait {text!r}")
    n = float(m.group(1))
    unit = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}[m.group(2)]
    return min(n * unit, 600.0)


@dataclass
class ConsulInstance:
    """One registered instance of a service and the status of its health check."""

    id: str
    address: str
    port: int
    status: str = "passing"  # passing | warning | critical
    node: str = "node-1"
    node_address: str = "127.0.0.1"
    weight: int = 1
    tags: list[str] = field(default_factory=list)
    meta: dict[str, str] = field(default_factory=dict)

    def entry(self, service: str, dc: str) -> dict[str, Any]:
        return {
            "Node": {
                "ID": f"id-{self.node}",
                "Node": self.node,
                "Address": self.node_address,
                "Datacenter": dc,
                "Meta": {},
            },
            "Service": {
                "ID": self.id,
                "Service": service,
                "Tags": list(self.tags),
                "Address": self.address,
                "Port": self.port,
                "Meta": dict(self.meta),
                "Weights": {"Passing": self.weight, "Warning": 1},
            },
            "Checks": [
                {"Node": self.node, "CheckID": "serfHealth", "Status": "passing"},
                {
                    "Node": self.node,
                    "CheckID": f"service:{self.id}",
                    "ServiceID": self.id,
                    "Status": self.status,
                },
            ],
        }


class FakeConsul(FakeHttpServer):
    """The fake agent: ``set_service(name, instances)`` changes what it serves."""

    name = "consul-fake"

    def __init__(self, datacenter: str = "dc1") -> None:
        super().__init__()
        self.datacenter = datacenter
        self.index = 1
        self._services: dict[str, list[ConsulInstance]] = {}
        self._service_index: dict[str, int] = {}
        self._changed: asyncio.Condition | None = None
        self._error: tuple[int, str] | None = None
        self.blocking_queries = 0

    @property
    def address(self) -> str:
        """``127.0.0.1:port`` for ``consul://127.0.0.1:port/service`` targets."""
        return f"127.0.0.1:{self.port}"

    def _cond(self) -> asyncio.Condition:
        if self._changed is None:
            self._changed = asyncio.Condition()
        return self._changed

    # -- control (from the test thread) ---------------------------------------------------

    def set_service(self, name: str, instances: list[ConsulInstance]) -> None:
        """Replace the instances of ``name`` (bumps the index, wakes blocked queries)."""

        def change() -> None:
            self.index += 1
            self._services[name] = [ConsulInstance(**vars(i)) for i in instances]
            self._service_index[name] = self.index
            asyncio.get_running_loop().create_task(self._notify())

        self.call(change)

    def reset_index(self, index: int) -> None:
        """Move the index back to ``index`` (a restored snapshot); wakes blocked queries."""

        def change() -> None:
            self.index = index
            self._service_index = {k: min(v, index) for k, v in self._service_index.items()}
            asyncio.get_running_loop().create_task(self._notify())

        self.call(change)

    def fail_with(self, status: int | None, message: str = "No cluster leader") -> None:
        """Answer every request with HTTP ``status`` (``None``: answer normally again)."""

        def change() -> None:
            self._error = None if status is None else (status, message)
            asyncio.get_running_loop().create_task(self._notify())

        self.call(change)

    async def _notify(self) -> None:
        cond = self._cond()
        async with cond:
            cond.notify_all()

    # -- HTTP -----------------------------------------------------------------------------

    def _answer(self, name: str, req: HttpRequest) -> HttpResponse:
        if self._error is not None:
            return HttpResponse(self._error[0], {}, self._error[1].encode())
        index = self._service_index.get(name, self.index)
        instances = self._services.get(name, [])
        if "passing" in req.query and req.query["passing"] not in ("0", "false"):
            instances = [i for i in instances if i.status == "passing"]
        tag = req.query.get("tag")
        if tag:
            instances = [i for i in instances if tag in i.tags]
        body = [i.entry(name, self.datacenter) for i in instances]
        return json_response(body, headers={"X-Consul-Index": str(max(index, 1))})

    async def handle(self, request: HttpRequest) -> HttpResponse:
        prefix = "/v1/health/service/"
        if request.method != "GET" or not request.path.startswith(prefix):
            return HttpResponse(404, {}, b"404 page not found")
        name = request.path[len(prefix) :]
        dc = request.query.get("dc")
        if dc and dc != self.datacenter:
            return HttpResponse(500, {}, f'No path to datacenter "{dc}"'.encode())
        try:
            wait = parse_wait(request.query.get("wait", ""))
            index = int(request.query.get("index", "0") or 0)
        except ValueError as e:
            return HttpResponse(400, {}, str(e).encode())
        if index > 0:
            self.blocking_queries += 1
            cond = self._cond()

            def moved() -> bool:
                return self._error is not None or self._service_index.get(name, self.index) > index

            async with cond:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(cond.wait_for(moved), wait)
        return self._answer(name, request)
