"""A control's readout: the recipe's own decoder, fitted on the control's frozen latents.

A control read through a weaker decoder than the JEPA's would lose forecast frames to its readout,
not to its latents: a linear map cannot undo a nonlinear encoder that the JEPA's MLP decoder
undoes, so such a control scores 0 frames at a horizon where its latents still hold the state.
Each control is therefore decoded as the JEPA is: a freshly initialised decoder of the recipe's
architecture, fitted by ``decoder_train`` (its solver, epochs, batch size and learning rate: the
JEPA's decoder phase) on the control's latents of the training windows. The latents are
standardised first, as the control's predictor sees them (a random encoder's scales are
arbitrary; the JEPA's are about 1 by its regulariser).
"""

from __future__ import annotations

import time
from typing import Any

import torch
from torch import nn

from jepa_framework.config.recipe import Recipe
from jepa_framework.datasets.base import DynamicsDataset
from jepa_framework.datasets.batches import Clips
from jepa_framework.models.jepa import JEPA
from jepa_framework.pipeline.decoder_fit import fit_linear_decoder
from jepa_framework.pipeline.optim import Optimisation, StepPlan
from jepa_framework.pipeline.training import DecoderObjective

#: how a control is decoded, as eval.json says it
DECODER = (
    "the recipe's decoder, freshly initialised and fitted by decoder_train (the JEPA's decoder "
    "phase: its solver, epochs, batch size and learning rate) on the control's standardised "
    "latents of the training windows"
)


class StandardisedDecoder(nn.Module):
    """Latents [B, D] -> frames: ``decoder`` applied to the latents standardised by the control's
    training statistics (its predictor's ``mean`` and ``std``)."""

    def __init__(self, decoder: nn.Module, mean: torch.Tensor, std: torch.Tensor) -> None:
        super().__init__()
        self.decoder = decoder
        self.register_buffer("mean", mean.detach().clone())
        self.register_buffer("std", std.detach().clone())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder((z - self.mean) / self.std)


class _StandardisedEncoder(nn.Module):
    """The control's frozen encoder followed by its standardisation: what the decoder is fitted
    on."""

    def __init__(self, encoder: nn.Module, mean: torch.Tensor, std: torch.Tensor) -> None:
        super().__init__()
        self.encoder = encoder
        self.register_buffer("mean", mean.detach().clone())
        self.register_buffer("std", std.detach().clone())

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        return (self.encoder(windows) - self.mean) / self.std


def fit_control_decoder(
    control: JEPA,
    decoder: nn.Module,
    recipe: Recipe,
    dataset: DynamicsDataset,
    train_idx: torch.Tensor,
    plan: StepPlan,
    seed: int,
    device: torch.device,
) -> tuple[StandardisedDecoder, dict[str, Any]]:
    """Fit ``decoder`` (the recipe's, freshly built) on ``control``'s standardised latents of the
    training windows of ``train_idx``: closed form where ``decoder_train.solver`` is
    least_squares, else ``plan``'s optimizer steps (the JEPA's decoder phase) in batches drawn
    with ``seed``. Returns the readout of raw control latents and a note for eval.json."""
    started = time.perf_counter()
    cfg = recipe.decoder_train
    mean, std = control.predictor.mean, control.predictor.std
    encoder = _StandardisedEncoder(control.encoder, mean, std).to(device).eval()
    steps = 0
    if cfg.solver == "least_squares":
        fit_linear_decoder(
            encoder,
            decoder,
            recipe.model.decoder.name,
            dataset,
            train_idx,
            control.history,
            device,
        )
    else:
        steps = _fit_by_gradient(
            encoder, decoder, recipe, dataset, train_idx, control.history, plan, seed, device
        )
    readout = StandardisedDecoder(decoder, mean, std).to(device).eval()
    note = {
        "solver": cfg.solver,
        "optimizer_steps": steps,
        "wall_s": round(time.perf_counter() - started, 3),
    }
    return readout, note


def decode_control(
    name: str, control: JEPA, recipe: Recipe, host: Any, assembly: Any, plan: StepPlan
) -> tuple[StandardisedDecoder, dict[str, Any]]:
    """:func:`fit_control_decoder` on a freshly built decoder of the recipe, its initialisation
    and batches seeded by the control's ``name`` (the same decoder wherever it is fitted)."""
    from jepa_framework.core.seeds import derive_seed
    from jepa_framework.pipeline.assemble import build, shapes_of

    dataset, device = assembly.dataset, assembly.device
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(recipe.seed, f"{name}_decoder"))
        fresh = build(host, recipe.model.decoder, shapes_of(recipe, dataset)).to(device)
    return fit_control_decoder(
        control,
        fresh,
        recipe,
        dataset,
        assembly.split.train,
        plan,
        derive_seed(recipe.seed, f"{name}_decoder_batches"),
        device,
    )


def _fit_by_gradient(
    encoder: nn.Module,
    decoder: nn.Module,
    recipe: Recipe,
    dataset: DynamicsDataset,
    train_idx: torch.Tensor,
    history: int,
    plan: StepPlan,
    seed: int,
    device: torch.device,
) -> int:
    """The trainer's decoder phase on a frozen encoder: AdamW without weight decay over
    ``plan``, one random window per training trajectory per epoch, the last frame as target."""
    cfg = recipe.decoder_train
    g = torch.Generator().manual_seed(seed)
    windows = Clips(dataset, train_idx, history, cfg.batch_size, device, g)
    frozen = JEPA(encoder.requires_grad_(False), nn.Identity(), "online", history)
    objective = DecoderObjective(frozen, decoder).train()
    optimisation = Optimisation(decoder.parameters(), plan, cfg.lr, 0.0, recipe.train.grad_clip)
    for _ in range(plan.epochs):
        for batch in windows:
            optimisation.step(objective(batch)[0])
    decoder.eval()
    return plan.total_steps
