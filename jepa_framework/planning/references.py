"""The world models `jepa plan` plans with beside the run's own: what planning gets without JEPA.

Each is trained with the JEPA's budget (every training phase of its forecaster) on the run's
training trajectories and their actions, and planned with the same planner, cost and episodes:

- ``random_encoder``: the recipe's encoder randomly initialised and frozen, its
  action-conditioned predictor trained on those latents (eval.json's ``random_encoder``);
- ``supervised``: the recipe's encoder, predictor and decoder trained end to end on the
  observation loss, as eval.json's ``supervised`` baseline is, then planned in its own latent
  space (coordinates divided by the training std, as that baseline sees them).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from jepa_framework.config.recipe import Recipe
from jepa_framework.core.seeds import derive_seed
from jepa_framework.core.threads import one_torch_thread
from jepa_framework.datasets.batches import Clips
from jepa_framework.models.jepa import JEPA
from jepa_framework.pipeline.assemble import Assembly, build, random_encoder, shapes_of
from jepa_framework.pipeline.training import autocast, phase_plans

#: a reference world model, its decoder into float observations (None where the plans are
#: scored in latent space), and its note for plan.json
Reference = tuple[JEPA, nn.Module | None, dict]


def random_encoder_model(
    recipe: Recipe, host: Any, assembly: Assembly, decoded: bool = False
) -> Reference:
    """The random-encoder control as a world model; with ``decoded``, its decoder too, fitted
    as the JEPA's is (the recipe's decoder, by decoder_train, on its latents); and its note."""
    from jepa_framework.evaluate.control_readout import decode_control
    from jepa_framework.evaluate.report import make_control

    plans = phase_plans(recipe, len(assembly.split.train))
    encoder = random_encoder(recipe, host, assembly)
    with one_torch_thread():
        control, note = make_control(recipe, host, assembly, encoder, plans, "random_encoder")
        if not decoded:
            return control.eval(), None, note
        decoder, note["decoder"] = decode_control(
            "random_encoder", control, recipe, host, assembly, plans["decoder"]
        )
    return control.eval(), decoder.eval(), note


def supervised_model(
    recipe: Recipe, host: Any, assembly: Assembly, decoded: bool = False
) -> Reference:
    """The recipe's networks trained end to end on the observation loss with the dataset's
    actions, as a world model whose latents are its own encoder's and whose decoder is its own;
    and its note."""
    from jepa_framework.evaluate.matched_budget import jepa_budget
    from jepa_framework.evaluate.supervised import train_end_to_end

    dataset, train_idx, device = assembly.dataset, assembly.split.train, assembly.device
    shapes, model = shapes_of(recipe, dataset), recipe.model
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(recipe.seed, "supervised"))
        specs = (model.encoder, model.predictor, model.decoder)
        networks = tuple(build(host, spec, shapes).to(device) for spec in specs)

    def clips(length: int, batch_size: int) -> Clips:
        g = torch.Generator().manual_seed(derive_seed(recipe.seed, "supervised/batches"))
        return Clips(dataset, train_idx, length, batch_size, device, g, with_actions=True)

    standardiser = None
    if dataset.observation_space.kind == "vector":  # uncentred, as the forecast baseline
        std = dataset.to_float(dataset.observations[train_idx]).flatten(0, 1).std(0)
        standardiser = (torch.zeros_like(std), std.clamp_min(1e-6))
    plans = phase_plans(recipe, len(train_idx))
    with one_torch_thread():
        trained = train_end_to_end(
            networks,  # type: ignore[arg-type]
            clips,
            recipe.data.history,
            jepa_budget(recipe, plans),
            dataset.sequence_length - recipe.data.history,
            standardiser,
            lambda: autocast(device, recipe.train.precision),
        )
    end_to_end = trained.forecaster
    world_model = JEPA(
        end_to_end.window_encoder(), end_to_end.predictor, "online", recipe.data.history
    ).to(device)
    note = trained.note(
        "supervised",
        1,
        architecture="the recipe's encoder, predictor and decoder, trained end to end on the "
        "observation loss with the dataset's actions; planned in its own encoder's latents",
        standardised=standardiser is not None,
    )
    decoder = end_to_end.window_decoder().eval() if decoded else None
    return world_model.eval(), decoder, note
