"""`jepa sweep`: grid axes from overrides, and a tiny 2 x 2 sweep end to end."""

from __future__ import annotations

import csv
import json

import pytest

from jepa_framework.commands.cli import main
from jepa_framework.core.errors import JepaError
from jepa_framework.jobs.sweep import short_key, split_axes, split_top_level

TINY = [
    "data.dataset.size=24",
    "data.dataset.sequence_length=12",
    "objective.rollout_steps=4",  # the circle recipe rolls out further than 12 frames allow
    "model.embedding_dim=8",
    "train.epochs=1",
    "train.batch_size=8",
    "decoder_train.epochs=1",
    "decoder_train.batch_size=8",
    "output.video_panel_size=64",
    "output.forecast_frames=4",
    "eval.horizon=10",
]


def test_only_top_level_commas_make_axes():
    assert split_top_level("mse,vicreg") == ["mse", "vicreg"]
    assert split_top_level("[{name: local}, {name: wandb}]") == ["[{name: local}, {name: wandb}]"]
    assert split_top_level("'a,b',c") == ["'a,b'", "c"]
    fixed, axes = split_axes(
        ["objective.regularizer.name=mse,sigreg", "seed=0,1,2", "tracking=[{name: local}, {x: 1}]"]
    )
    assert fixed == ["tracking=[{name: local}, {x: 1}]"]
    assert axes == [("objective.regularizer.name", ["mse", "sigreg"]), ("seed", ["0", "1", "2"])]
    with pytest.raises(JepaError):
        split_axes(["seed=0,"])
    assert (
        short_key("objective.regularizer.name") == "regularizer" and short_key("train.lr") == "lr"
    )


def test_a_bad_grid_point_fails_before_any_training(tmp_path, capsys):
    code = main(
        ["sweep", "circle", f"output.dir={tmp_path}", "objective.regularizer.name=mse,nope"]
    )
    assert code == 2 and "nope" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_a_tiny_sweep_writes_a_comparison_table(tmp_path, capsys):
    args = ["sweep", "circle", *TINY, f"output.dir={tmp_path}"]
    assert main([*args, "objective.regularizer.name=mse,sigreg", "seed=0,1"]) == 0
    (sweep_dir,) = tmp_path.iterdir()
    assert sweep_dir.name.startswith("sweep_circle")
    runs = sorted(p.name for p in sweep_dir.iterdir() if p.is_dir())
    assert len(runs) == 4 and runs[0].startswith("circle_regularizer-mse_seed-0")
    table = (sweep_dir / "results.md").read_text()
    assert table in capsys.readouterr().out
    lines = table.splitlines()
    assert lines[0].startswith("| regularizer | runs | failed | RankMe")
    for name in ("mse", "sigreg"):
        (row,) = [line for line in lines if line.startswith(f"| {name} |")]
        assert row.split("|")[2].strip() == "2" and " ± " in row
    assert any(line.startswith("| baseline: linear_ar |") for line in lines)
    with (sweep_dir / "results.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [r["regularizer"] for r in rows] == ["mse", "sigreg"]
    assert all(float(r["vpt_mean"]) >= 0 and r["probe_r2_std"] != "" for r in rows)
    sweep = json.loads((sweep_dir / "sweep.json").read_text())
    assert sweep["axes"] == ["objective.regularizer.name", "seed"] and len(sweep["runs"]) == 4
    run_config = (sweep_dir / runs[-1] / "config.yaml").read_text()
    assert "name: sigreg" in run_config and "seed: 1" in run_config
    figure = sweep_dir / "forecast_by_seed.png"
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_comparison_figure_has_one_line_per_method_with_every_seed(tmp_path):
    from jepa_framework.evaluate.comparison import comparison_panels, plot_comparison

    def report(scale: float) -> dict:
        methods = {"jepa": {"nrmse": [0.1 * scale, 0.2 * scale, 0.4 * scale]}}
        methods["copy_last"] = {"nrmse": [0.3, 0.6, 0.9, 1.2]}  # longer horizon: cut to 3
        state = {"jepa": {"nrmse": [0.5, 0.7, 1.0]}}
        return {
            "forecast": {"headline_threshold": 0.5, "methods": methods},
            "state_forecast": {"methods": state},
        }

    runs = [("jepa (mse)", report(1)), ("jepa (mse)", report(2)), ("jepa (sigreg)", report(3))]
    observed, state = comparison_panels(runs)
    assert observed.ylabel == "NRMSE" and observed.threshold == 0.5
    assert observed.series["jepa (mse)"] == [[0.1, 0.2, 0.4], [0.2, 0.4, 0.8]]
    assert len(observed.series["copy_last"]) == 3 and len(observed.series["jepa (sigreg)"]) == 1
    assert state.title == "probed state" and len(state.series["jepa (mse)"]) == 2
    path = plot_comparison([observed, state], tmp_path / "fig.png")
    assert path.read_bytes()[:4] == b"\x89PNG"
    assert comparison_panels([("jepa", {"forecast": {"methods": {}}})]) == []


def test_slurm_time_limits_and_job_flags_are_checked():
    from jepa_framework.jobs.launch import JobOptions, check_options, parse_time

    assert [parse_time(t) for t in ("90", "90:30", "1:30:00", "1-12", "2-0:0:0")] == [
        90,
        91,
        90,
        2160,
        2880,
    ]
    for bad in ("1h", "0", ""):
        with pytest.raises(JepaError, match="--time"):
            parse_time(bad)
    with pytest.raises(JepaError, match="--gpus, --detach apply to jobs"):
        check_options("inline", JobOptions(gpus=1), detach=True)
    with pytest.raises(JepaError, match="--partition applies to --launcher slurm"):
        check_options("local", JobOptions(partition="gpu"), detach=False)


def _cells(sweep_dir):
    return {p.name.split("_seed-")[1][0]: p for p in sweep_dir.iterdir() if "_seed-" in p.name}


LOCAL = [*TINY, "eval.enabled=false", "train.threads=1"]


@pytest.mark.slow
def test_local_jobs_are_collected_and_a_rerun_skips_finished_and_resumes_interrupted(
    tmp_path, capsys
):
    """submitit's LocalExecutor: one process per cell, detached, then collected; a rerun."""
    pytest.importorskip("submitit")
    import time

    sweep_dir = tmp_path / "sweep"
    args = ["sweep", "circle", *LOCAL, "seed=0,1", "--launcher", "local", "--detach"]
    assert main([*args, "--sweep-dir", str(sweep_dir)]) == 0
    assert f"jepa sweep --collect {sweep_dir}" in capsys.readouterr().out
    assert len(json.loads((sweep_dir / "jobs" / "jobs.json").read_text())) == 2
    deadline = time.monotonic() + 300
    while len(list(sweep_dir.glob("circle_*/metrics.json"))) < 2:
        assert time.monotonic() < deadline, "the detached jobs did not finish"
        time.sleep(0.5)
    assert main(["sweep", "--collect", str(sweep_dir)]) == 0
    assert "| all | 2 | 0 |" in (sweep_dir / "results.md").read_text()
    cells = _cells(sweep_dir)
    assert sorted(cells) == ["0", "1"]

    # cell 1 interrupted after its last checkpoint; cell 0 finished
    (cells["1"] / "metrics.json").unlink()
    finished = (cells["0"] / "metrics.json").stat().st_mtime_ns
    capsys.readouterr()
    assert main(["sweep", "--collect", str(sweep_dir)]) == 0
    assert "| all | 2 | 1 |" in capsys.readouterr().out  # not finished counts as failed

    # a rerun of the stored grid (waiting this time): skips cell 0, resumes cell 1 in place
    assert main(["sweep", "--sweep-dir", str(sweep_dir), "--launcher", "local"]) == 0
    assert _cells(sweep_dir) == cells  # no new run directories
    assert (cells["0"] / "metrics.json").stat().st_mtime_ns == finished
    assert "resuming" in (cells["1"] / "run.log").read_text()
    (job,) = json.loads((sweep_dir / "jobs" / "jobs.json").read_text())
    assert job["name"] == cells["1"].name.rsplit("_", 1)[0]
    assert "| all | 2 | 0 |" in (sweep_dir / "results.md").read_text()


def test_an_inline_rerun_skips_every_finished_cell(tmp_path, capsys):
    sweep_dir = tmp_path / "sweep"
    args = ["sweep", "circle", *LOCAL, "train.epochs=1", "seed=0,1", "--sweep-dir", str(sweep_dir)]
    assert main(args) == 0
    stamps = {p: (p / "metrics.json").stat().st_mtime_ns for p in _cells(sweep_dir).values()}
    assert main(["sweep", "--sweep-dir", str(sweep_dir)]) == 0
    assert {p: (p / "metrics.json").stat().st_mtime_ns for p in _cells(sweep_dir).values()} == (
        stamps
    )
    assert "| all | 2 | 0 |" in capsys.readouterr().out


def test_a_long_grid_label_is_shortened_to_a_unique_valid_run_name():
    from jepa_framework.jobs.sweep import MAX_LABEL, Point

    long_a = Point({"tracking.0.filename": "a" * 300}, recipe=None)
    long_b = Point({"tracking.0.filename": "a" * 299 + "b"}, recipe=None)
    assert len(long_a.label) == MAX_LABEL and long_a.label != long_b.label
    assert Point({"seed": "1"}, recipe=None).label == "seed-1"


def test_a_single_run_has_a_mean_and_no_claimed_spread():
    from jepa_framework.jobs.sweep import _cell, _stats

    assert _cell(_stats([3.0])) == "3"
    assert _cell(_stats([3.0, 5.0])) == "4 ± 1.4"
    assert _cell(_stats([None])) == "—"
