"""The shipped Echo modules are what the regenerate script makes from echo.proto."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from finpy.testing.echo import echo_pb2, regenerate


def _serialized_descriptor(module: Path) -> bytes:
    """The FileDescriptorProto bytes a generated *_pb2.py registers."""
    for node in ast.walk(ast.parse(module.read_text())):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "AddSerializedFile"
        ):
            arg = node.args[0]
            assert isinstance(arg, ast.Constant) and isinstance(arg.value, bytes)
            return arg.value
    raise AssertionError(f"no AddSerializedFile call in {module}")


def _method_paths(module: Path) -> set[str]:
    return set(re.findall(r"'(/finpy\.testing\.echo\.Echo/\w+)'", module.read_text()))


def test_shipped_modules_match_the_proto(tmp_path: Path) -> None:
    """Regenerating from echo.proto gives the shipped descriptor and gRPC methods."""
    pytest.importorskip("grpc_tools")
    assert regenerate.generate(tmp_path) == 0
    fresh = tmp_path / "finpy" / "testing" / "echo"
    assert _serialized_descriptor(fresh / "echo_pb2.py") == echo_pb2.DESCRIPTOR.serialized_pb
    shipped_paths = _method_paths(regenerate.HERE / "echo_pb2_grpc.py")
    assert shipped_paths == _method_paths(fresh / "echo_pb2_grpc.py")
    assert {p.rsplit("/", 1)[1] for p in shipped_paths} == {"Echo", "Expand", "Collect", "Chat"}
    assert (fresh / "echo_pb2.pyi").read_text() == (regenerate.HERE / "echo_pb2.pyi").read_text()


def test_generated_grpc_module_imports_messages_from_the_package() -> None:
    """The gRPC module imports echo_pb2 package-absolutely, and bare imports are rewritten."""
    source = (regenerate.HERE / "echo_pb2_grpc.py").read_text()
    assert "from finpy.testing.echo import echo_pb2 as" in source
    assert regenerate.fix_grpc_import("import echo_pb2 as echo__pb2\n") == (
        "from finpy.testing.echo import echo_pb2 as echo__pb2\n"
    )
