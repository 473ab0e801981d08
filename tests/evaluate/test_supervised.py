"""The supervised baselines: the recipe's own networks trained end to end, the residual MLP,
both seeded and at multiples of the JEPA's budget (real tiny pendulum runs, no mocks)."""

from __future__ import annotations

import attrs
import pytest
import torch

from jepa_framework.config.recipe import load_recipe
from jepa_framework.core.errors import JepaError
from jepa_framework.evaluate.report import make_baselines
from jepa_framework.evaluate.supervised import EndToEnd, scaled_plan
from jepa_framework.pipeline.assemble import assemble
from jepa_framework.pipeline.optim import StepPlan
from jepa_framework.testing import OSCILLATOR_NETWORKS

from .. import conftest

PLAN = StepPlan(epochs=8, steps_per_epoch=3, warmup_steps=2)
#: the trainer's plans of a recipe without a refit: phase 1's is every baseline's budget
PLANS = {"jepa": PLAN}


def _assembled(*overrides: str):
    from jepa_framework.plugin.host import host

    registries = host()
    recipe, _ = load_recipe(
        "pendulum",
        [
            *conftest.TINY,
            "objective.rollout_steps=3",
            "train.lr=3e-3",
            "train.threads=1",
            *overrides,
        ],
        registries=registries,
    )
    recipe = attrs.evolve(recipe, tracking=[])
    return recipe, registries, assemble(recipe, registries, trackers=False)


@pytest.fixture(scope="module")
def tiny():
    return _assembled("eval.baseline_budgets=[1, 2]")


def test_the_recipes_own_networks_train_end_to_end_and_are_seeded(tiny):
    recipe, registries, assembly = tiny
    methods, notes = make_baselines(recipe, registries, assembly, 2, PLANS)
    model = methods["supervised"]
    assert isinstance(model, EndToEnd)
    # it sees the JEPA's observations up to a per-dimension scale: uncentred
    train = assembly.dataset.to_float(assembly.dataset.observations[assembly.split.train])
    assert torch.equal(model.mean, torch.zeros(4))
    torch.testing.assert_close(model.std, train.flatten(0, 1).std(0))
    # the same architecture as the JEPA's networks
    jepa_params = sum(p.numel() for p in assembly.model.encoder.parameters())
    assert sum(p.numel() for p in model.encoder.parameters()) == jepa_params
    losses = notes["baselines"]["supervised"]["epoch_losses"]
    assert len(losses) == PLAN.epochs and losses[-1] < 0.7 * losses[0]
    for name in ("supervised", "residual_mlp"):
        first, last = (notes["baselines"][name][k] for k in ("multiple", "optimizer_steps"))
        assert first == 1 and last == PLAN.total_steps
        assert notes["baselines"][f"{name}_x2"]["optimizer_steps"] == 2 * PLAN.total_steps

    context = assembly.dataset.to_float(assembly.dataset.observations[:4, :2])
    forecast = model(context, 5)
    assert forecast.shape == (4, 5, 4) and torch.isfinite(forecast).all()
    again, _ = make_baselines(recipe, registries, assembly, 2, PLANS)
    for name in ("supervised", "supervised_x2", "residual_mlp", "residual_mlp_x2"):
        assert torch.equal(methods[name](context, 5), again[name](context, 5)), name


def test_another_seed_gives_other_weights(tiny):
    recipe, registries, assembly = tiny
    plans = {"jepa": StepPlan(1, 1, 0)}
    first, _ = make_baselines(recipe, registries, assembly, 2, plans)
    other, _ = make_baselines(attrs.evolve(recipe, seed=1), registries, assembly, 2, plans)
    w = [m["supervised"].encoder.net[0].weight for m in (first, other)]
    assert not torch.equal(*w)


def test_budgets_multiply_the_step_plan():
    plan = StepPlan.for_epochs(epochs=3, samples=21, batch_size=8, warmup_epochs=1.0)
    x4 = scaled_plan(plan, 4)
    assert x4.total_steps == 4 * plan.total_steps and x4.warmup_steps == plan.warmup_steps


@pytest.mark.parametrize("budgets", ["[]", "[0]", "[1, 1]", "[2000]", "4"])
def test_bad_budgets_are_refused_with_the_key(budgets):
    with pytest.raises(JepaError, match="baseline_budgets"):
        load_recipe("pendulum", [f"eval.baseline_budgets={budgets}"])


def test_every_rollout_step_is_decoded_in_one_batch_as_the_forecast_decodes_them():
    """A decoder with batch statistics (the CNN decoder's input BatchNorm) must normalise the
    rolled-out latents in training as its running statistics do in the forecast; decoded step
    by step, each step was normalised on its own and image forecasts fell apart."""
    torch.manual_seed(0)
    encoder = torch.nn.Sequential(torch.nn.Flatten(1), torch.nn.Linear(4, 3))
    predictor = torch.nn.Linear(3, 3)  # moves the latent's mean and scale at every step
    with torch.no_grad():
        predictor.bias.fill_(2.0)
    # momentum None: after one training call the running statistics are that call's batch's
    decoder = torch.nn.Sequential(torch.nn.BatchNorm1d(3, momentum=None), torch.nn.Linear(3, 2))
    model = EndToEnd(encoder, predictor, decoder, 2, torch.zeros(()), torch.ones(()))
    context = torch.randn(256, 2, 2)
    model.train()
    with torch.no_grad():
        trained = model.unroll(context, 4)
    forecast = model(context, 4)  # evaluation mode: the running statistics
    assert trained.shape == forecast.shape == (256, 4, 2)
    torch.testing.assert_close(forecast, trained, rtol=1e-2, atol=1e-2)


def test_the_end_to_end_model_can_represent_the_jepas_solution():
    """The supervised model sees coordinates scaled per dimension, not centred: the JEPA's own
    bias-free linear encoder, oscillator and linear decoder, with the scale folded into their
    weights, forecast through it exactly as the JEPA does on the raw coordinates."""
    import copy

    from jepa_framework.models.jepa import unroll
    from jepa_framework.pipeline.assemble import build, shapes_of
    from jepa_framework.plugin.host import host

    registries = host()
    recipe, _ = load_recipe(
        "circle",
        [
            "data.dataset.size=16",
            "data.dataset.cache=false",
            *OSCILLATOR_NETWORKS,
        ],
        registries=registries,
    )
    dataset = build(registries, recipe.dataset_spec())
    shapes = shapes_of(recipe, dataset)
    torch.manual_seed(0)
    encoder, predictor, decoder = (
        build(registries, spec, shapes).double()
        for spec in (recipe.model.encoder, recipe.model.predictor, recipe.model.decoder)
    )
    history = recipe.data.history
    obs = dataset.to_float(dataset.observations).double()
    std = obs.flatten(0, 1).std(0)
    context = obs[:, : history + 4]
    with torch.no_grad():
        jepa = decoder(unroll(predictor, encoder(context[:, -history:]), 20).movedim(0, 1))
        scaled_encoder, scaled_decoder = copy.deepcopy(encoder), copy.deepcopy(decoder)
        scaled_encoder.net[-1].weight.mul_(std)  # reads x / std as the JEPA reads x
        scaled_decoder.net[-1].weight.div_(std[:, None])
        scaled_decoder.net[-1].bias.div_(std)
    model = EndToEnd(
        scaled_encoder, predictor, scaled_decoder, history, torch.zeros_like(std), std
    ).double()
    baseline = model(context, 20)
    # the forecast decodes through float32
    torch.testing.assert_close(baseline, jepa.view_as(baseline), rtol=1e-5, atol=1e-5)
