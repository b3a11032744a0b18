"""The documentation site builds (mkdocs --strict: no broken links or nav entries)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent


def test_docs_build_strict(tmp_path: Path) -> None:
    """mkdocs builds docs/ with --strict into a temporary directory."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "--quiet",
            "-d",
            str(tmp_path / "site"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "site" / "index.html").exists()


def test_every_docs_page_is_in_the_nav() -> None:
    """Each Markdown page under docs/ is reachable from mkdocs.yml's nav."""
    nav = (ROOT / "mkdocs.yml").read_text()
    pages = [p.relative_to(ROOT / "docs").as_posix() for p in (ROOT / "docs").rglob("*.md")]
    missing = [p for p in pages if p not in nav]
    assert not missing, f"pages not in mkdocs.yml nav: {missing}"


def test_readme_quickstart_runs(tmp_path: Path) -> None:
    """The quickstart code block of README.md runs as written and answers from the cluster."""
    import re

    readme = (ROOT / "README.md").read_text()
    match = re.search(r"## Quickstart\n\n```python\n(.*?)```", readme, re.S)
    assert match, "README.md has no Quickstart python block"
    script = tmp_path / "quickstart.py"
    script.write_text(match.group(1))
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"^backend-\d hi 0$", result.stdout, re.M), result.stdout
