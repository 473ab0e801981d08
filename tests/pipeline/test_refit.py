"""The refit phase: the predictor refitted on the frozen encoder's standardised latents."""

from __future__ import annotations

import json

import pytest
import torch

import jepa_framework
from jepa_framework.commands.cli import main
from jepa_framework.models.jepa import StandardisedPredictor
from jepa_framework.pipeline.latents import window_latents
from jepa_framework.testing import TINY_OVERRIDES

QUICK = [*TINY_OVERRIDES, "eval.enabled=false", "output.forecast_frames=4", "train.threads=1"]


def _train(tmp_path, name, *overrides):
    out = tmp_path / name
    return jepa_framework.train("pendulum", [*QUICK, *overrides, f"output.dir={out}"], device="cpu")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("refit")
    return _train(tmp, "plain"), _train(tmp, "refit", "refit.epochs=3")


def test_identity_statistics_leave_the_predictor_bit_identical():
    inner = torch.nn.Sequential(torch.nn.Linear(5, 5), torch.nn.Tanh())
    z = torch.randn(7, 5) * 3 + 1
    assert torch.equal(StandardisedPredictor(inner, 5)(z), inner(z))


def test_a_refit_leaves_phase_one_unchanged_and_refits_only_the_predictor(runs):
    plain, refit = runs
    # the same phase 1, up to float rounding (the wrapper's arrays sit elsewhere in memory)
    for name, weights in plain.model.encoder.state_dict().items():
        assert torch.allclose(weights, refit.model.encoder.state_dict()[name], atol=1e-5), name
    predictor = refit.model.predictor
    assert isinstance(predictor, StandardisedPredictor)
    assert not isinstance(plain.model.predictor, StandardisedPredictor)
    before = plain.model.predictor.state_dict()
    after = predictor.predictor.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)
    history = json.loads((refit.path / "metrics.json").read_text())["history"]
    assert len(history["refit"]) == 3
    assert all(epoch["val_loss"] > 0 for epoch in history["refit"])


def test_the_refit_standardises_with_the_training_latents_statistics(runs):
    _, refit = runs
    dataset, model = refit.dataset, refit.model
    train_idx = refit.assembly.split.train
    z = window_latents(model.encoder, dataset, train_idx, model.history, refit.device)
    flat = z.flatten(0, 1)
    mean, std = flat.mean(0), flat.std(0)
    assert torch.allclose(model.predictor.mean, mean, atol=1e-5)
    assert torch.allclose(model.predictor.std, std, atol=1e-5)
    # the run reopened from disk rolls out with the refitted predictor and its statistics
    reopened = jepa_framework.load_run(refit.path, device="cpu")
    z0 = z[:4, 0]
    assert torch.equal(reopened.model.rollout(z0, 3), model.rollout(z0, 3))


def test_a_refit_longer_than_the_trajectories_is_a_recipe_error(tmp_path, capsys):
    code = main(
        ["run", "pendulum", *QUICK, "refit.epochs=1", "refit.rollout_steps=40"]
        + [f"output.dir={tmp_path}"]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "refit.rollout_steps" in err and "Traceback" not in err
    assert not any(tmp_path.iterdir())


def test_latent_clips_visit_each_trajectory_once_and_ranks_split_the_same_batches():
    from jepa_framework.pipeline.latents import LatentClips

    latents = torch.arange(10 * 6 * 2, dtype=torch.float32).view(10, 6, 2)

    def epoch(rank: int, world: int) -> list[torch.Tensor]:
        g = torch.Generator().manual_seed(3)
        return list(LatentClips(latents, 3, 4, g, rank, world))

    whole = torch.cat(epoch(0, 1))  # [10, 3, 2]: one clip per trajectory
    assert sorted(int(c[0, 0]) // 12 for c in whole) == list(range(10))
    assert torch.equal(whole[:, 1:, 0] - whole[:, :-1, 0], torch.full((10, 2), 2.0))
    first, second = epoch(0, 2), epoch(1, 2)
    assert sum(map(len, first)) == sum(map(len, second)) == 5
    together = [torch.cat([a, b]) for a, b in zip(first, second, strict=True)]
    assert torch.equal(torch.cat(together), whole)


def test_latent_clips_carry_the_actions_between_their_latents():
    from jepa_framework.pipeline.latents import LatentClips, window_actions

    n, frames, history = 5, 8, 2
    windows = frames - history + 1
    # latent w of trajectory i is 100 i + (its last frame, w + history - 1); action t is 100 i + t
    last = torch.arange(windows) + history - 1
    latents = (100 * torch.arange(n)[:, None] + last)[..., None].float()
    actions = (100 * torch.arange(n)[:, None] + torch.arange(frames))[..., None].float()
    between = window_actions(actions, history, windows)
    assert between.shape == (n, windows - 1, 1)
    g = torch.Generator().manual_seed(0)
    for clips, driven in LatentClips(latents, 4, 2, g, actions=between):
        assert clips.shape[1:] == (4, 1) and driven.shape == (len(clips), 3, 1)
        # the action that leaves each latent is the one of that latent's last frame
        assert torch.equal(driven, clips[:, :-1])
    with pytest.raises(ValueError, match="W - 1"):
        LatentClips(latents, 4, 2, g, actions=actions)


def test_an_action_conditioned_run_refits_its_predictor_with_the_actions(tmp_path):
    from jepa_framework.testing import run_tiny

    path = run_tiny("two_rooms", tmp_path, "refit.epochs=3", "output.forecast_frames=4")
    history = json.loads((path / "metrics.json").read_text())["history"]
    assert len(history["refit"]) == 3 and all(e["val_loss"] > 0 for e in history["refit"])
    run = jepa_framework.load_run(path, device="cpu")
    predictor = run.model.predictor
    assert isinstance(predictor, StandardisedPredictor) and predictor.action_dim == 2
    z = run.model.encode_context(run.dataset.to_float(run.dataset.observations[:3]))
    still, moving = torch.zeros(3, 4, 2), torch.full((3, 4, 2), 0.1)
    # the refitted step reads the action: other actions, another rollout
    assert not torch.allclose(run.model.rollout(z, 4, still), run.model.rollout(z, 4, moving))
