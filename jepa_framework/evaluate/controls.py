"""The control "random frozen encoder + trained predictor" (``random_encoder`` in eval.json).

It separates what JEPA training of the encoder adds from what a trained predictor can do on any
features: the recipe's encoder, randomly initialised (the one the probe control uses) and
frozen; the recipe's predictor trained on its latents with the JEPA phase's budget (its
:class:`~jepa_framework.pipeline.optim.StepPlan`, batch size, learning rate, weight decay, gradient
clipping and the multi-step latent loss over ``objective.rollout_steps``), through the same
:class:`~jepa_framework.pipeline.optim.Optimisation`. The latents are standardised first (random
features have arbitrary scales); the control is then read through its own linear probe. A
control is a :class:`~jepa_framework.models.jepa.JEPA` whose predictor steps standardised latents,
as
a recipe's refit phase makes one, so evaluation treats it like any trained run.
"""

from __future__ import annotations

from typing import Any

import attrs
import torch
from torch import nn

from jepa_framework.datasets.base import DynamicsDataset
from jepa_framework.datasets.windows import gather_windows
from jepa_framework.models.jepa import JEPA, StandardisedPredictor
from jepa_framework.pipeline.latents import window_latents
from jepa_framework.pipeline.optim import Optimisation, StepPlan
from jepa_framework.pipeline.training import RefitObjective


@attrs.frozen
class ControlBudget:
    """The JEPA phase's budget, which the control's predictor gets too."""

    plan: StepPlan
    batch_size: int
    lr: float
    weight_decay: float
    grad_clip: float
    rollout_steps: int
    seed: int


def train_control(
    encoder: nn.Module,
    predictor: nn.Module,
    dataset: DynamicsDataset,
    train_idx: torch.Tensor,
    history: int,
    budget: ControlBudget,
    device: torch.device,
    what: str,
) -> tuple[JEPA, dict[str, Any]]:
    """Train ``predictor`` on the frozen ``encoder``'s latents of the training trajectories.

    Returns the control and a note of its settings for eval.json (``what`` it is first).
    """
    z = window_latents(encoder, dataset, train_idx, history, device)
    stepper = StandardisedPredictor(predictor, z.shape[-1]).to(device)
    normed = stepper.standardise_by(z)
    model = JEPA(encoder.requires_grad_(False), stepper, "online", history).to(device)
    objective = RefitObjective(predictor)
    n, windows = normed.shape[:2]
    steps = max(1, min(budget.rollout_steps, windows - 1))
    batch = min(budget.batch_size, n * max(1, windows - steps))
    optimisation = Optimisation(
        predictor.parameters(), budget.plan, budget.lr, budget.weight_decay, budget.grad_clip
    )
    g = torch.Generator().manual_seed(budget.seed)
    predictor.train()
    if windows > 1:
        for _ in range(budget.plan.total_steps):
            traj = torch.randint(0, n, (batch,), generator=g).to(device)
            start = torch.randint(0, windows - steps, (batch,), generator=g).to(device)
            clips = gather_windows(normed, traj, start, steps + 1)  # [B, 1 + K, D]
            optimisation.step(objective(clips)[0])
    model.eval()
    note = {
        "what": what,
        "optimizer_steps": budget.plan.total_steps if windows > 1 else 0,
        "batch_size": batch,
        "rollout_steps": steps,
    }
    return model, note
