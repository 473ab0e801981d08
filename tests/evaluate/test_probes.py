"""Probe penalties chosen on validation trajectories, and the forecast's sensitivity to them."""

from __future__ import annotations

import math

import pytest
import torch

from jepa_framework.evaluate.probe_penalty import ALPHA_GRID, RidgePath, choose_penalty
from jepa_framework.evaluate.probe_sensitivity import (
    neighbour_penalties,
    sensitivity_record,
    vpt_by_penalty,
)
from jepa_framework.evaluate.ridge import Ridge

# --- the penalty ------------------------------------------------------------------------------


def test_noiseless_linear_latents_are_read_best_without_a_penalty():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1500, 8, generator=g)
    y = x.double() @ torch.randn(8, 3, generator=g, dtype=torch.float64) + 1.5
    choice = choose_penalty(x[:1000], y[:1000], x[1000:], y[1000:])
    assert choice.alpha == 0.0
    assert choice.errors[0] < 1e-9  # the exact reading
    assert list(choice.errors) == sorted(choice.errors)  # every penalty only adds bias
    record = choice.record()
    assert record["grid"] == list(ALPHA_GRID) and record["alpha"] == 0.0
    assert len(record["validation_error"]) == len(ALPHA_GRID)
    assert record["validation_windows"] == 500


def test_noisy_collinear_latents_need_a_large_penalty():
    """Forty noisy copies of one signal from sixty windows: least squares fits the noise."""
    g = torch.Generator().manual_seed(0)
    s = torch.randn(560, 1, generator=g)
    z = s + 3.0 * torch.randn(560, 40, generator=g)
    choice = choose_penalty(z[:60], s[:60], z[60:], s[60:])
    assert choice.alpha >= 0.1
    assert choice.errors[ALPHA_GRID.index(choice.alpha)] < 0.8 * choice.errors[0]


def test_the_ridge_path_is_the_ridge_fit_and_least_squares_survives_dead_features():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(300, 5, generator=g)
    y = torch.randn(300, 2, generator=g)
    path = RidgePath.fit(x, y)
    for alpha in (1e-6, 1e-3, 1.0):
        assert torch.allclose(path.at(alpha).weight, Ridge.fit(x, y, alpha).weight, atol=1e-8)
    dead = torch.cat([x, torch.zeros(300, 1), x[:, :1]], dim=1)  # a constant and a copy
    weight = RidgePath.fit(dead, y).at(0.0).weight
    assert bool(torch.isfinite(weight).all())
    pred = RidgePath.fit(dead, y).at(0.0).predict(dead)
    assert torch.allclose(pred, Ridge.fit(x, y, 1e-12).predict(x), atol=1e-4)


def _tiny_pendulum():
    from jepa_builtins.datasets.pendulum import PendulumDataset, PendulumParams

    return PendulumDataset(
        PendulumParams(size=64, sequence_length=6, start="uniform_2pi", cache=False)
    )


class _LastFrame(torch.nn.Module):
    """The last frame's positions: sin and cos of the angles are linear in them."""

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        return windows[:, -1]


class _Projection(torch.nn.Module):
    """A fixed random linear map of the last frame, standing in for a random encoder."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("w", torch.randn(4, 6, generator=torch.Generator().manual_seed(2)))

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        return windows[:, -1] @ self.w


def _model():
    """A JEPA whose latent is the last frame and whose rollout holds it (latent copy-last)."""
    from jepa_framework.models.jepa import JEPA

    return JEPA(_LastFrame(), torch.nn.Identity(), "online", history=2)


def _study(dataset, test, validation_seed: int):
    from jepa_framework.evaluate.probes import probe_study

    train_idx = torch.arange(48)
    return probe_study(
        _model(),
        _Projection(),
        dataset,
        train_idx,
        test,
        probe_steps=2,
        samples=200,
        seed=0,
        device=torch.device("cpu"),
        validation_seed=validation_seed,
        context=3,
    )


def test_the_penalty_reads_validation_trajectories_never_the_test_set(fresh_host):
    from jepa_framework.evaluate.rollout import held_out

    dataset = _tiny_pendulum()
    held = held_out(dataset, 12, 2, 4, seed=3)
    report, probes = _study(dataset, (held.stored, held.states), validation_seed=7)
    garbage = (torch.full_like(held.stored, math.nan), torch.full_like(held.states, math.nan))
    unseen, _ = _study(dataset, garbage, validation_seed=7)
    assert unseen["penalty"] == report["penalty"]
    assert unseen["random_encoder"]["penalty"] == report["random_encoder"]["penalty"]
    assert unseen["r2_mean"] != report["r2_mean"]  # the test set is what the R² reads
    other, _ = _study(dataset, (held.stored, held.states), validation_seed=8)
    assert other["penalty"]["validation_error"] != report["penalty"]["validation_error"]
    assert report["penalty"]["validation_windows"] == 12
    assert (
        probes.jepa_penalty is not None and probes.jepa_penalty.alpha == report["penalty"]["alpha"]
    )
    spectrum = report["spectrum"]
    assert spectrum["state_dim"] == dataset.state_dim == 4
    assert spectrum["latent_dim"] == 4 and len(spectrum["singular_values"]) == 4


# --- the sensitivity --------------------------------------------------------------------------


def test_neighbour_penalties_are_a_decade_either_side():
    low, mid, high = neighbour_penalties(1e-3)
    assert (low, mid, high) == pytest.approx((1e-4, 1e-3, 1e-2))
    assert neighbour_penalties(0.0) == (0.0, 1e-8)


def test_vpt_by_penalty_reads_each_penalty_through_its_own_ridge():
    g = torch.Generator().manual_seed(0)
    positions = torch.randn(10, 20, 2, generator=g)
    sigma = positions.flatten(0, 1).std(0)
    zeros, ones, eye = torch.zeros(2).double(), torch.ones(2).double(), torch.eye(2).double()
    exact = Ridge(zeros, ones, zeros, eye)
    biased = Ridge(zeros, ones, sigma.double(), eye)  # off by one std: NRMSE 1
    vpts = vpt_by_penalty(positions, positions, sigma, {1e-3: exact, 1e-2: biased}, lambda r: r)
    assert vpts == {1e-3: 20.0, 1e-2: 0.0}


def test_a_spread_beyond_the_tolerance_flags_the_probe():
    steady = sensitivity_record({1e-4: 30.0, 1e-3: 31.0, 1e-2: 29.0}, 1e-3)
    assert steady["spread"] == 2.0 and steady["tolerance"] == pytest.approx(3.1)
    assert steady["probe_sensitive"] is False
    assert set(steady["vpt"]) == {"0.0001", "0.001", "0.01"}
    assert sensitivity_record({1e-4: 30.0, 1e-3: 31.0, 1e-2: 20.0}, 1e-3)["probe_sensitive"]
    short = sensitivity_record({1e-4: 10.0, 1e-3: 10.0, 1e-2: 12.0}, 1e-3)  # at least 1 frame
    assert short["tolerance"] == 1.0 and short["probe_sensitive"] is True


def test_the_sensitivity_at_the_chosen_penalty_is_the_scored_vpt(fresh_host):
    from jepa_framework.evaluate.metrics import valid_frames
    from jepa_framework.evaluate.probe_sensitivity import probe_sensitivity
    from jepa_framework.evaluate.rollout import JepaForecast, held_out, score

    dataset = _tiny_pendulum()
    held = held_out(dataset, 12, 3, 15, seed=3, train_idx=torch.arange(48))
    _, probes = _study(dataset, (held.stored[:, :6], held.states[:, :6]), validation_seed=7)
    jepa = JepaForecast(_model(), torch.nn.Identity(), torch.device("cpu"))
    _, state = score(dataset, held, jepa, probes, {})
    scored = float(valid_frames(state["jepa"], 0.5).float().median())
    record = probe_sensitivity(dataset, held, jepa, probes)
    assert record is not None and len(record["vpt"]) >= 2
    assert record["vpt"][f"{record['alpha']:g}"] == scored
