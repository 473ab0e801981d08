"""DistributedDataParallel via torchrun: 2 CPU processes (gloo) on a memory-mapped dataset
match one process on the same data in memory."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from jepa_framework.commands.cli import main

RECIPE = [
    "circle",
    "data.dataset.size=160",
    "data.dataset.sequence_length=12",
    "objective.rollout_steps=4",  # the circle recipe rolls out further than 12 frames allow
    "model.embedding_dim=8",
    "train.epochs=3",
    "train.batch_size=16",  # the global batch: 8 per process with 2 processes
    "train.threads=1",
    "refit.epochs=2",  # the refit phase splits its latent clips across ranks too
    "model.predictor.name=residual_mlp",  # circle's oscillator has nothing to refit
    "refit.batch_size=16",
    "decoder_train.epochs=1",
    "decoder_train.batch_size=16",
    "output.forecast_frames=8",
    "output.video_panel_size=32",
    "eval.enabled=false",
]
#: float sums run in another order across ranks; after 30 steps the loss agrees to this
RELATIVE_TOLERANCE = 1e-3


def test_two_processes_match_one_with_the_same_global_batch(tmp_path):
    single_dir, ddp_dir = tmp_path / "single", tmp_path / "ddp"
    assert main(["run", *RECIPE, f"output.dir={single_dir}"]) == 0
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node=2",
            "-m",
            "jepa_framework",
            "run",
            *RECIPE,
            "data.dataset.storage=mmap",  # both ranks map the one cache file the first run wrote
            f"output.dir={ddp_dir}",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (single,) = single_dir.iterdir()
    (ddp,) = ddp_dir.iterdir()  # only rank 0 made a run directory
    m1 = json.loads((single / "metrics.json").read_text())
    m2 = json.loads((ddp / "metrics.json").read_text())
    for epoch_single, epoch_ddp in zip(m1["history"]["jepa"], m2["history"]["jepa"], strict=True):
        assert epoch_ddp["train_loss"] == pytest.approx(
            epoch_single["train_loss"], rel=RELATIVE_TOLERANCE
        )
        assert epoch_ddp["rankme"] == pytest.approx(epoch_single["rankme"], rel=RELATIVE_TOLERANCE)
    assert len(m1["history"]["refit"]) == 2
    refits = zip(m1["history"]["refit"], m2["history"]["refit"], strict=True)
    for epoch_single, epoch_ddp in refits:
        for key in ("train_loss", "val_loss"):
            assert epoch_ddp[key] == pytest.approx(epoch_single[key], rel=RELATIVE_TOLERANCE)
    assert "2 process(es)" in (ddp / "run.log").read_text()
    assert "'storage': 'mmap'" in (ddp / "run.log").read_text()
    assert (ddp / "forecast.mp4").exists() and (ddp / "checkpoint.pt").exists()
