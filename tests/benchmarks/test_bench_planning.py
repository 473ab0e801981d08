"""benchmarks/bench_planning.py: the planning table is rebuilt from the runs it keeps."""

from __future__ import annotations

import json

import pytest

from jepa_framework.commands.cli import main
from jepa_framework.testing import run_tiny

pytestmark = pytest.mark.usefixtures("one_thread")


def test_the_table_reports_each_methods_success_from_the_kept_plan_json(
    benchmark_script, tmp_path, monkeypatch
):
    bench = benchmark_script("bench_planning")
    run = run_tiny("two_rooms", tmp_path / "runs", "decoder_train.epochs=1")
    small = ["plan.episodes=2", "plan.max_steps=3", "plan.planner.samples=16"]
    small += ["plan.planner.horizon=4", "plan.planner.iterations=2", "plan.planner.elites=4"]
    assert main(["plan", str(run), *small]) == 0
    (run / "bench_wall.json").write_text(json.dumps({"train_s": 60.0, "plan_s": 30.0}))
    tables = tmp_path / "tables"
    monkeypatch.setattr(bench, "ROOT", tmp_path)  # keep() records the run relative to it
    bench.keep(run, tables / "runs" / "planning" / "two_rooms_seed-0")
    args = ["--tables-only", "--recipes", "two_rooms", "--seeds", "0"]
    assert bench.main([*args, "--tables-dir", str(tables)]) == 0
    report = json.loads((run / "plan.json").read_text())
    table = (tables / "planning.md").read_text()
    row = next(line for line in table.splitlines() if line.startswith("| `two_rooms`"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    methods = report["methods"]
    assert cells[1:3] == ["1", "2"]  # one seed of two episodes
    for column, (name, _) in enumerate(bench.COLUMNS, start=3):
        assert float(cells[column]) == pytest.approx(100 * methods[name]["success_rate"])
    assert cells[-2:] == ["1", "0.5"]  # minutes of training and planning
    assert "plan.episodes" not in table and "none (the recipes as shipped)" in table


def test_the_swingup_diagnosis_reads_rollouts_per_step_and_the_latent_distance_profile(
    benchmark_script, tmp_path
):
    diagnosis = benchmark_script("bench_swingup_cost")
    run = run_tiny("pendulum_swingup", tmp_path, "decoder_train.epochs=1")
    found = diagnosis.diagnose(run)
    assert set(found["per_step"]) == {"1", "4", "8"}  # the steps a tiny run's 12 frames allow
    for step in found["per_step"].values():
        assert len(step["rollout"]) == len(step["encoder"]) == 3  # cos, sin, theta_dot
        assert all(r <= 1.0 for r in step["rollout"] + step["encoder"])
    # the goal's own latent is at distance 0; every other state is somewhere else
    assert found["at_rest"][0] == 0.0 and min(found["at_rest"][1:] + found["upright"]) > 0


def test_the_diagnosis_plans_the_simulator_with_the_speed_weighted_as_asked(
    benchmark_script, tmp_path
):
    """The recipe's own planner on the true simulator: the speed weighted like the angle keeps
    the pendulum hanging, weighted 0.1 it swings up (what the docs' simulator columns say)."""
    diagnosis = benchmark_script("bench_swingup_cost")
    run = run_tiny("pendulum_swingup", tmp_path, "decoder_train.epochs=1")
    assert diagnosis.simulator_success(run, 1.0, episodes=1) == 0.0
    assert diagnosis.simulator_success(run, 0.1, episodes=1) == 100.0


def test_replanning_reuses_the_trained_run_and_the_table_keeps_every_recipes_rows(
    benchmark_script, tmp_path, monkeypatch
):
    """--replan plans again with the run trained before (no second training), and a table
    rebuilt for one recipe still holds the rows of the others' kept runs."""
    bench = benchmark_script("bench_planning")
    monkeypatch.setattr(bench, "ROOT", tmp_path)
    out = tmp_path / "planning" / "two_rooms" / "seed-0"
    out.mkdir(parents=True)
    trained = run_tiny("two_rooms", tmp_path / "tiny", "decoder_train.epochs=1")
    run = trained.rename(out / trained.name)  # where run_one keeps what it trained
    (run / bench.WALL_NAME).write_text(json.dumps({"train_s": 120.0}))
    small = ["plan.episodes=1", "plan.max_steps=2", "plan.planner.samples=8"]
    small += ["plan.planner.horizon=3", "plan.planner.iterations=1", "plan.planner.elites=2"]
    small += ["plan.baselines=false"]
    assert bench.run_one("two_rooms", 0, out, small, replan=True) == run
    walls = json.loads((run / bench.WALL_NAME).read_text())
    assert walls["train_s"] == 120.0 and walls["plan_s"] > 0  # trained once, planned now
    assert json.loads((run / "plan.json").read_text())["episodes"] == 1
    tables = tmp_path / "tables"
    for recipe in ("two_rooms", "pendulum_swingup"):
        bench.keep(run, tables / "runs" / "planning" / f"{recipe}_seed-0")
    args = ["--tables-only", "--recipes", "two_rooms", "--tables-dir", str(tables)]
    assert bench.main(args) == 0
    table = (tables / "planning.md").read_text()
    assert "| `two_rooms` |" in table and "| `pendulum_swingup` |" in table
