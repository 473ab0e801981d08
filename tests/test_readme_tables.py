"""README's result tables are copies of committed files that benchmark scripts write."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _sync():
    spec = importlib.util.spec_from_file_location("sync_readme", ROOT / "benchmarks/sync_readme.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_tables_match_the_committed_table_files():
    _, stale = _sync().render((ROOT / "README.md").read_text())
    assert stale == [], f"stale README tables (run benchmarks/sync_readme.py): {stale}"


def test_sync_rewrites_a_stale_block_and_check_reports_it(tmp_path):
    (tmp_path / "t.md").write_text("| a |\n|---|\n| 2 |\n")
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- table: t.md -->\n| a |\n|---|\n| 1 |\n<!-- /table -->\nend\n")
    sync = _sync()
    assert sync.main(["--check", "--readme", str(readme)]) == 1
    assert sync.main(["--readme", str(readme)]) == 0
    assert "| 2 |" in readme.read_text() and "| 1 |" not in readme.read_text()
    assert sync.main(["--check", "--readme", str(readme)]) == 0
