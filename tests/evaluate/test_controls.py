"""The frozen-encoder controls: trained over every phase of the JEPA's budget, decoded by the
recipe's decoder fitted on their latents as the JEPA's is, and run for every dataset (curves
included)."""

from __future__ import annotations

import copy
import json

import pytest
import torch
import yaml

from jepa_framework.config.recipe import load_recipe
from jepa_framework.evaluate.control_readout import (
    DECODER,
    StandardisedDecoder,
    fit_control_decoder,
)
from jepa_framework.evaluate.controls import train_control
from jepa_framework.evaluate.matched_budget import Budget, PhaseBudget
from jepa_framework.evaluate.rollout import JepaForecast
from jepa_framework.pipeline.optim import StepPlan
from jepa_framework.testing import run_tiny

pytestmark = pytest.mark.usefixtures("one_thread")

BUDGET = Budget(
    (
        PhaseBudget("jepa", StepPlan(2, 3, 1), 4, 1e-2, 0.0, 1.0, 3),
        PhaseBudget("refit", StepPlan(1, 2, 0), 5, 1e-2, 0.0, 1.0, 1),
    )
)


def _pendulum():
    from jepa_builtins.datasets.pendulum import PendulumDataset, PendulumParams

    return PendulumDataset(PendulumParams(size=16, sequence_length=6, cache=False))


def _encoder() -> torch.nn.Module:
    """Windows of two 4-d frames -> 8-d latents: a full-rank linear map, so the last frame is
    exactly linear in the latent."""
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Flatten(1), torch.nn.Linear(8, 8))


def test_a_control_trains_phase_after_phase_with_each_ones_rollout_and_batch(fresh_host):
    dataset, encoder = _pendulum(), _encoder()
    before = [p.detach().clone() for p in encoder.parameters()]
    predictor = torch.nn.Linear(8, 8)
    start = predictor.weight.detach().clone()
    cpu = torch.device("cpu")
    control, note = train_control(
        encoder, predictor, dataset, torch.arange(12), 2, BUDGET, 0, cpu, "what"
    )
    assert note["optimizer_steps"] == BUDGET.total_steps == 6 + 2
    ran = [(p["phase"], p["optimizer_steps"], p["rollout_steps"]) for p in note["phases"]]
    assert ran == [("jepa", 6, 3), ("refit", 2, 1)]
    assert [p["batch_size"] for p in note["phases"]] == [4, 5]
    assert note["what"] == "what" and note["wall_s"] >= 0 and note["parameters"] == 72
    assert not torch.equal(predictor.weight, start)
    for p, q in zip(encoder.parameters(), before, strict=True):  # frozen
        assert torch.equal(p, q) and not p.requires_grad
    assert control.history == 2


def test_a_predictor_without_parameters_takes_no_step(fresh_host):
    cpu = torch.device("cpu")
    args = (_pendulum(), torch.arange(12), 2, BUDGET, 0, cpu, "what")
    _, note = train_control(_encoder(), torch.nn.Identity(), *args)
    assert note["optimizer_steps"] == 0 and [p["optimizer_steps"] for p in note["phases"]] == [0, 0]
    assert "nothing to train" in note["untrained"]


@pytest.mark.parametrize("solver", ["least_squares", "gradient"])
def test_the_recipes_decoder_reads_a_control_as_the_jepas_decoder_phase_fits_it(fresh_host, solver):
    """Closed form: exact where the frame is linear in the latent, on trajectories it was not
    fitted on; by gradient: the decoder phase's optimizer steps, its error falling."""
    dataset, cpu = _pendulum(), torch.device("cpu")
    recipe, _ = load_recipe(
        "pendulum",
        [
            "model.decoder.depth=0",
            f"decoder_train.solver={solver}",
            "decoder_train.epochs=30",
            "decoder_train.batch_size=4",
            "decoder_train.lr=0.05",
        ],
    )
    encoder = _encoder()
    with torch.no_grad():  # well conditioned, so that a few gradient steps get far
        encoder[1].weight.copy_(torch.linalg.qr(torch.randn(8, 8))[0] * 3)
    control, _ = train_control(
        encoder, torch.nn.Identity(), dataset, torch.arange(12), 2, BUDGET, 0, cpu, "what"
    )
    frames = dataset.to_float(dataset.observations[12:])  # trajectories it was not fitted on
    windows = frames[:, 3:5]

    def error(decoder: torch.nn.Module) -> float:
        z = JepaForecast(control, decoder, cpu).context_latent(windows)
        decoded = JepaForecast(control, decoder, cpu).decode(z[:, None], (4,))[:, 0]
        return float((decoded - windows[:, -1]).pow(2).mean())

    torch.manual_seed(1)
    fresh = torch.nn.Linear(8, 4)
    stats = (control.predictor.mean, control.predictor.std)
    before = error(StandardisedDecoder(copy.deepcopy(fresh), *stats))
    plan = StepPlan(30, 3, 2)
    decoder, note = fit_control_decoder(
        control, fresh, recipe, dataset, torch.arange(12), plan, 0, cpu
    )
    assert note["solver"] == solver
    if solver == "least_squares":
        assert note["optimizer_steps"] == 0
        assert error(decoder) < 1e-6
    else:
        assert note["optimizer_steps"] == plan.total_steps == 90
        assert error(decoder) < 0.2 * before


def test_a_curve_mode_gets_both_controls_and_its_nothing_learned_reference(tmp_path):
    """The curves have no probe positions: the controls are scored in observation space, with
    the oscillator on raw coordinates beside them, each with the VPT summaries."""
    run_dir = run_tiny(
        "circle",
        tmp_path,
        "data.history=4",
        "eval.baselines=false",
        "eval.horizon=30",
        "objective.rollout_steps=3",
        "output.forecast_frames=8",
        "train.threads=1",
    )
    report = json.loads((run_dir / "eval.json").read_text())
    methods = report["forecast"]["methods"]
    new = {"random_encoder", "refit_predictor", "oscillator_raw"}
    assert new <= set(methods)
    for name in new:
        assert len(methods[name]["nrmse"]) == 30, name
        assert set(methods[name]["vpt"]) == {"0.5", "0.3"}, name
        assert name in report["summary"]["vpt"]
    assert report["state_forecast"]["methods"] == {}  # no probe positions: no probed reading
    settings = report["settings"]
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert settings["oscillator_raw"]["what"].startswith("nothing learned")
    budgets, jepa_steps = report["budgets"], report["budgets"]["jepa"]["optimizer_steps"]
    assert budgets["oscillator_raw"]["optimizer_steps"] == 0
    for name in ("random_encoder", "refit_predictor"):
        note = settings[name]
        assert note["decoder"] == DECODER
        # read through the recipe's decoder, fitted as the JEPA's decoder phase fits it
        assert note["readout"]["solver"] == config["decoder_train"]["solver"]
        # the same steps as the JEPA, unless the recipe's predictor has nothing to train
        assert note["optimizer_steps"] == (jepa_steps if note["parameters"] else 0)
        assert budgets[name]["optimizer_steps"] == note["optimizer_steps"]
    # the random encoder's probe R² over steps ahead now exists for the curves too
    assert "ahead" in report["probe"]["random_encoder"]


class _Displacement(torch.nn.Module):
    """z, a -> z + W a: an action-conditioned predictor that must learn the displacement."""

    action_dim = 2

    def __init__(self) -> None:
        super().__init__()
        self.move = torch.nn.Linear(2, 2, bias=False)

    def forward(self, z: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        return z + self.move(actions)


def test_an_action_conditioned_control_steps_each_window_with_the_action_that_follows_it(
    fresh_host, tmp_path
):
    """two_rooms moves the agent by its action: trained on the actions between its windows,
    the control's one-step error is a small fraction of the moves (misaligned, it would not)."""
    from jepa_builtins.datasets.env_rollouts import EnvRolloutsDataset, EnvRolloutsParams

    params = EnvRolloutsParams(size=32, sequence_length=8, seed=0, policy="uniform")
    dataset, cpu = EnvRolloutsDataset(params, cache_dir=tmp_path), torch.device("cpu")
    budget = Budget((PhaseBudget("jepa", StepPlan(40, 5, 5), 32, 0.05, 0.0, 1.0, 3),))
    args = (dataset, torch.arange(32), 1, budget, 0, cpu, "what")
    control, note = train_control(torch.nn.Flatten(1), _Displacement(), *args, with_actions=True)
    assert note["optimizer_steps"] == 200
    frames = dataset.to_float(dataset.observations)  # [N, T, 2]: the positions themselves
    actions = dataset.actions[:, :-1].float()
    with torch.no_grad():
        z = frames[:, :-1].flatten(0, 1)
        predicted = control.predictor(z, actions.flatten(0, 1))
    moves = (frames[:, 1:] - frames[:, :-1]).flatten(0, 1)
    error = (predicted - frames[:, 1:].flatten(0, 1)).pow(2).sum(-1).mean()
    assert float(error) < 0.1 * float(moves.pow(2).sum(-1).mean())


def test_the_supervised_model_trains_with_the_action_between_its_frames(fresh_host, tmp_path):
    """End to end on the observation loss with actions, the same displacement is learned: what
    `jepa plan`'s supervised row plans with."""
    from jepa_builtins.datasets.env_rollouts import EnvRolloutsDataset, EnvRolloutsParams

    from jepa_framework.datasets.batches import Clips
    from jepa_framework.evaluate.supervised import train_end_to_end

    params = EnvRolloutsParams(size=32, sequence_length=8, seed=0, policy="uniform")
    dataset, cpu = EnvRolloutsDataset(params, cache_dir=tmp_path), torch.device("cpu")
    budget = Budget((PhaseBudget("jepa", StepPlan(40, 5, 5), 32, 0.05, 0.0, 1.0, 3),))

    def clips(length: int, batch: int) -> Clips:
        g = torch.Generator().manual_seed(0)
        return Clips(dataset, torch.arange(32), length, batch, cpu, g, with_actions=True)

    networks = (torch.nn.Flatten(1), _Displacement(), torch.nn.Identity())
    trained = train_end_to_end(networks, clips, 1, budget, 7)
    assert trained.optimizer_steps == 200
    frames = dataset.to_float(dataset.observations)
    with torch.no_grad():
        predicted = trained.forecaster.predictor(
            frames[:, :-1].flatten(0, 1), dataset.actions[:, :-1].float().flatten(0, 1)
        )
    moves = (frames[:, 1:] - frames[:, :-1]).flatten(0, 1)
    error = (predicted - frames[:, 1:].flatten(0, 1)).pow(2).sum(-1).mean()
    assert float(error) < 0.1 * float(moves.pow(2).sum(-1).mean())
