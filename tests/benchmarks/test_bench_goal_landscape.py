"""benchmarks/bench_goal_landscape.py: latent distance to the goal per true distance."""

from __future__ import annotations

import pytest

from jepa_framework.testing import run_tiny

pytestmark = pytest.mark.usefixtures("one_thread")


def test_each_radius_gets_a_row_and_far_points_sit_further_in_latent_space(
    benchmark_script, tmp_path
):
    bench = benchmark_script("bench_goal_landscape")
    rooms = run_tiny("two_rooms", tmp_path / "runs", "decoder_train.epochs=1")
    found = bench.measure(rooms, goals=2, seed=0)
    assert list(found["radius"]) == list(bench.RADII) and len(found["linear_error"]) == 2
    near, far = found["radius"][bench.RADII[0]][0], found["radius"][bench.RADII[-1]][0]
    assert far > near  # even a barely trained encoder of coordinates is not flat over 0.4
    tables = tmp_path / "tables"
    assert bench.main([str(rooms), "--goals", "2", "--tables-dir", str(tables)]) == 0
    table = (tables / "goal_landscape.md").read_text()
    rows = [line for line in table.splitlines() if "| two_rooms |" in line]
    assert len(rows) == len(bench.RADII)
    assert "blocked points skipped" in table and "| mlp |" in rows[0]
