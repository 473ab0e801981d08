"""Faults as messages: damaged weight files, unwritable output, a full disk, NaN in any phase,
a recipe edited between interruption and resume, leftovers of a killed checkpoint write."""

from __future__ import annotations

import errno
import json
import math
import os
import shutil

import pytest
import torch
import yaml
from torch import nn

from jepa_framework import hookimpl
from jepa_framework.commands.cli import main
from jepa_framework.models.diagnostics import collapse_diagnostics, rankme
from jepa_framework.pipeline.checkpoint import CHECKPOINT_NAME, load_checkpoint
from jepa_framework.testing import plugin_host

from ..conftest import TINY

QUICK = [*TINY, "eval.enabled=false", "output.forecast_frames=4"]


def _run(out, *extra: str):
    assert main(["run", "circle", *QUICK, f"output.dir={out}", *extra]) == 0
    (run_dir,) = out.iterdir()
    return run_dir


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """One finished tiny run, copied by each test that damages it."""
    return _run(tmp_path_factory.mktemp("finished"))


@pytest.fixture
def interrupted(finished, tmp_path):
    """A copy of the run as if killed after its last checkpoint (no metrics.json yet)."""
    run_dir = tmp_path / finished.name
    shutil.copytree(finished, run_dir)
    (run_dir / "metrics.json").unlink()
    return run_dir


def _error(capsys, argv) -> str:
    capsys.readouterr()
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    assert "weights_only=False" not in err
    return err


class Payload:
    """Unpickling this would create a file; weights_only loading must refuse it."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


# --- damaged weight files ----------------------------------------------------------------------


@pytest.mark.parametrize("damage", ["truncated", "garbage", "pickle payload", "foreign", "empty"])
def test_a_damaged_checkpoint_is_a_clear_error_naming_the_file(interrupted, capsys, damage):
    path = interrupted / CHECKPOINT_NAME
    marker = interrupted / "pwned"
    data = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        path.write_bytes(os.urandom(4096))
    elif damage == "pickle payload":
        torch.save({"phase": "jepa", "payload": Payload(marker)}, path)
    elif damage == "foreign":
        torch.save({"state_dict": {"w": torch.ones(2)}}, path)
    else:
        path.write_bytes(b"")
    err = _error(capsys, ["run", "--resume", str(interrupted)])
    assert str(path) in err
    assert "jepa run" in err  # what to do
    assert not marker.exists()  # no pickled code ran


def test_a_checkpoint_of_other_networks_is_a_clear_error(interrupted, capsys):
    path = interrupted / CHECKPOINT_NAME
    state = torch.load(path, weights_only=True)
    key = next(iter(state["model"]))
    state["model"][key] = torch.zeros(3, 3, 3)
    torch.save(state, path)
    err = _error(capsys, ["run", "--resume", str(interrupted)])
    assert "do not fit" in err and str(path) in err and key in err


@pytest.mark.parametrize("damage", ["truncated", "pickle payload", "wrong shapes"])
def test_damaged_model_files_are_clear_errors_in_jepa_eval(finished, tmp_path, capsys, damage):
    run_dir = tmp_path / finished.name
    shutil.copytree(finished, run_dir)
    path = run_dir / "models" / "predictor.pt"
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[:100])
    elif damage == "pickle payload":
        torch.save(Payload(tmp_path / "pwned"), path)
    else:
        torch.save({"net.0.weight": torch.zeros(1)}, path)
    err = _error(capsys, ["eval", str(run_dir)])
    assert str(path) in err
    assert not (tmp_path / "pwned").exists()


# --- output that cannot be written -------------------------------------------------------------


def test_an_output_dir_that_cannot_hold_folders_is_a_clear_error(tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    err = _error(capsys, ["run", "circle", *QUICK, f"output.dir={blocker / 'results'}"])
    assert "output.dir" in err and str(blocker) in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_output_dir_is_a_clear_error(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        err = _error(capsys, ["run", "circle", *QUICK, f"output.dir={locked}"])
    finally:
        locked.chmod(0o700)
    assert "ermission denied" in err and "output.dir" in err


def _disk_full_after(monkeypatch, target, name: str, calls: int) -> None:
    """Make ``target.name`` fail like a full disk from its ``calls``-th call on."""
    real = getattr(target, name)
    count = {"n": 0}

    def fill(*args, **kwargs):
        count["n"] += 1
        if count["n"] >= calls:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(*args, **kwargs)

    monkeypatch.setattr(target, name, fill)


def test_a_full_disk_while_checkpointing_keeps_the_last_checkpoint(tmp_path, capsys, monkeypatch):
    import jepa_framework.pipeline.checkpoint as checkpoint

    # the 2nd checkpoint fails (only checkpoints serialise with torch.save during training)
    _disk_full_after(monkeypatch, checkpoint.torch, "save", calls=2)
    err = _error(capsys, ["run", "circle", *QUICK, f"output.dir={tmp_path}"])
    (run_dir,) = tmp_path.iterdir()
    assert "No space left on device" in err and CHECKPOINT_NAME in err
    assert [p.name for p in run_dir.glob(".checkpoint-*")] == []  # no half-written file left
    state = load_checkpoint(run_dir / CHECKPOINT_NAME)  # the first one, whole
    assert (state.phase, state.epoch) == ("jepa", 1)
    monkeypatch.undo()  # space freed: the run resumes and finishes
    assert main(["run", "--resume", str(run_dir)]) == 0
    assert (run_dir / "metrics.json").exists()


def test_a_full_disk_while_writing_artifacts_is_a_clear_error(tmp_path, capsys, monkeypatch):
    import jepa_framework.pipeline.artifacts as artifacts

    _disk_full_after(monkeypatch, artifacts, "write_video", calls=1)
    err = _error(capsys, ["run", "circle", *QUICK, f"output.dir={tmp_path}"])
    (run_dir,) = tmp_path.iterdir()
    assert "forecast.mp4" in err and "No space left on device" in err
    assert (run_dir / CHECKPOINT_NAME).exists() and (run_dir / "config.yaml").exists()
    monkeypatch.undo()
    assert main(["run", "--resume", str(run_dir)]) == 0
    assert (run_dir / "forecast.mp4").exists() and (run_dir / "metrics.json").exists()


# --- NaN ---------------------------------------------------------------------------------------


class Overflowing(nn.Module):
    """A linear map whose outputs are scaled by 1e30: finite on the contract check's zero batch,
    but its squared error overflows float32 on the first real batch, so training diverges."""

    def __init__(self, in_dim: int, out_shape: tuple[int, ...]) -> None:
        super().__init__()
        self.out_shape = out_shape
        self.linear = nn.Linear(in_dim, math.prod(out_shape))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.linear(x.flatten(1)) * 1e30).view(len(x), *self.out_shape)


class DivergingNetworks:
    """A third-party plugin whose networks diverge: the faults below come from real training."""

    @hookimpl
    def register_decoders(self, register):
        register("overflowing", lambda params, s: Overflowing(s.embedding_dim, s.obs_shape))

    @hookimpl
    def register_predictors(self, register):
        register("overflowing", lambda params, s: Overflowing(s.embedding_dim, (s.embedding_dim,)))


def test_a_diverging_one_step_decoder_phase_never_saves_a_non_finite_checkpoint(tmp_path, capsys):
    with plugin_host(DivergingNetworks()):
        err = _error(
            capsys,
            [
                "run",
                "circle",
                *QUICK,
                "decoder_train.batch_size=64",  # one step per epoch: no later loss to notice it
                "decoder_train.solver=gradient",  # circle's linear decoder is solved otherwise
                "model.decoder.name=overflowing",
                f"output.dir={tmp_path}",
            ],
        )
    (run_dir,) = tmp_path.iterdir()
    assert "decoder_train.lr" in err and "lower train.lr" not in err
    assert "after jepa epoch 2" in err  # the checkpoint it names exists and is the last good one
    state = load_checkpoint(run_dir / CHECKPOINT_NAME)
    assert (state.phase, state.epoch) == ("jepa", 2)
    for weights in (state.model, state.decoder):
        assert all(torch.isfinite(t).all() for t in weights.values() if t.is_floating_point())


def test_divergence_in_the_first_epoch_promises_no_checkpoint(tmp_path, capsys):
    with plugin_host(DivergingNetworks()):
        err = _error(
            capsys,
            [
                "run",
                "circle",
                *QUICK,
                "model.predictor.name=overflowing",
                "train.grad_clip=0",
                f"output.dir={tmp_path}",
            ],
        )
    (run_dir,) = tmp_path.iterdir()
    assert "lower train.lr" in err and "Nothing was saved" in err
    assert "train.grad_clip=1.0" in err  # clipping is off: the hint says so
    assert not (run_dir / CHECKPOINT_NAME).exists()


@pytest.mark.parametrize(
    "z",
    [
        torch.full((64, 8), float("nan")),
        torch.full((64, 8), float("inf")),
        torch.randn(64, 8) * 1e38,
        torch.zeros(64, 8),
        torch.randn(1, 8),
    ],
    ids=["nan", "inf", "huge", "zeros", "one_row"],
)
def test_collapse_diagnostics_survive_degenerate_embeddings(z):
    diag = collapse_diagnostics(z)
    rank = rankme(z)
    assert math.isnan(rank) or 1.0 <= rank <= 8.0
    if not torch.isfinite(z).all() or not all(math.isfinite(v) for v in diag.values()):
        assert diag["collapsed"] == 1.0


# --- resume ------------------------------------------------------------------------------------


def test_resume_refuses_an_edited_recipe_naming_the_changed_keys(interrupted, capsys):
    config = interrupted / "config.yaml"
    recipe = yaml.safe_load(config.read_text())
    recipe["train"]["lr"] = 0.5
    recipe["data"]["dataset"]["size"] = 30
    config.write_text(yaml.safe_dump(recipe, sort_keys=False))
    err = _error(capsys, ["run", "--resume", str(interrupted)])
    assert "data.dataset.size" in err and "train.lr" in err and "train.epochs" not in err


def test_resume_cleans_up_temporary_checkpoints_and_finishes(interrupted):
    leftover = interrupted / ".checkpoint-k1ll3d.tmp"
    leftover.write_bytes(b"half a checkpoint")
    assert main(["run", "--resume", str(interrupted)]) == 0
    assert not leftover.exists()
    metrics = json.loads((interrupted / "metrics.json").read_text())
    assert len(metrics["history"]["jepa"]) == 2
