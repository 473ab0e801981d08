"""Each mode end to end at tiny size: every output file exists and is what it claims to be."""

from __future__ import annotations

import json

import imageio_ffmpeg
import pytest
import yaml
from PIL import Image

from jepa_framework.commands.cli import main

from ..conftest import TINY

MODE_OVERRIDES = {
    "circle": ["output.forecast_frames=200"],
    "spiral": ["output.forecast_frames=16"],
    # the recipe reads 16 frames of history: trajectories a little longer than the tiny ones
    "lissajous": ["output.forecast_frames=16", "data.dataset.sequence_length=20"],
    "pendulum": ["output.forecast_frames=16", "objective.rollout_steps=4"],
    "pendulum_image": ["output.forecast_frames=16", "data.dataset.image_size=16"],
}


def run_mode(mode: str, out_dir, *extra: str):
    code = main(["run", mode, *TINY, *MODE_OVERRIDES[mode], f"output.dir={out_dir}", *extra])
    assert code == 0
    (run_dir,) = out_dir.iterdir()
    return run_dir


@pytest.mark.parametrize("mode", list(MODE_OVERRIDES))
def test_every_mode_writes_every_output(mode, tmp_path):
    run_dir = run_mode(mode, tmp_path)
    assert run_dir.name.startswith(f"{mode}_")
    for name in ("encoder", "target_encoder", "predictor", "decoder"):
        assert (run_dir / "models" / f"{name}.pt").stat().st_size > 0
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert config["train"]["epochs"] == 2 and config["data"]["dataset"]["name"] == mode
    assert "jepa epoch 2" in (run_dir / "run.log").read_text()
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert len(metrics["embedding"]["per_dim_std"]) == 8
    assert 1.0 <= metrics["embedding"]["rankme"] <= 8.0
    assert isinstance(metrics["collapsed"], bool)
    assert metrics["jepa"]["train_loss"] > 0 and metrics["decoder"]["val_recon_mse"] >= 0
    for png in ("reconstruction.png", "loss_curves.png"):
        with Image.open(run_dir / png) as img:
            assert img.size[0] > 100 and img.size[1] > 100
    frames, _ = imageio_ffmpeg.count_frames_and_secs(str(run_dir / "forecast.mp4"))
    assert frames == metrics["forecast_frames"] == int(MODE_OVERRIDES[mode][0].split("=")[1])
    lines = (run_dir / "scalars.jsonl").read_text().splitlines()
    assert any("jepa/val_loss" in line for line in lines)


def test_the_forecast_video_is_h264_for_browsers(tmp_path):
    run_dir = run_mode("circle", tmp_path)
    reader = imageio_ffmpeg.read_frames(str(run_dir / "forecast.mp4"))
    meta = next(reader)
    reader.close()
    assert meta["codec"] == "h264" and meta["pix_fmt"].startswith("yuv420p")
    assert meta["size"][0] > meta["size"][1]  # ground truth beside prediction


def test_the_resolved_config_reproduces_the_run(tmp_path):
    first = run_mode("lissajous", tmp_path / "a")
    code = main(["run", str(first / "config.yaml"), f"output.dir={tmp_path / 'b'}"])
    assert code == 0
    (second,) = (tmp_path / "b").iterdir()
    m1 = json.loads((first / "metrics.json").read_text())
    m2 = json.loads((second / "metrics.json").read_text())
    assert m1["history"] == m2["history"]  # deterministic on CPU


def test_a_second_run_never_reuses_the_first_directory(tmp_path):
    run_mode("spiral", tmp_path)
    main(["run", "spiral", *TINY, *MODE_OVERRIDES["spiral"], f"output.dir={tmp_path}"])
    assert len(list(tmp_path.iterdir())) == 2
