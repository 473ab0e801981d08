"""The Lorenz dataset, the GRU predictor and the recipe, through a host that loads the module."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from jepa_lorenz.dataset import LorenzDataset, LorenzParams, integrate, lorenz_rhs
from jepa_lorenz.predictor import GRUParams, build_gru_predictor

from jepa_framework.commands.cli import main
from jepa_framework.core.components import Shapes


def test_the_plugin_registers_its_components_and_recipe(lorenz_host):
    assert lorenz_host.registry("datasets").get("lorenz").plugin == "jepa_lorenz.plugin"
    assert lorenz_host.registry("predictors").get("gru").plugin == "jepa_lorenz.plugin"
    assert lorenz_host.recipes["lorenz"].is_file()
    info = lorenz_host.info["jepa_lorenz.plugin"]
    assert info.components == ["dataset:lorenz", "predictor:gru", "recipe:lorenz"]
    assert "circle" in lorenz_host.registry("datasets")  # the built-ins are still there


def test_rk4_converges_and_follows_the_equations():
    start = np.array([[1.0, 1.0, 20.0], [-5.0, 3.0, 30.0]])
    reference = integrate(start, 51, 0.02, 64, 10.0, 28.0, 8 / 3)  # 1 time unit
    err = [
        np.abs(integrate(start, 51, 0.02, n, 10.0, 28.0, 8 / 3) - reference).max() for n in (2, 4)
    ]
    assert err[0] < 1e-3 and 12 < err[0] / err[1] < 20  # fourth order: half the step, 1/16
    # the recorded frames obey dx/dt = f(x): central differences of a finely sampled run
    dense = integrate(start, 3, 1e-4, 1, 10.0, 28.0, 8 / 3)
    slope = (dense[:, 2] - dense[:, 0]) / 2e-4
    np.testing.assert_allclose(
        slope, lorenz_rhs(dense[:, 1], 10.0, 28.0, 8 / 3), rtol=1e-5, atol=1e-5
    )


def test_trajectories_lie_on_the_attractor_in_unit_range(tmp_path):
    dataset = LorenzDataset(LorenzParams(size=16, sequence_length=100, cache=False), tmp_path)
    assert dataset.observations.shape == (16, 100, 3)
    assert dataset.observations.dtype == torch.float32
    assert dataset.obs_shape == (3,)
    obs, states = dataset.observations, dataset.states
    assert obs.abs().max() < 1.6 and 0.3 < obs.std() < 1.0
    assert (states[..., 2] > 0).all()  # z stays positive on the attractor
    torch.testing.assert_close(obs, (states - torch.tensor([0.0, 0.0, 27.0])) / 20.0)
    assert dataset.lyapunov_frames == pytest.approx(55.2, abs=0.1)


def test_videos_and_reconstruction_plots_handle_three_coordinates(tmp_path):
    dataset = LorenzDataset(LorenzParams(size=4, sequence_length=20, cache=False), tmp_path)
    frames = dataset.frames_for_video(dataset.observations[0], 64)
    assert frames.shape == (20, 64, 64, 3) and frames.dtype == np.uint8
    dataset.plot_reconstruction(dataset.observations, dataset.observations, tmp_path / "r.png")
    assert (tmp_path / "r.png").stat().st_size > 0


def test_the_gru_predictor_maps_embeddings_to_embeddings_near_identity():
    shapes = Shapes(obs_shape=(3,), history=2, embedding_dim=16)
    torch.manual_seed(0)
    z = torch.randn(32, 16) * 0.5
    gated = build_gru_predictor(GRUParams(hidden_dim=32), shapes)
    free = build_gru_predictor(GRUParams(hidden_dim=32, keep_bias=0.0), shapes)
    out = gated(z)
    assert out.shape == (32, 16)
    assert (gated(z) - z).norm() < (free(z) - z).norm()
    out.sum().backward()
    assert all(p.grad is not None for p in gated.parameters())


def test_the_recipe_runs_end_to_end(lorenz_host, tmp_path):
    tiny = [
        "data.dataset.size=24",
        "data.dataset.sequence_length=12",
        "model.embedding_dim=8",
        "model.predictor.hidden_dim=16",
        "train.epochs=1",
        "train.batch_size=8",
        "decoder_train.epochs=1",
        "output.forecast_frames=12",
        "output.video_panel_size=32",
    ]
    assert main(["run", "lorenz", *tiny, f"output.dir={tmp_path / 'out'}"]) == 0
    (run_dir,) = (tmp_path / "out").iterdir()
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["forecast_frames"] == 12
    for name in ("reconstruction.png", "forecast.mp4", "models/predictor.pt"):
        assert (run_dir / name).stat().st_size > 0
