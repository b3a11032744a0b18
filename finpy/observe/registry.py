"""The live clients of the process, for metrics and the text dump.

Every :class:`finpy.Client` registers itself here when it is made.  The
registry holds clients *weakly*: it never keeps a client alive, and a client
that was garbage-collected simply disappears from it; closed clients are left
out of :func:`live_clients`.  Observable metrics (endpoints, budgets,
breakers, discovery) and :func:`finpy.observe.dump` read the clients from
here when they are collected or printed, so they cost nothing per call.
"""

from __future__ import annotations

import itertools
import weakref
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from finpy.client import Client

__all__ = ["live_clients", "register"]

_clients: weakref.WeakValueDictionary[int, Client[Any, Any]] = weakref.WeakValueDictionary()
_ids = itertools.count(1)


def register(client: Client[Any, Any]) -> None:
    """Add ``client`` to the registry (kept weakly; called by ``Client.__init__``)."""
    _clients[next(_ids)] = client


def live_clients() -> list[Client[Any, Any]]:
    """The clients not closed nor collected yet, oldest first."""
    out = []
    for _, client in sorted(_clients.items()):
        if client.status.value != "closed":
            out.append(client)
    return out
