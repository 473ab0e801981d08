"""Evaluation metrics on cases with known answers, baselines where they are exact, `jepa eval`."""

from __future__ import annotations

import json
import math

import pytest
import torch
from PIL import Image

from jepa_framework.commands.cli import main
from jepa_framework.datasets.observations import VectorObservations
from jepa_framework.evaluate import baselines as bl
from jepa_framework.evaluate.matched_budget import Budget, PhaseBudget
from jepa_framework.evaluate.metrics import nrmse, pixel_errors, psnr, valid_frames, vpt
from jepa_framework.evaluate.ridge import Ridge, r2_scores
from jepa_framework.evaluate.spaces import scoring_of
from jepa_framework.evaluate.vector_scoring import VectorScoring
from jepa_framework.pipeline.optim import StepPlan

from .. import conftest

TINY = [*conftest.TINY, "output.forecast_frames=8", "objective.rollout_steps=3", "eval.horizon=30"]


# --- metrics ----------------------------------------------------------------------------------


def test_nrmse_of_a_perfect_forecast_is_zero_and_of_an_offset_is_known():
    truth = torch.randn(5, 7, 3)
    sigma = torch.tensor([1.0, 2.0, 4.0])
    assert nrmse(truth, truth, sigma).abs().max() == 0
    offset = torch.tensor([1.0, 2.0, 0.0])  # normalised errors 1, 1, 0 -> sqrt(2/3)
    curves = nrmse(truth + offset, truth, sigma)
    assert curves.shape == (5, 7)
    assert torch.allclose(curves, torch.full((5, 7), math.sqrt(2 / 3)))


def test_vpt_counts_the_leading_frames_below_the_threshold():
    curves = torch.tensor(
        [
            [0.1, 0.2, 0.6, 0.1, 0.9],  # two good frames, then above 0.5 (later dips don't count)
            [0.6, 0.7, 0.8, 0.9, 1.0],  # wrong from the first frame: 0
            [0.1, 0.1, 0.1, 0.1, 0.1],  # never: censored at H = 5
            [0.1, 0.5, 0.5, 0.5, 0.7],  # exactly at the threshold still counts as valid: 4
        ]
    )
    assert valid_frames(curves, 0.5).tolist() == [2, 0, 5, 4]
    v = vpt(curves[:3], 0.5, frame_dt=0.05, lyapunov_frames=14.0)
    assert v["frames"] == 2 and v["seconds"] == pytest.approx(0.10)
    assert v["lyapunov_times"] == pytest.approx(2 / 14)
    assert v["censored"] == pytest.approx(1 / 3)
    assert vpt(curves, 0.5, 0.05, None)["lyapunov_times"] is None


def test_psnr_and_relative_pixel_error_of_known_frames():
    assert float(psnr(0.01)) == pytest.approx(20.0)
    assert float(psnr(1.0)) == pytest.approx(0.0)
    truth = torch.full((2, 3, 1, 4, 4), 0.5)
    mse, rel = pixel_errors(truth + 0.1, truth)
    assert torch.allclose(mse, torch.full((2, 3), 0.01))
    assert torch.allclose(rel, torch.full((2, 3), 0.04))


def test_ridge_probe_recovers_linear_targets_and_not_noise():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2000, 8, generator=g)
    w = torch.randn(8, 3, generator=g)
    y = x @ w + 1.5
    probe = Ridge.fit(x[:1000], y[:1000], alpha=1e-8)
    assert torch.allclose(r2_scores(probe.predict(x[1000:]), y[1000:]), torch.ones(3), atol=1e-5)
    noise = torch.randn(2000, 2, generator=g)
    r2 = r2_scores(Ridge.fit(x[:1000], noise[:1000]).predict(x[1000:]), noise[1000:])
    assert r2.abs().max() < 0.05


def test_r2_of_a_constant_target_is_zero_not_nan():
    assert r2_scores(torch.zeros(4, 1), torch.ones(4, 1)).tolist() == [0.0]


# --- baselines --------------------------------------------------------------------------------


def test_copy_last_and_constant_velocity_are_exact_where_they_should_be():
    still = torch.randn(4, 1, 2).expand(4, 10, 2)
    assert torch.equal(bl.copy_last(still[:, :2], 8), still[:, 2:])
    t = torch.arange(10.0).view(1, 10, 1)
    moving = torch.randn(4, 1, 2) + t * torch.randn(4, 1, 2)  # straight lines at constant speed
    assert torch.allclose(bl.constant_velocity(moving[:, :2], 8), moving[:, 2:], atol=1e-5)


def _circles(n: int, steps: int, omega: float = 0.3) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    radius = torch.rand(n, 1, generator=g) + 0.5
    phase = torch.rand(n, 1, generator=g) * 6.28 + omega * torch.arange(steps)
    return torch.stack([radius * phase.cos(), radius * phase.sin()], -1).double()


def test_linear_ar_is_exact_on_a_circle():
    train, test = _circles(32, 20), _circles(8, 60)
    ar = bl.LinearAR(train, order=2)
    forecast = ar(test[:, :2], 58)
    assert (forecast - test[:, 2:]).abs().max() < 1e-3


def test_residual_mlp_trains_on_its_budget_and_beats_copy_last():
    train, test = _circles(64, 20).float(), _circles(16, 12).float()
    plan = StepPlan(epochs=10, steps_per_epoch=10, warmup_steps=10)
    budget = Budget((PhaseBudget("jepa", plan, 32, 1e-2, 0.0, 1.0, 4),))
    fit = bl.train_residual_mlp(train, 2, budget, hidden=32, seed=0)
    assert fit.optimizer_steps == 100 and len(fit.epoch_losses) == 10
    sigma = test.flatten(0, 1).std(0)
    err = nrmse(fit.forecaster(test[:, :2], 10), test[:, 2:], sigma).mean()
    assert err < nrmse(bl.copy_last(test[:, :2], 10), test[:, 2:], sigma).mean()
    assert StepPlan.for_epochs(epochs=2, samples=21, batch_size=8, warmup_epochs=1.0) == StepPlan(
        2, 3, 3
    )


def test_pendulum_probe_targets_are_sines_cosines_and_velocities(fresh_host):
    from jepa_builtins.datasets.pendulum import PendulumDataset, PendulumParams

    dataset = PendulumDataset(PendulumParams(size=2, sequence_length=3, cache=False))
    targets, names = dataset.probe_targets(torch.tensor([[math.pi / 2, 0.0, 1.5, -2.0]]))
    assert names[:2] == ("sin_theta1", "cos_theta1") and len(names) == 6
    assert torch.allclose(targets, torch.tensor([[1.0, 0.0, 0.0, 1.0, 1.5, -2.0]]), atol=1e-6)
    assert dataset.frame_dt == 0.05 and dataset.lyapunov_frames == pytest.approx(16.0)
    assert isinstance(dataset.observation_space, VectorObservations)
    assert isinstance(scoring_of(dataset), VectorScoring)


# --- bands and probed positions ------------------------------------------------------------


def test_each_energy_band_gets_its_own_vpt_and_lyapunov_times_headline_first(fresh_host):
    from jepa_builtins.datasets.pendulum import PendulumDataset, PendulumParams

    from jepa_framework.evaluate.report import trajectory_groups

    dataset = PendulumDataset(PendulumParams(size=2, sequence_length=3, cache=False))
    # at rest: hanging down (E = -29.4), both rods at 60 degrees (E = -14.7), upper rod up
    # (E = 9.81 -> 0 < E <= 10), both rods up (E = 29.4 -> E > 10)
    states = torch.tensor(
        [
            [0.0, 0.0, 0.0, 0.0],
            [math.pi / 3, math.pi / 3, 0.0, 0.0],
            [math.pi, 0.0, 0.0, 0.0],
            [math.pi, math.pi, 0.0, 0.0],
        ]
    )
    curves = torch.tensor(
        [
            [0.1, 0.1, 0.1, 0.1],  # never fails: censored
            [0.1, 0.6, 0.1, 0.1],
            [0.1, 0.1, 0.6, 0.6],
            [0.1, 0.1, 0.1, 0.9],
        ]
    )
    groups = trajectory_groups(dataset, states)
    assert list(groups) == ["E>10", "0<E<=10", "E<=0"]  # the headline band first
    assert [g.mask.tolist() for g in groups.values()] == [
        [False, False, False, True],
        [False, False, True, False],
        [True, True, False, False],
    ]
    bands = VectorScoring().summarise({"nrmse": curves}, lambda c, e: {}, groups)["groups"]
    assert bands["E>10"]["frames"] == 3 and bands["E>10"]["lyapunov_times"] == pytest.approx(3 / 16)
    assert bands["0<E<=10"]["lyapunov_times"] == pytest.approx(2 / 17.8)
    low = bands["E<=0"]
    assert low["frames"] == 1  # the lower median of 4 and 1
    assert low["censored"] == 0.5 and low["lyapunov_times"] == pytest.approx(1 / 40.6)
    assert low["trajectories"] == 2


def _tiny_pendulum():
    from jepa_builtins.datasets.pendulum import PendulumDataset, PendulumParams

    return PendulumDataset(
        PendulumParams(size=64, sequence_length=6, start="uniform_2pi", cache=False)
    )


def test_probed_positions_are_exact_on_true_probe_targets(fresh_host):
    from jepa_builtins.datasets.double_pendulum import positions

    dataset = _tiny_pendulum()
    targets, _ = dataset.probe_targets(dataset.states)
    probed = dataset.probe_positions(targets)
    assert torch.allclose(probed, dataset.observations, atol=1e-5)
    assert torch.allclose(
        probed, torch.from_numpy(positions(dataset.states.double().numpy())).float(), atol=1e-5
    )
    sigma = dataset.observations.flatten(0, 1).std(0)
    assert nrmse(probed, dataset.observations, sigma).max() < 1e-4
    # a reading off the unit circle (a probe's shrunk sin and cos) keeps the angle
    assert torch.allclose(dataset.probe_positions(targets * 0.5), probed, atol=1e-5)


class _LastFrame(torch.nn.Module):
    """An encoder whose latent is the last frame's positions: a linear probe reads it exactly."""

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        return windows[:, -1]


def test_every_method_goes_through_the_same_probe(fresh_host):
    """With an exact probe and an identity predictor (latent copy-last), the JEPA rollout, the
    probe's copy-last, copy-last frames re-encoded and the true-state copy-last all agree, and
    they equal the coordinate mode's copy-last: the same NRMSE and normaliser."""
    from jepa_framework.evaluate.probes import Probes
    from jepa_framework.evaluate.rollout import JepaForecast, held_out, score
    from jepa_framework.models.jepa import JEPA

    dataset = _tiny_pendulum()
    targets, _ = dataset.probe_targets(dataset.states)
    # sin and cos of the angles are linear in the positions: the probe is exact on them
    probe = Ridge.fit(dataset.observations.flatten(0, 1), targets.flatten(0, 1), alpha=1e-9)
    model = JEPA(_LastFrame(), torch.nn.Identity(), "online", history=2)
    jepa = JepaForecast(model, torch.nn.Identity(), torch.device("cpu"))
    held = held_out(dataset, 12, 2, 15, seed=3)
    baselines = {"copy_last": bl.copy_last, "frames_held": bl.copy_last}
    obs, state = score(dataset, held, jepa, Probes(probe, probe), baselines)
    reference = obs["copy_last"]["nrmse"]  # the coordinate mode's copy-last
    assert reference.min() > 0.01  # the pendulum moves
    for name in ("jepa", "copy_last", "frames_held", "copy_last_true_state"):
        assert torch.allclose(state[name], reference, atol=2e-3), name
    assert torch.allclose(obs["jepa"]["nrmse"], reference, atol=1e-5)


# --- end to end -------------------------------------------------------------------------------


def _run(mode: str, out_dir, *extra: str):
    assert main(["run", mode, *TINY, f"output.dir={out_dir}", *extra]) == 0
    (run_dir,) = out_dir.iterdir()
    return run_dir


def test_jepa_run_evaluates_and_jepa_eval_reevaluates(tmp_path, capsys):
    run_dir = _run("pendulum", tmp_path, "eval.baseline_budgets=[1, 2]")
    report = json.loads((run_dir / "eval.json").read_text())
    assert set(report) >= {"settings", "probe", "forecast", "state_forecast", "summary"}
    methods = report["forecast"]["methods"]
    supervised = {"supervised", "supervised_x2", "residual_mlp", "residual_mlp_x2"}
    controls = {"random_encoder", "refit_predictor"}  # decoded in observation space too
    assert set(methods) == {
        "jepa",
        "copy_last",
        "constant_velocity",
        "linear_ar",
        *supervised,
        *controls,
    }
    trained = report["settings"]["baselines"]
    assert set(trained) == supervised
    steps = trained["supervised"]["optimizer_steps"]
    assert steps == 2 * 3  # the JEPA's plan: 2 epochs of ceil(21 / 8) batches
    assert (
        trained["residual_mlp_x2"]["optimizer_steps"]
        == trained["supervised_x2"]["optimizer_steps"]
        == 2 * steps
    )
    assert all(t["wall_s"] > 0 for t in trained.values())
    curve = report["budget_curve"]
    assert set(curve) == {"supervised", "residual_mlp", "jepa"}
    assert set(curve["supervised"]) == {"1", "2"} and curve["jepa"]["1"]["optimizer_steps"] == steps
    point = curve["residual_mlp"]["2"]
    assert point["vpt"] == methods["residual_mlp_x2"]["vpt"]["0.5"]["frames"]
    assert point["optimizer_steps"] == 2 * steps and point["wall_s"] > 0
    assert set(point["groups"]) == set(methods["residual_mlp_x2"]["groups"])
    assert len(methods["jepa"]["nrmse"]) == 30
    assert set(methods["jepa"]["vpt"]) == {"0.5", "0.3"}
    assert set(methods["jepa"]["groups"]) <= {"E>10", "0<E<=10", "E<=0"}
    assert 1 <= report["summary"]["vpt"]["copy_last"] <= 30
    _check_bands(report)
    state = report["state_forecast"]["methods"]
    # every method read through the same probe, the true-state copy-last beside them
    # ... and each supervised model through a probe of its own latents too
    own = {"supervised (own probe)", "supervised_x2 (own probe)"}
    assert set(state) == {*methods, "copy_last_true_state", *own}
    assert set(report["probe"]["own_probes"]) == own
    assert report["settings"]["random_encoder"]["optimizer_steps"] == steps
    # no refit: every method's budget is phase 1's, the JEPA's included
    budgets = report["budgets"]
    assert set(budgets) == set(methods)
    assert budgets["jepa"]["optimizer_steps"] == steps and budgets["jepa"]["wall_s"] > 0
    assert [p["phase"] for p in budgets["jepa"]["phases"]] == ["jepa"]
    for name in ("supervised", "residual_mlp", *controls):
        assert budgets[name]["optimizer_steps"] == steps, name
    assert budgets["linear_ar"] == {"optimizer_steps": 0, "wall_s": None, "phases": []}
    # the JEPA's own encoder, frozen, with a predictor refitted at the same budget
    refit = report["settings"]["refit_predictor"]
    assert refit["optimizer_steps"] == report["settings"]["random_encoder"]["optimizer_steps"]
    assert "JEPA's trained encoder" in refit["what"]
    assert set(report["summary"]["probe_r2"]) >= {"omega1", "omega2"}
    probe = report["probe"]
    assert len(probe["r2"]) == 6 and probe["ahead"]["k"][0] == 0
    assert len(probe["ahead"]["r2_mean"]) == len(probe["ahead"]["k"]) > 1
    assert "r2_mean" in probe["random_encoder"]
    for png in ("forecast_eval.png", "probe_r2.png", "budget_curve.png"):
        with Image.open(run_dir / png) as img:
            assert img.size[0] > 300
    (run_dir / "eval.json").unlink()
    capsys.readouterr()
    assert main(["eval", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert "| jepa | 0.5 |" in out and "probe R²" in out
    assert out.index("E>10") < out.index("0<E<=10") < out.index("all trajectories")
    again = json.loads((run_dir / "eval.json").read_text())
    assert again["summary"] == report["summary"]  # same weights, same held-out data


def test_image_runs_get_pixel_metrics_probed_positions_and_the_random_encoder_control(tmp_path):
    # the recipe leaves the supervised CNN off to keep the quick start quick; switch it on
    run_dir = _run("pendulum_image", tmp_path, "data.dataset.image_size=16", "eval.baselines=true")
    report = json.loads((run_dir / "eval.json").read_text())
    forecast = report["forecast"]
    assert forecast["kind"] == "image"
    # the recipe's CNN encoder, predictor and decoder trained end to end with a pixel loss
    # the controls decoded by their own linear decoders of frames
    assert set(forecast["methods"]) == {
        "jepa",
        "copy_last",
        "blank",
        "mean_frame",
        "supervised",
        "random_encoder",
        "refit_predictor",
    }
    assert set(forecast["methods"]["random_encoder"]["vpt"]) == {"0.025", "0.5"}
    trained = report["settings"]["baselines"]["supervised"]
    assert trained["optimizer_steps"] == 6 and trained["standardised"] is False
    assert set(report["budget_curve"]) == {"supervised", "jepa"}
    jepa = forecast["methods"]["jepa"]
    assert set(jepa["vpt"]) == {"0.025", "0.5"} and len(jepa["psnr"]) == 30
    assert report["summary"]["vpt_threshold"] == 0.5
    _check_bands(report)
    # probed positions: the JEPA, the probe's copy-last, the pixel baselines re-encoded and
    # probed, the random frozen encoder with a trained predictor, and the true-state reference
    state = report["state_forecast"]["methods"]
    assert set(state) == {
        "jepa",
        "copy_last",
        "blank",
        "mean_frame",
        "supervised",  # its predicted frames, re-encoded by the JEPA encoder and probed
        "supervised (own probe)",  # its rolled-out latents, read by a probe of its own
        "random_encoder",
        "refit_predictor",  # the JEPA's encoder frozen, a predictor refitted on its latents
        "copy_last_true_state",
    }
    assert len(state["random_encoder"]["nrmse"]) == 30 == len(state["refit_predictor"]["nrmse"])
    control = report["probe"]["random_encoder"]
    assert control["ahead"]["r2_mean"][0] == pytest.approx(control["r2_mean"], abs=1e-5)
    assert report["summary"]["headline"]["state_vpt"]["random_encoder"] >= 0


def _check_bands(report: dict) -> None:
    """The summary leads with the chaotic band; every band has its own Lyapunov times."""
    settings, summary = report["settings"], report["summary"]
    assert settings["start"] == "uniform_2pi"  # as the pendulum recipes draw their starts
    shares = settings["group_fractions"]
    assert list(shares) == ["E>10", "0<E<=10", "E<=0"] and sum(shares.values()) == pytest.approx(1)
    assert settings["group_lyapunov_frames"] == {"E>10": 16.0, "0<E<=10": 17.8, "E<=0": 40.6}
    assert next(iter(summary)) == "headline"
    headline = summary["headline"]
    assert headline["band"] == "E>10" and headline["threshold"] == summary["vpt_threshold"]
    assert headline["trajectories"] == round(shares["E>10"] * settings["trajectories"]) > 0
    for method, frames in headline["vpt"].items():
        assert headline["lyapunov_times"][method] == pytest.approx(frames / 16)
        assert 0 <= headline["censored"][method] <= 1
    assert set(headline["state_vpt"]) >= {"jepa", "copy_last", "copy_last_true_state"}
    for band, lyapunov in settings["group_lyapunov_frames"].items():
        for entry in summary["bands"].get(band, {}).values():
            assert set(entry) >= {"frames", "seconds", "lyapunov_times", "censored"}
            assert entry["trajectories"] >= 1
            expected = None if lyapunov is None else entry["frames"] / lyapunov
            assert entry["lyapunov_times"] == (expected and pytest.approx(expected))
    # a mix of bands has no one Lyapunov time
    assert report["forecast"]["methods"]["jepa"]["vpt"]["0.5"]["lyapunov_times"] is None


def test_eval_controls_can_be_switched_off(tmp_path):
    run_dir = _run("pendulum", tmp_path, "eval.controls=false", "eval.baselines=false")
    report = json.loads((run_dir / "eval.json").read_text())
    controls = {"random_encoder", "refit_predictor"}
    assert not controls & set(report["state_forecast"]["methods"])
    assert not controls & set(report["forecast"]["methods"])
    assert "ahead" not in report["probe"]["random_encoder"]


def test_supervised_baselines_can_be_switched_off(tmp_path):
    run_dir = _run("circle", tmp_path, "eval.baselines=false", "eval.baseline_budgets=[1, 4]")
    report = json.loads((run_dir / "eval.json").read_text())
    assert set(report["forecast"]["methods"]) == {
        "jepa",
        "copy_last",
        "constant_velocity",
        "linear_ar",
        "oscillator_raw",  # the circle's nothing-learned reference
        "random_encoder",  # the controls train no supervised model
        "refit_predictor",
    }
    assert report["budget_curve"] == {} and "baselines" not in report["settings"]
    assert not (run_dir / "budget_curve.png").exists()


def test_eval_can_be_disabled(tmp_path):
    run_dir = _run("circle", tmp_path, "eval.enabled=false")
    assert not (run_dir / "eval.json").exists()


def test_eval_of_something_that_is_not_a_run_is_a_clear_error(tmp_path, capsys):
    assert main(["eval", str(tmp_path / "nowhere")]) == 2
    assert main(["eval", str(tmp_path)]) == 2
    assert "config.yaml" in capsys.readouterr().err


def test_the_vpt_interval_brackets_the_median_and_shrinks_with_more_trajectories():
    from jepa_framework.evaluate.metrics import median_interval

    assert median_interval(torch.tensor([7])) is None
    assert median_interval(torch.full((20,), 9)) == [9.0, 9.0]  # no spread, no width
    few = torch.arange(10).repeat(2)
    many = torch.arange(10).repeat(40)
    low, high = median_interval(few)
    assert low <= float(few.float().median()) <= high
    assert median_interval(few) == median_interval(few)  # the same curves, the same interval
    many_low, many_high = median_interval(many)
    assert many_high - many_low < high - low
