"""The file resolver: formats, reload on change, broken files keep the old set."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from finpy.errors import TargetError
from finpy.resolver.file import FileResolver, parse_address_file
from finpy.resolver.guard import GuardedResolution, MalformedUpdateError
from finpy.resolver.state import Bound, Failed, ResolutionState
from finpy.resolver.target import Target


def authorities(state: ResolutionState) -> set[str]:
    assert isinstance(state, Bound), state
    return {a.authority for a in state.addresses}


def test_plain_lines_with_comments_weights_and_zones() -> None:
    """Plain format: one address per line, '#' comments, static attributes."""
    addrs = parse_address_file("# users\n10.0.0.1:1\n\n10.0.0.2:2;weight=2;zone=eu-1  # b\n")
    assert [a.authority for a in addrs] == ["10.0.0.1:1", "10.0.0.2:2"]
    assert addrs[1].weight == 2 and addrs[1].zone == "eu-1"


def test_json_list_with_weights_and_zones() -> None:
    """JSON format: strings and objects with weight, zone and metadata."""
    text = json.dumps(
        {
            "addresses": [
                "10.0.0.1:1",
                {"host": "10.0.0.2", "port": 2, "weight": 3, "zone": "z", "metadata": {"r": "7"}},
            ]
        }
    )
    a, b = parse_address_file(text)
    assert a.authority == "10.0.0.1:1"
    assert (b.weight, b.zone, b.metadata["r"]) == (3, "z", "7")


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("10.0.0.1:1\nnot-an-address\n", "line 2"),
        ("10.0.0.1:1\n10.0.0.1:1\n", "appears twice"),
        ('[{"host": "h", "port": "80"}]', "'port' must be an integer"),
        ('[{"host": "h", "port": 80, "weight": 0}]', "weight"),
        ('[{"host": "h", "port": 80, "colour": "red"}]', "colour"),
        ("[1, 2", "invalid JSON"),
        ('{"members": []}', "expected a JSON list"),
    ],
)
def test_bad_files_name_the_bad_value(text: str, named: str) -> None:
    """A malformed file raises MalformedUpdateError naming what is wrong."""
    with pytest.raises(MalformedUpdateError, match=named):
        parse_address_file(text, "users.addrs")


@pytest.mark.parametrize("raw", ["file://host/etc/x", "file:///etc/\0x"])
def test_bad_targets_are_rejected_at_validation(raw: str) -> None:
    """file targets with a host or a NUL are TargetErrors."""
    with pytest.raises(TargetError):
        FileResolver().validate(Target.parse(raw))


def write(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)  # atomic, as config management does it


@pytest.mark.looptime
async def test_reloads_on_change_and_keeps_old_set_on_broken_file(tmp_path: Path) -> None:
    """A changed file is reloaded; a broken one is rejected while the old set serves."""
    path = tmp_path / "users.addrs"
    write(path, "10.0.0.1:1\n")
    res = GuardedResolution(FileResolver(interval=1.0).resolve(Target.parse(f"file://{path}")))
    try:
        await asyncio.wait_for(res.wait_for(lambda s: isinstance(s, Bound)), 5)
        assert authorities(res.state) == {"10.0.0.1:1"}

        write(path, "10.0.0.1:1\n10.0.0.2:2\n")
        await asyncio.wait_for(res.wait_for(lambda s: len(authorities(s)) == 2), 5)

        write(path, "10.0.0.1:1\ngarbage here\n")
        await asyncio.wait_for(res.source.wait_for(lambda s: isinstance(s, Failed)), 5)
        assert authorities(res.state) == {"10.0.0.1:1", "10.0.0.2:2"}
        assert res.statistics().rejected_malformed == 1

        path.unlink()
        await asyncio.sleep(3)
        assert authorities(res.state) == {"10.0.0.1:1", "10.0.0.2:2"}

        write(path, '["10.0.0.3:3"]')
        await asyncio.wait_for(res.wait_for(lambda s: authorities(s) == {"10.0.0.3:3"}), 5)
        assert res.healthy
    finally:
        await res.aclose()


async def test_missing_file_fails_before_first_binding(tmp_path: Path) -> None:
    """A file that does not exist yet is Failed (not Negative), naming the path."""
    res = FileResolver().resolve(Target.parse(f"file://{tmp_path}/nope"))
    try:
        state = await asyncio.wait_for(res.wait_for(lambda s: isinstance(s, Failed)), 5)
        assert isinstance(state, Failed) and "nope" in str(state.error)
    finally:
        await res.aclose()
