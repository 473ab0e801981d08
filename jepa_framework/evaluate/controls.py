"""The frozen-encoder controls: ``random_encoder`` and ``refit_predictor`` in eval.json.

A control is a frozen encoder (the recipe's encoder randomly initialised, or the JEPA's own
trained one) with a predictor of the recipe's architecture trained on its latents. It separates
what JEPA training of the encoder adds from what a trained predictor can do on any features
(the random encoder), and whether the encoder or the JEPA's predictor limits the forecast (the
JEPA's encoder, refitted). The predictor gets every training phase of the JEPA's forecaster
(:mod:`~jepa_framework.evaluate.matched_budget`: phase 1, then the refit when the recipe has
one), each with its step plan, batch size, learning rate, weight decay, gradient clipping and
multi-step latent loss, through the same :class:`~jepa_framework.pipeline.optim.Optimisation`:
the same total optimizer steps as the JEPA. A predictor without parameters (``oscillator``) has
nothing to train and takes no step. The latents are standardised first (random features have
arbitrary scales).

A control is read two ways. In observation space, through the recipe's own decoder fitted on
its frozen, standardised latents as the JEPA's decoder phase fits the JEPA's
(:mod:`~jepa_framework.evaluate.control_readout`), so the control and the JEPA differ in their
latents and predictors, not in their readouts. Where the dataset has probe positions, a control
is also read through a linear state probe (the random encoder's own probe, or the JEPA's for the
refitted predictor). A control is a :class:`~jepa_framework.models.jepa.JEPA` whose predictor
steps standardised latents, as a recipe's refit phase makes one, so evaluation treats it like any
trained run.
"""

from __future__ import annotations

import time
from typing import Any

import torch
from torch import nn

from jepa_framework.datasets.base import DynamicsDataset
from jepa_framework.datasets.windows import gather_windows
from jepa_framework.evaluate.matched_budget import Budget
from jepa_framework.models.jepa import JEPA, StandardisedPredictor
from jepa_framework.pipeline.latents import window_actions, window_latents
from jepa_framework.pipeline.training import RefitObjective


def train_control(
    encoder: nn.Module,
    predictor: nn.Module,
    dataset: DynamicsDataset,
    train_idx: torch.Tensor,
    history: int,
    budget: Budget,
    seed: int,
    device: torch.device,
    what: str,
    with_actions: bool = False,
) -> tuple[JEPA, dict[str, Any]]:
    """Train ``predictor`` on the frozen ``encoder``'s latents of the training trajectories,
    phase after phase of ``budget`` (batches drawn with ``seed``); ``with_actions``: an
    action-conditioned predictor, stepped with the dataset's actions between the windows.

    Returns the control and a note of its settings for eval.json (``what`` it is first).
    """
    started = time.perf_counter()
    z = window_latents(encoder, dataset, train_idx, history, device)
    acts = None
    if with_actions:
        assert dataset.actions is not None
        acts = window_actions(dataset.actions[train_idx], history, z.shape[1]).float().to(device)
    stepper = StandardisedPredictor(predictor, z.shape[-1]).to(device)
    normed = stepper.standardise_by(z)
    model = JEPA(encoder.requires_grad_(False), stepper, "online", history).to(device)
    objective = RefitObjective(predictor)
    n, windows = normed.shape[:2]
    params = [p for p in predictor.parameters() if p.requires_grad]
    trains = windows > 1 and bool(params)
    g = torch.Generator().manual_seed(seed)
    phases, taken = [], 0
    predictor.train()
    for phase in budget.phases:
        steps = max(1, min(phase.rollout_steps, windows - 1))
        batch = min(phase.batch_size, n * max(1, windows - steps))
        total = phase.plan.total_steps if trains else 0
        record = phase.record(steps, batch)
        phases.append({**record, "optimizer_steps": total})
        if not total:
            continue
        optimisation = phase.optimisation(params)
        for _ in range(total):
            traj = torch.randint(0, n, (batch,), generator=g).to(device)
            start = torch.randint(0, windows - steps, (batch,), generator=g).to(device)
            clips = gather_windows(normed, traj, start, steps + 1)  # [B, 1 + K, D]
            driven = None if acts is None else gather_windows(acts, traj, start, steps)
            optimisation.step(objective(clips, driven)[0])
        taken += total
    model.eval()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    note = {
        "what": what,
        "optimizer_steps": taken,
        "batch_size": phases[0]["batch_size"],
        "rollout_steps": phases[0]["rollout_steps"],
        "phases": phases,
        "wall_s": round(time.perf_counter() - started, 3),
        "parameters": sum(p.numel() for p in params),
    }
    if not params:
        note["untrained"] = "the predictor has no parameters: nothing to train"
    return model, note
