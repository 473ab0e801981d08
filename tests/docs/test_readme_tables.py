"""The result tables of README.md and the docs pages are copies of committed files that
benchmark scripts write (``benchmarks/sync_readme.py`` keeps them in sync)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _sync():
    spec = importlib.util.spec_from_file_location("sync_readme", ROOT / "benchmarks/sync_readme.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_synced_pages_are_readme_and_every_docs_page():
    pages = {page.relative_to(ROOT).as_posix() for page in _sync().pages()}
    assert "README.md" in pages
    assert {p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").rglob("*.md")} <= pages


def test_the_docs_hold_table_blocks():
    sync = _sync()
    blocks = [m["path"] for page in sync.pages() for m in sync.BLOCK.finditer(page.read_text())]
    assert "benchmarks/tables/pendulum.md" in blocks, "the results tables left the docs"


@pytest.mark.parametrize(
    "page", _sync().pages(), ids=lambda page: page.relative_to(ROOT).as_posix()
)
def test_tables_match_the_committed_table_files(page):
    _, stale = _sync().render(page.read_text(), ROOT, page.parent)
    assert stale == [], f"stale tables in {page.name} (run benchmarks/sync_readme.py): {stale}"


def test_sync_rewrites_a_stale_block_and_check_reports_it(tmp_path):
    (tmp_path / "t.md").write_text("| a |\n|---|\n| 2 |\n")
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- table: t.md -->\n| a |\n|---|\n| 1 |\n<!-- /table -->\nend\n")
    sync = _sync()
    assert sync.main(["--check", "--readme", str(readme)]) == 1
    assert sync.main(["--readme", str(readme)]) == 0
    assert "| 2 |" in readme.read_text() and "| 1 |" not in readme.read_text()
    assert sync.main(["--check", "--readme", str(readme)]) == 0


def test_sync_covers_docs_pages_and_relinks_figures_from_their_folder(tmp_path):
    tables = tmp_path / "benchmarks" / "tables"
    tables.mkdir(parents=True)
    (tables / "t.md").write_text(
        "| a |\n|---|\n| 2 |\n\n![fig](benchmarks/tables/f.png) [site](https://x.org/a.png)\n"
    )
    (tmp_path / "README.md").write_text("no blocks\n")
    page = tmp_path / "docs" / "results" / "index.md"
    page.parent.mkdir(parents=True)
    page.write_text("# R\n<!-- table: benchmarks/tables/t.md -->\nold\n<!-- /table -->\n")
    sync = _sync()
    assert sync.main(["--check", "--root", str(tmp_path)]) == 1
    assert sync.main(["--root", str(tmp_path)]) == 0
    text = page.read_text()
    assert "| 2 |" in text and "old" not in text
    assert "![fig](../../benchmarks/tables/f.png)" in text
    assert "[site](https://x.org/a.png)" in text
    assert sync.main(["--check", "--root", str(tmp_path)]) == 0
