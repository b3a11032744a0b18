"""Regenerate ``etcd_subset_pb2.py``/``.pyi`` from ``etcd_subset.proto`` (needs grpcio-tools).

python -m finpy.resolver._etcd.regenerate
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]  # the directory holding the ``finpy`` package


def main() -> int:
    from grpc_tools import protoc  # type: ignore[import-untyped]

    proto = HERE / "etcd_subset.proto"
    args = [
        "protoc",
        f"-I{ROOT}",
        f"--python_out={ROOT}",
        str(proto.relative_to(ROOT)),
    ]
    code: int = protoc.main(args)
    if code == 0:
        out = str(HERE / "etcd_subset_pb2.py")
        ruff = [sys.executable, "-m", "ruff"]
        subprocess.run([*ruff, "check", "--fix", "-q", out], check=False)
        code = subprocess.run([*ruff, "format", "-q", out], check=False).returncode
    return code


if __name__ == "__main__":
    sys.exit(main())
