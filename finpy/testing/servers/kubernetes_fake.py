"""A faithful protocol fake of the Kubernetes EndpointSlice API (list and watch).

A Kubernetes API server cannot run here, so this fake speaks the part of the
API the resolver uses, with the semantics that matter:

* ``GET /apis/discovery.k8s.io/v1/namespaces/<ns>/endpointslices
  ?labelSelector=kubernetes.io/service-name=<svc>`` lists the service's
  slices with the list's ``metadata.resourceVersion``;
* the same with ``?watch=true&resourceVersion=RV`` streams newline-delimited
  watch events (``ADDED``/``MODIFIED``/``DELETED``, ``BOOKMARK`` with
  ``allowWatchBookmarks``) for every change after ``RV``, then follows live
  changes; ``timeoutSeconds`` ends the stream, as the API server does;
* resource versions are opaque strings of one global, growing counter; after
  :meth:`FakeKubernetes.compact`, a watch from an older version gets an
  ``ERROR`` event whose object is a ``Status`` with ``code: 410`` (Gone) and
  a list at a too-old version gets HTTP 410;
* slices are stored as given: ``endpoints: null``, ``ports: null``,
  ``addresses: null`` and missing ``conditions`` reach the client unchanged;
* an optional bearer ``token`` is required when set (401 otherwise).

What it leaves out: field selectors, pagination (``limit``/``continue``),
``resourceVersionMatch``, protobuf encoding, RBAC.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from finpy.testing.servers._http_fake import (
    FakeHttpServer,
    HttpRequest,
    HttpResponse,
    json_response,
)

__all__ = ["FakeKubernetes", "endpoint_slice"]

_PREFIX = "/apis/discovery.k8s.io/v1/namespaces/"
_LABEL = "kubernetes.io/service-name"


def endpoint_slice(
    name: str,
    service: str,
    endpoints: list[dict[str, Any]] | None,
    ports: list[dict[str, Any]] | None,
    *,
    namespace: str = "default",
) -> dict[str, Any]:
    """An EndpointSlice object (``endpoints``/``ports`` may be ``None``, as in the API)."""
    return {
        "kind": "EndpointSlice",
        "apiVersion": "discovery.k8s.io/v1",
        "metadata": {"name": name, "namespace": namespace, "labels": {_LABEL: service}},
        "addressType": "IPv4",
        "endpoints": endpoints,
        "ports": ports,
    }


class FakeKubernetes(FakeHttpServer):
    """The fake API server; ``apply(slice)``/``delete(ns, name)`` change it."""

    name = "kubernetes-fake"

    def __init__(self, token: str | None = None) -> None:
        super().__init__()
        self.token = token
        self.rv = 100
        self.compacted = 0  # watches from a version below this get 410 Gone
        self._slices: dict[tuple[str, str], dict[str, Any]] = {}
        self._history: list[tuple[int, int, str, dict[str, Any]]] = []
        self._seq = 0
        self._changed: asyncio.Condition | None = None
        self.watches = 0
        self.lists = 0

    def _cond(self) -> asyncio.Condition:
        if self._changed is None:
            self._changed = asyncio.Condition()
        return self._changed

    # -- control (from the test thread) ---------------------------------------------------

    def apply(self, slice_: dict[str, Any]) -> str:
        """Create or replace a slice; returns its new resourceVersion."""
        doc = json.loads(json.dumps(slice_))
        meta = doc["metadata"]
        key = (meta.get("namespace", "default"), meta["name"])

        def change() -> str:
            self.rv += 1
            meta["resourceVersion"] = str(self.rv)
            kind = "MODIFIED" if key in self._slices else "ADDED"
            self._slices[key] = doc
            self._record(kind, doc)
            asyncio.get_running_loop().create_task(self._notify())
            return str(self.rv)

        result: str = self.call(change)
        return result

    def delete(self, namespace: str, name: str) -> None:
        """Delete a slice (a ``DELETED`` event carrying its last state)."""

        def change() -> None:
            doc = self._slices.pop((namespace, name), None)
            if doc is None:
                return
            self.rv += 1
            gone = json.loads(json.dumps(doc))
            gone["metadata"]["resourceVersion"] = str(self.rv)
            self._record("DELETED", gone)
            asyncio.get_running_loop().create_task(self._notify())

        self.call(change)

    def compact(self) -> None:
        """Forget the event history: older resource versions are now Gone (410)."""

        def change() -> None:
            self.compacted = self.rv
            self._history.clear()

        self.call(change)

    def bookmark(self) -> None:
        """Send a BOOKMARK at the current version to every open watch."""

        def change() -> None:
            self._record("BOOKMARK", {})
            asyncio.get_running_loop().create_task(self._notify())

        self.call(change)

    def _record(self, kind: str, obj: dict[str, Any]) -> None:
        self._seq += 1
        self._history.append((self._seq, self.rv, kind, obj))

    async def _notify(self) -> None:
        cond = self._cond()
        async with cond:
            cond.notify_all()

    # -- HTTP -----------------------------------------------------------------------------

    async def handle(self, request: HttpRequest) -> HttpResponse:
        if (
            self.token is not None
            and request.headers.get("authorization") != f"Bearer {self.token}"
        ):
            return json_response(_status(401, "Unauthorized", "Unauthorized"), 401)
        if request.method != "GET" or not request.path.startswith(_PREFIX):
            return json_response(_status(404, "NotFound", "the server could not find it"), 404)
        ns, _, rest = request.path[len(_PREFIX) :].partition("/")
        if rest != "endpointslices":
            return json_response(_status(404, "NotFound", "the server could not find it"), 404)
        selector = request.query.get("labelSelector", "")
        service = selector.partition("=")[2] if selector.startswith(f"{_LABEL}=") else None
        rv_text = request.query.get("resourceVersion", "")
        rv = int(rv_text) if rv_text.isdigit() else 0
        if request.query.get("watch") in ("1", "true"):
            return self._watch(request, ns, service, rv)
        self.lists += 1
        if rv and rv < self.compacted:
            return json_response(_status(410, "Expired", f"too old resource version: {rv}"), 410)
        items = [
            s for (sns, _), s in sorted(self._slices.items()) if sns == ns and _matches(s, service)
        ]
        return json_response(
            {
                "kind": "EndpointSliceList",
                "apiVersion": "discovery.k8s.io/v1",
                "metadata": {"resourceVersion": str(self.rv)},
                "items": items,
            }
        )

    def _watch(self, request: HttpRequest, ns: str, service: str | None, rv: int) -> HttpResponse:
        self.watches += 1
        bookmarks = request.query.get("allowWatchBookmarks") in ("1", "true")
        timeout_text = request.query.get("timeoutSeconds", "")
        timeout = float(timeout_text) if timeout_text.isdigit() else 1800.0

        async def events() -> AsyncIterator[bytes]:
            if rv and rv < self.compacted:
                gone = _status(410, "Expired", f"too old resource version: {rv} ({self.compacted})")
                yield json.dumps({"type": "ERROR", "object": gone}).encode() + b"\n"
                return
            loop = asyncio.get_running_loop()
            end = loop.time() + timeout
            since = rv if rv else self.rv  # events after this version
            seen = self._seq  # bookmarks made after the watch started
            cond = self._cond()
            while True:
                for seq, ev_rv, kind, obj in list(self._history):
                    if kind == "BOOKMARK":
                        if seq <= seen or not bookmarks:
                            continue
                        seen = seq
                        obj = {
                            "kind": "EndpointSlice",
                            "apiVersion": "discovery.k8s.io/v1",
                            "metadata": {"resourceVersion": str(ev_rv)},
                        }
                    elif ev_rv <= since:
                        continue
                    else:
                        since = ev_rv
                        meta = obj["metadata"]
                        if meta.get("namespace", "default") != ns or not _matches(obj, service):
                            continue
                    yield json.dumps({"type": kind, "object": obj}).encode() + b"\n"
                remaining = end - loop.time()
                if remaining <= 0:
                    return
                async with cond:
                    try:
                        await asyncio.wait_for(cond.wait(), remaining)
                    except asyncio.TimeoutError:
                        return

        return HttpResponse(200, {"Content-Type": "application/json"}, stream=events())


def _matches(obj: dict[str, Any], service: str | None) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return service is None or labels.get(_LABEL) == service


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
