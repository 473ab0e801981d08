"""Checkpoints: atomic, weights_only, and a run killed with SIGKILL resumes bit-identically."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from jepa_framework.commands.cli import main
from jepa_framework.pipeline.checkpoint import (
    PHASES,
    load_checkpoint,
    load_weights,
    save_checkpoint,
)

RECIPE = [
    "circle",
    "data.dataset.size=300",
    "data.dataset.sequence_length=12",
    "objective.rollout_steps=4",  # the circle recipe rolls out further than 12 frames allow
    "model.embedding_dim=8",
    "train.epochs=6",
    "train.batch_size=8",
    "train.threads=1",
    "decoder_train.epochs=2",
    "decoder_train.batch_size=32",
    "output.forecast_frames=8",
    "output.video_panel_size=32",
    # the evaluation is not a checkpointed phase: resuming is about training, and the curve
    # evaluation's controls would triple each run's time
    "eval.enabled=false",
]


def test_checkpoints_replace_atomically_and_load_weights_only(tmp_path):
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, {"epoch": 1, "w": torch.ones(3)})
    save_checkpoint(path, {"epoch": 2, "w": torch.zeros(3)})
    assert load_weights(path)["epoch"] == 2
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]  # no temporary files left


@pytest.mark.parametrize(
    ("extra", "kill_after"),
    [
        ((), ("jepa", 2)),
        # circle's oscillator has no parameters to refit: a residual MLP does
        (
            ("model.predictor.name=residual_mlp", "refit.epochs=40", "refit.batch_size=64"),
            ("refit", 2),
        ),
    ],
    ids=["in-phase-1", "in-the-refit"],
)
def test_a_killed_run_resumes_to_bit_identical_weights(tmp_path, extra, kill_after):
    reference_dir, killed_dir = tmp_path / "reference", tmp_path / "killed"
    assert main(["run", *RECIPE, *extra, f"output.dir={reference_dir}"]) == 0
    (reference,) = reference_dir.iterdir()

    proc = subprocess.Popen(
        # the killed and resumed run read the data through a memory map, the reference from RAM
        [sys.executable, "-m", "jepa_framework", "run", *RECIPE, *extra]
        + ["data.dataset.storage=mmap"]
        + [f"output.dir={killed_dir}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "JEPA_CACHE_DIR": os.environ["JEPA_CACHE_DIR"]},
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = list(killed_dir.glob("*/checkpoint.pt"))
        if found:
            progress = load_checkpoint(found[0])
            if (PHASES.index(progress.phase), progress.epoch) >= (
                PHASES.index(kill_after[0]),
                kill_after[1],
            ):
                break
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    (killed,) = killed_dir.iterdir()
    assert not (killed / "metrics.json").exists()  # it really died mid-run
    assert load_checkpoint(killed / "checkpoint.pt").phase == kill_after[0]

    assert main(["run", "--resume", str(killed)]) == 0
    for name in ("encoder", "target_encoder", "predictor", "decoder"):
        expected = torch.load(reference / "models" / f"{name}.pt", weights_only=True)
        actual = torch.load(killed / "models" / f"{name}.pt", weights_only=True)
        for key in expected:
            assert torch.equal(expected[key], actual[key]), f"{name}.{key} differs"
    assert "resuming" in (killed / "run.log").read_text()
    assert "'storage': 'mmap'" in (killed / "run.log").read_text()


def test_resuming_a_finished_run_succeeds_with_nothing_to_do(tmp_path, capsys):
    """A requeued cluster job whose run already finished must exit 0 and change nothing."""
    assert (
        main(["run", *RECIPE, "train.epochs=1", "decoder_train.epochs=1", f"output.dir={tmp_path}"])
        == 0
    )
    (run_dir,) = tmp_path.iterdir()
    before = {p.name: p.stat().st_mtime_ns for p in run_dir.rglob("*")}
    capsys.readouterr()
    assert main(["run", "--resume", str(run_dir)]) == 0
    assert "nothing to do" in capsys.readouterr().out
    assert {p.name: p.stat().st_mtime_ns for p in run_dir.rglob("*")} == before
