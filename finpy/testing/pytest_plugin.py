"""pytest fixtures for finpy: fault clusters of real local gRPC backends.

finpy registers this plugin through the ``pytest11`` entry point, so installing finpy is
enough. The fixtures are synchronous (no pytest-asyncio needed) and the servers run on
their own thread, so sync and async tests of any framework can use them:

- ``finpy_cluster``: a started :class:`~finpy.testing.FaultCluster` of 3 Echo backends,
  closed after the test. Configure it with a marker:
  ``@pytest.mark.finpy_cluster(size=5, latency=0.01)`` (``size`` may be positional; any
  other keyword is a :class:`~finpy.testing.Behavior` field, or ``behavior=`` /
  ``servicer_factory=`` as for ``FaultCluster``).
- ``finpy_cluster_factory``: call it like ``FaultCluster(...)`` (plus Behavior fields as
  keywords) to get more started clusters; all are closed after the test.

Importing this module imports neither grpc nor any server: clusters start only when a
test asks for a fixture.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol

import pytest

if TYPE_CHECKING:
    from finpy.testing.behavior import Behavior
    from finpy.testing.cluster import FaultCluster, ServicerFactory

__all__ = ["ClusterFactory", "finpy_cluster", "finpy_cluster_factory"]

MARKER = "finpy_cluster"


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``finpy_cluster`` marker."""
    config.addinivalue_line(
        "markers",
        f"{MARKER}(size=3, *, behavior=None, servicer_factory=None, **behavior_fields): "
        "configure the finpy_cluster fixture (number of backends, their Behavior)",
    )


class ClusterFactory(Protocol):
    """The ``finpy_cluster_factory`` fixture: makes started clusters, closed at teardown."""

    def __call__(
        self,
        size: int = 3,
        *,
        behavior: Behavior | None = None,
        servicer_factory: ServicerFactory | None = None,
        **behavior_fields: Any,
    ) -> FaultCluster: ...


@pytest.fixture
def finpy_cluster_factory() -> Iterator[ClusterFactory]:
    """Make started :class:`~finpy.testing.FaultCluster` objects; all are closed at teardown."""
    from finpy.testing.behavior import Behavior
    from finpy.testing.cluster import FaultCluster

    clusters: list[FaultCluster] = []

    def make(
        size: int = 3,
        *,
        behavior: Behavior | None = None,
        servicer_factory: ServicerFactory | None = None,
        **behavior_fields: Any,
    ) -> FaultCluster:
        if behavior_fields:
            behavior = (behavior or Behavior()).changed(**behavior_fields)
        cluster = FaultCluster(size, behavior=behavior, servicer_factory=servicer_factory)
        clusters.append(cluster)
        return cluster.start()

    yield make
    errors: list[BaseException] = []
    for cluster in reversed(clusters):
        try:
            cluster.close()
        except Exception as exc:  # close the others anyway
            errors.append(exc)
    if errors:
        raise errors[0]


@pytest.fixture
def finpy_cluster(
    request: pytest.FixtureRequest, finpy_cluster_factory: ClusterFactory
) -> FaultCluster:
    """A started 3-backend Echo cluster, closed at teardown; see the ``finpy_cluster`` marker."""
    marker = request.node.get_closest_marker(MARKER)
    if marker is None:
        return finpy_cluster_factory()
    if len(marker.args) > 1:
        raise TypeError(
            f"@pytest.mark.{MARKER} takes at most one positional argument (size), "
            f"got {marker.args!r}"
        )
    kwargs = dict(marker.kwargs)
    if marker.args:
        if "size" in kwargs:
            raise TypeError(f"@pytest.mark.{MARKER} got size both positionally and by name")
        kwargs["size"] = marker.args[0]
    return finpy_cluster_factory(**kwargs)
