"""benchmarks/bench_rollout_probe.py: probe R² of the state per rollout step of acting runs."""

from __future__ import annotations

import json

import pytest

from jepa_framework.testing import run_tiny

pytestmark = pytest.mark.usefixtures("one_thread")


def test_each_run_gets_rows_per_step_with_the_angle_read_as_cosine_and_sine(
    benchmark_script, tmp_path
):
    bench = benchmark_script("bench_rollout_probe")
    rooms = run_tiny("two_rooms", tmp_path / "runs", "decoder_train.epochs=1")
    swing = run_tiny("pendulum_swingup", tmp_path / "runs", "decoder_train.epochs=1")
    tables = tmp_path / "tables"
    assert bench.main([str(rooms), str(swing), "--tables-dir", str(tables)]) == 0
    found = json.loads((swing / "rollout_probe.json").read_text())
    assert found["state"] == ["cos θ", "sin θ", "theta_dot"] and found["alpha"] in bench.ALPHAS
    # 12-frame trajectories of one-frame contexts: steps 1, 4 and 8 fit, 16 and 30 do not
    assert list(found["per_step"]) == ["1", "4", "8"]
    for step in found["per_step"].values():
        assert len(step["rollout"]) == len(step["encoder"]) == 3
        assert all(r2 <= 1.0 for r2 in step["rollout"] + step["encoder"])
    table = (tables / "rollout_probe.md").read_text()
    rows = [line for line in table.splitlines() if line.startswith("| two_rooms |")]
    assert len(rows) == 3 and all("| 0 | 0 | x / y |" in row for row in rows)  # seed, refit
    assert "never on a rollout" in table
