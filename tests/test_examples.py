"""Every runnable example in examples/ runs to completion (docs must not rot)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.py"))
#: Exit status an example uses to say "a server binary it needs is not installed".
MISSING_REQUIREMENT = 77


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs(path: Path) -> None:
    """The example exits 0 and prints something (77: requirement missing, fails under CI)."""
    result = subprocess.run(
        [sys.executable, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=path.parent.parent,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "FINPY_EXAMPLE_QUICK": "1"},
        stdin=subprocess.DEVNULL,
    )
    if result.returncode == MISSING_REQUIREMENT and not os.environ.get("CI"):
        pytest.skip(f"{path.name}: {result.stdout.strip() or result.stderr.strip()}")
    assert result.returncode == 0, f"{path.name} failed:\n{result.stdout}\n{result.stderr}"
    assert result.stdout.strip(), f"{path.name} printed nothing"
