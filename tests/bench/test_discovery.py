"""The address file the bench breaks, as finpy's file resolver sees it."""

from __future__ import annotations

import asyncio

from finpy.bench.discovery import AddressFile
from finpy.resolver.state import Bound, Failed
from finpy.resolver.target import Target


def test_the_file_goes_through_every_kind_of_breakage_and_back() -> None:
    """restore writes one address per line; unreachable deletes; malformed and empty rewrite."""
    f = AddressFile(["127.0.0.1:1", "127.0.0.1:2"])
    try:
        assert f.target == f"file://{f.path}" and f.target.startswith("file:///")
        assert f.path.read_text() == "127.0.0.1:1\n127.0.0.1:2\n"
        f.unreachable()
        assert not f.path.exists() and f.state == "unreachable"
        f.malformed()
        assert "not an address" in f.path.read_text()
        f.empty()
        assert f.path.read_text() == "" and "empty" in repr(f)
        f.restore()
        assert f.path.read_text().splitlines() == ["127.0.0.1:1", "127.0.0.1:2"]
    finally:
        f.close()
    assert not f.path.parent.exists()


async def test_finpy_file_resolver_reports_each_breakage() -> None:
    """The registry's file resolver publishes Bound, then Failed while the file is gone."""
    f = AddressFile(["127.0.0.1:1"])
    registry = f.registry()
    res = registry.resolve(Target.parse(f.target))
    try:
        state = await asyncio.wait_for(res.wait_for(lambda s: isinstance(s, Bound)), 5)
        assert isinstance(state, Bound) and len(state.addresses) == 1
        f.unreachable()
        state = await asyncio.wait_for(res.wait_for(lambda s: isinstance(s, Failed)), 5)
        assert isinstance(state, Failed)
    finally:
        await res.aclose()
        f.close()
