"""The documentation site builds without a warning, and its copies of README's snippets match."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def python_snippets(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


def test_the_api_page_shows_readmes_python_snippet():
    readme = python_snippets((ROOT / "README.md").read_text(encoding="utf-8"))
    page = python_snippets((ROOT / "docs/reference/api.md").read_text(encoding="utf-8"))
    assert readme and readme[0] in page, "docs/reference/api.md's snippet drifted from README's"


def test_every_page_is_in_the_nav():
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    pages = {p.relative_to(ROOT / "docs").as_posix() for p in (ROOT / "docs").rglob("*.md")}
    assert {p for p in pages if f" {p}" not in nav} == set()


def test_no_machine_paths_in_readme_or_docs():
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        text = page.read_text(encoding="utf-8")
        for bad in ("/work/", "/tmp", "../shared"):
            assert bad not in text, f"{page.relative_to(ROOT)} mentions {bad}"


@pytest.mark.skipif(importlib.util.find_spec("mkdocs") is None, reason="mkdocs not installed")
def test_mkdocs_build_strict(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**__import__("os").environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert (tmp_path / "site" / "reference" / "hooks" / "index.html").is_file()
