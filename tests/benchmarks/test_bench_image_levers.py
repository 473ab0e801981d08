"""benchmarks/bench_image_levers.py: valid override rows, a table read from kept runs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from jepa_framework.config.recipe import load_recipe

ROOT = Path(__file__).resolve().parents[2]
KEPT = ROOT / "benchmarks" / "tables" / "runs" / "image_levers"


@pytest.fixture
def levers(benchmark_script):
    return benchmark_script("bench_image_levers")


def test_every_row_is_a_valid_override_set(levers):
    for label, overrides, seeds in levers.ROWS:
        recipe, _ = load_recipe(levers.RECIPE, overrides)
        assert seeds, label
        assert (recipe.refit.epochs == 0) == label.startswith("phase-1 predictor"), label


@pytest.mark.skipif(not KEPT.is_dir(), reason="no kept runs in this checkout")
def test_the_table_reads_each_kept_run_and_skips_rows_without_runs(levers, tmp_path):
    for name in ("row-1_seed-0", "row-1_seed-1", "row-4_seed-0"):
        shutil.copytree(KEPT / name, tmp_path / "runs" / "image_levers" / name)
    text = levers.write([1, 2, 4], tmp_path, "footer line").read_text()
    rows = [line for line in text.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert [row.split(" | ")[0] for row in rows] == ["| 1", "| 4"]  # row 2 has no kept run
    one, four = (row.split(" | ") for row in rows)
    assert one[3] == "2" and "±" in one[4]  # two seeds: mean ± std
    assert four[3] == "1" and "±" not in four[4] and four[7] != "—"  # one seed, supervised ran
    assert text.rstrip().endswith("footer line")
    assert (tmp_path / "image_levers.csv").read_text().count("\n") == 3
