"""Which failures count against an endpoint's health.

An application error (``NOT_FOUND``, ``INVALID_ARGUMENT``, ...) is a perfectly
healthy endpoint answering; only failures that say the endpoint itself is in
trouble count: it is unreachable or overloaded (``UNAVAILABLE``), too slow
(``DEADLINE_EXCEEDED``, including per-attempt timeouts) or broken at the
transport level (``INTERNAL``, ``DATA_LOSS``).  ``RESOURCE_EXHAUSTED`` is a
server shedding load on purpose and ``UNKNOWN`` is usually an application
bug, so neither ejects an endpoint by default.

The status name is read the same way for every protocol: ``FinpyError.status``
for finpy's own errors, ``exc.code().name`` for gRPC errors (``grpc.RpcError``)
and anything else that quacks like them.  A finpy error raised before the
request was sent (``request_sent`` is False: deadline already passed, client
closed) says nothing about the endpoint and is ignored, as are cancellations.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from finpy.errors import FinpyError

__all__ = ["DEFAULT_FAILURE_STATUSES", "Classifier", "status_classifier", "status_name"]

#: Status names that count as failures of the endpoint by default.
DEFAULT_FAILURE_STATUSES: frozenset[str] = frozenset(
    {"UNAVAILABLE", "DEADLINE_EXCEEDED", "INTERNAL", "DATA_LOSS"}
)

#: ``classify(exc)``: True = counts as a failure, False = the endpoint is fine, None = no verdict.
Classifier = Callable[[BaseException], "bool | None"]


def status_name(exc: BaseException) -> str | None:
    """The canonical status name carried by ``exc``, or ``None`` if it has none."""
    if isinstance(exc, FinpyError):
        return exc.status
    code = getattr(exc, "code", None)
    if callable(code):
        try:
            value = code()
        except Exception:
            return None
        name = getattr(value, "name", None)
        return name if isinstance(name, str) else None
    return None


def status_classifier(failure_statuses: Iterable[str] = DEFAULT_FAILURE_STATUSES) -> Classifier:
    """A classifier that counts the given status names as endpoint failures."""
    statuses = frozenset(failure_statuses)

    def classify(exc: BaseException) -> bool | None:
        if not isinstance(exc, Exception):
            return None  # cancelled, or the process is going down
        if isinstance(exc, FinpyError) and not exc.request_sent:
            return None
        name = status_name(exc)
        if name is None:
            return None  # a local bug (serialisation, ...) is not the endpoint's fault
        return name in statuses

    return classify
