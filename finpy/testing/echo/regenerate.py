"""Regenerate the Echo service's Python modules from ``echo.proto``.

Run from anywhere, with grpcio-tools installed (it is in the ``test`` extra)::

    python -m finpy.testing.echo.regenerate

This writes ``echo_pb2.py``, ``echo_pb2.pyi`` and ``echo_pb2_grpc.py`` next to the proto.
The proto is compiled with the directory that holds the ``finpy`` package as include
root, so the descriptor is registered as ``finpy/testing/echo/echo.proto`` (no clash
with a user's own ``echo.proto``) and the generated gRPC module imports its messages
package-absolutely: ``from finpy.testing.echo import echo_pb2``.

The generated modules check, on import, that the installed ``grpcio`` and ``protobuf``
are at least the versions of the ``grpcio-tools`` that generated them, so regenerate
with the oldest ``grpcio-tools`` the project supports.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]  # the directory holding the ``finpy`` package
PROTO = HERE / "echo.proto"
GRPC_MODULE = HERE / "echo_pb2_grpc.py"

# What protoc writes when the proto is compiled from its own directory instead.
_BARE_IMPORT = re.compile(r"^import echo_pb2 as (\w+)$", re.MULTILINE)


def fix_grpc_import(source: str) -> str:
    """Make the gRPC module import its messages from the package, whatever the include root."""
    return _BARE_IMPORT.sub(r"from finpy.testing.echo import echo_pb2 as \1", source)


def generate(out_root: Path = ROOT) -> int:
    """Compile ``echo.proto`` into ``out_root/finpy/testing/echo/``; return protoc's exit code."""
    from grpc_tools import protoc  # type: ignore[import-untyped]

    proto = PROTO.relative_to(ROOT).as_posix()
    code = int(
        protoc.main(
            [
                "grpc_tools.protoc",
                f"-I{ROOT}",
                f"--python_out={out_root}",
                f"--pyi_out={out_root}",
                f"--grpc_python_out={out_root}",
                proto,
            ]
        )
    )
    if code == 0:
        grpc_module = out_root / GRPC_MODULE.relative_to(ROOT)
        grpc_module.write_text(fix_grpc_import(grpc_module.read_text()))
    return code


def main() -> int:
    """Regenerate the modules in place; return protoc's exit code."""
    code = generate()
    if code != 0:
        print(f"protoc failed on {PROTO} with exit code {code}", file=sys.stderr)
    else:
        print(f"regenerated echo_pb2.py, echo_pb2.pyi and echo_pb2_grpc.py from {PROTO}")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
