"""`jepa sweep`: grid axes from overrides, and a tiny 2 x 2 sweep end to end."""

from __future__ import annotations

import csv
import json

import pytest

from jepa_framework.cli import main
from jepa_framework.errors import JepaError
from jepa_framework.sweep import short_key, split_axes, split_top_level

TINY = [
    "data.dataset.size=24",
    "data.dataset.sequence_length=12",
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
    assert all(float(r["vpt_mean"]) >= 1 and r["probe_r2_std"] != "" for r in rows)
    sweep = json.loads((sweep_dir / "sweep.json").read_text())
    assert sweep["axes"] == ["objective.regularizer.name", "seed"] and len(sweep["runs"]) == 4
    run_config = (sweep_dir / runs[-1] / "config.yaml").read_text()
    assert "name: sigreg" in run_config and "seed: 1" in run_config
