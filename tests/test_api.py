"""The Python API: train a recipe, reopen the finished run, forecast in raw observations."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

import jepa_framework
from jepa_framework.core.errors import JepaError
from jepa_framework.testing import TINY_OVERRIDES

QUICK = [*TINY_OVERRIDES, "eval.enabled=false", "output.forecast_frames=4"]


@pytest.fixture(scope="module")
def pendulum_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("api")
    return jepa_framework.train("pendulum", [*QUICK, f"output.dir={out}"], device="cpu")


def test_train_returns_the_finished_run_with_its_typed_recipe(pendulum_run):
    run = pendulum_run
    assert (run.path / "metrics.json").is_file()
    assert run.recipe.name == "pendulum" and run.recipe.train.epochs == 2
    assert run.metrics["collapsed"] is False and run.metrics["jepa"]["train_loss"] > 0
    assert not run.model.training and not run.decoder.training
    assert run.device == torch.device("cpu")


def test_load_run_reopens_a_run_and_forecasts_in_raw_coordinates(pendulum_run):
    run = jepa_framework.load_run(pendulum_run.path, device="cpu")
    stored, states = run.sample(n=3, frames=10, seed=7)
    assert stored.shape == (3, 10, 4) and states.shape == (3, 10, 4)
    z = run.encode(stored[:, :2])
    assert z.shape == (3, run.recipe.model.embedding_dim)
    latents = run.rollout(z, 5)
    assert latents.shape == (3, 5, z.shape[1])
    decoded = run.decode(latents)
    assert decoded.shape == (3, 5, 4) and decoded.dtype == torch.float32
    forecast = run.forecast(stored[:, :2].numpy(), 5)  # numpy in, torch out
    torch.testing.assert_close(forecast, decoded)
    # the same weights as the run that trained them: encode agrees with the original object
    torch.testing.assert_close(pendulum_run.encode(stored[:, :2]), z)
    # more frames than the history: the last `history` frames are encoded
    torch.testing.assert_close(run.encode(stored[:, :4]), run.encode(stored[:, 2:4]))


def test_evaluate_writes_eval_json_and_returns_it(pendulum_run):
    report = pendulum_run.evaluate()
    on_disk = json.loads((pendulum_run.path / "eval.json").read_text())
    assert report["summary"]["vpt"] == on_disk["summary"]["vpt"]
    assert "jepa" in report["forecast"]["methods"]
    # the refit control freezes a copy of the encoder, never the run's own
    encoder = pendulum_run.assembly.model.encoder
    assert all(p.requires_grad for p in encoder.parameters())


def test_image_runs_take_stored_frames_or_floats_and_return_float_frames(tmp_path):
    run = jepa_framework.train(
        "pendulum_image", [*QUICK, f"output.dir={tmp_path}", "data.dataset.image_size=16"]
    )
    stored, _ = run.sample(n=2, frames=4)
    assert stored.dtype == torch.uint8 and stored.shape == (2, 4, 16, 16)  # part labels
    floats = run.dataset.to_float(stored)
    assert floats.shape == (2, 4, 3, 16, 16)
    from_stored, from_floats = run.forecast(stored[:, :2], 3), run.forecast(floats[:, :2], 3)
    torch.testing.assert_close(from_stored, from_floats)
    assert from_stored.shape == (2, 3, 3, 16, 16)
    assert float(from_stored.min()) >= 0.0 and float(from_stored.max()) <= 1.0


def test_bad_inputs_are_clear_errors(pendulum_run, tmp_path):
    with pytest.raises(JepaError, match=r"obs \[4\]"):
        pendulum_run.encode(np.zeros((2, 2, 5), dtype=np.float32))
    with pytest.raises(JepaError, match="at least 2"):
        pendulum_run.encode(torch.zeros(2, 1, 4))
    with pytest.raises(JepaError, match="positive integer"):
        pendulum_run.forecast(torch.zeros(2, 2, 4), 0)
    with pytest.raises(JepaError, match="does not exist"):
        jepa_framework.load_run(tmp_path / "nope")
    with pytest.raises(JepaError, match="not a run directory"):
        jepa_framework.load_run(tmp_path)


def test_importing_the_package_stays_cheap():
    code = "import sys, jepa_framework; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
