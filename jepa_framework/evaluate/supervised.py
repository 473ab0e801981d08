"""The supervised baseline at its best: the recipe's own networks trained end to end.

The JEPA learns its encoder and predictor in latent space and fits a decoder afterwards. Here the
same encoder, predictor and decoder (built from the recipe's specs, freshly initialised with their
own seed) are trained together on the observation-space multi-step loss: encode the context
window, roll the predictor out K steps, decode every step, and compare with the true next frames
(the last frame of the window k steps later). Everything else is the JEPA's: the training split,
the clips (:class:`~jepa_framework.datasets.batches.Clips`), mixed precision, and every training
phase of the JEPA's forecaster (:mod:`~jepa_framework.evaluate.matched_budget`): phase 1's
optimizer steps, batch size, learning rate and K = ``objective.rollout_steps``, then the refit's
(when the recipe has one) at ``refit``'s K, batch size and learning rate, or a multiple of them.
For images this is "the same CNN trained with a pixel loss". Coordinates are divided by the
train split's std per dimension, so the loss weighs every dimension as the NRMSE does; they are
not centred: the JEPA sees them uncentred, and a scale is a diagonal linear map every encoder of
the recipe can undo where a shift is not (a bias-free linear encoder keeps a channel that
oscillates about zero about zero; shifted by a training mean, it cannot be brought back).
Where the recipe solves its linear decoder in closed form (``decoder_train.solver:
least_squares``), the trained baseline's decoder is solved the same way on its own encoder's
latents, so the decoder's optimisation favours neither method. The model keeps a latent space of
its own, so it can also be read through a probe of its own latents
(:mod:`~jepa_framework.evaluate.own_probe`).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import attrs
import torch
from torch import nn

from jepa_framework.datasets.batches import Clips
from jepa_framework.evaluate.baseline_inputs import BaselineInputs
from jepa_framework.evaluate.matched_budget import Budget, scaled_plan
from jepa_framework.models.jepa import unroll

log = logging.getLogger("jepa_framework")

#: frames decoded at once when forecasting (a conv decoder on thousands of frames is memory-bound)
DECODE_CHUNK = 512

__all__ = ["EndToEnd", "Trained", "own_network_baselines", "scaled_plan", "train_end_to_end"]


def method_name(family: str, multiple: int) -> str:
    """``supervised`` at the JEPA's budget, ``supervised_x4`` at four times it."""
    return family if multiple == 1 else f"{family}_x{multiple}"


def batches(clips: Clips, total: int) -> Iterator[torch.Tensor]:
    """``total`` batches of ``clips``, epoch after epoch (each epoch visits every trajectory)."""
    done = 0
    while done < total:
        for batch in clips:
            yield batch
            done += 1
            if done == total:
                return


class _OwnEncoder(nn.Module):
    """A trained :class:`EndToEnd`'s encoder on float windows: standardise, then encode."""

    def __init__(self, model: EndToEnd) -> None:
        super().__init__()
        self.model = model

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        return self.model.encoder(self.model.standardise(windows.to(self.model.mean.device)))


class _OwnDecoder(nn.Module):
    """A trained :class:`EndToEnd`'s decoder back in float observations: decode, unstandardise."""

    def __init__(self, model: EndToEnd) -> None:
        super().__init__()
        self.model = model

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        frames = self.model.decoder(z)
        return frames * self.model.std + self.model.mean


class EndToEnd(nn.Module):
    """Encoder -> ``steps`` x predictor -> decoder on each step, in standardised observations.

    ``mean`` and ``std`` standardise observations (scalars 0 and 1 leave frames as they are).
    """

    def __init__(
        self,
        encoder: nn.Module,
        predictor: nn.Module,
        decoder: nn.Module,
        history: int,
        mean: torch.Tensor,
        std: torch.Tensor,
    ) -> None:
        super().__init__()
        self.encoder, self.predictor, self.decoder = encoder, predictor, decoder
        self.history = history
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)

    def standardise(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std

    def unroll(
        self, context: torch.Tensor, steps: int, actions: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Standardised context [B, >= H, *obs] -> standardised frames [B, steps, *obs], step
        k driven by ``actions[:, k]`` ([B, steps, A]) for an action-conditioned predictor.

        Every step's latents are decoded in one call, as the forecast decodes them: a decoder
        with batch statistics (the CNN decoder's input BatchNorm) then normalises them together
        in training as its running statistics do in evaluation. Decoded step by step, each
        step's batch was normalised on its own, and the evaluated forecast, normalised with
        statistics pooled over the steps, fell apart (pixel error above the blank frame's).
        """
        z = self.encoder(context[:, -self.history :])
        latents = unroll(self.predictor, z, steps, actions).movedim(0, 1)  # [B, steps, D]
        frames = self.decoder(latents.flatten(0, 1))
        return frames.view(context.shape[0], steps, *frames.shape[1:])

    def window_encoder(self) -> nn.Module:
        """Its encoder as a module of float windows [B, H, *obs] -> latents [B, D] (the
        standardisation inside), which a probe of its own latents is fitted through."""
        return _OwnEncoder(self)

    def window_decoder(self) -> nn.Module:
        """Its decoder as a module of latents [B, D] -> float frames (unstandardised)."""
        return _OwnDecoder(self)

    @torch.no_grad()
    def latents(self, context: torch.Tensor, steps: int) -> torch.Tensor:
        """Float context [B, C, *obs] (any device) -> rolled-out latents [B, steps, D] on the
        CPU: what its own probe reads."""
        self.eval()
        z = self.encoder(self.standardise(context.to(self.mean.device))[:, -self.history :])
        return unroll(self.predictor, z, steps).movedim(0, 1).float().cpu()

    @torch.no_grad()
    def forward(self, context: torch.Tensor, steps: int) -> torch.Tensor:
        """The forecast: float context [B, C, *obs] (any device) -> frames [B, steps, *obs] on
        the CPU, decoded in chunks like the JEPA's forecast."""
        self.eval()
        z = self.encoder(self.standardise(context.to(self.mean.device))[:, -self.history :])
        latents = []
        for _ in range(steps):
            z = self.predictor(z)
            latents.append(z)
        flat = torch.stack(latents, 1).flatten(0, 1)
        frames = torch.cat([self.decoder(part).float() for part in flat.split(DECODE_CHUNK)])
        frames = frames * self.std + self.mean
        return frames.view(context.shape[0], steps, *frames.shape[1:]).cpu()


@attrs.frozen
class Trained:
    """A trained baseline and what it cost: steps (per phase too), wall time, loss per epoch."""

    forecaster: Callable[[torch.Tensor, int], torch.Tensor]
    optimizer_steps: int
    warmup_steps: int  # phase 1's
    wall_s: float
    parameters: int
    epoch_losses: list[float]
    #: each phase as this baseline ran it (:meth:`~matched_budget.PhaseBudget.record`)
    phases: list[dict[str, Any]] = attrs.Factory(list)

    @classmethod
    def of(
        cls,
        model: nn.Module,
        budget: Budget,
        started: float,
        epoch_losses: list[float],
        phases: list[dict[str, Any]],
    ) -> Trained:
        """The record of ``model`` trained for ``budget`` since ``started`` (perf_counter)."""
        return cls(
            forecaster=model,
            optimizer_steps=budget.total_steps,
            warmup_steps=budget.first.plan.warmup_steps,
            wall_s=time.perf_counter() - started,
            parameters=sum(p.numel() for p in model.parameters()),
            epoch_losses=epoch_losses,
            phases=phases,
        )

    def note(self, family: str, multiple: int, **extra: Any) -> dict[str, Any]:
        """This baseline's entry in eval.json's settings.baselines (and a log line about it)."""
        log.info(
            "baseline %s: %d optimizer steps in %.1fs, last epoch's loss %.4g",
            method_name(family, multiple),
            self.optimizer_steps,
            self.wall_s,
            self.epoch_losses[-1] if self.epoch_losses else float("nan"),
        )
        return {
            "family": family,
            "multiple": multiple,
            "optimizer_steps": self.optimizer_steps,
            "warmup_steps": self.warmup_steps,
            "wall_s": round(self.wall_s, 3),
            "parameters": self.parameters,
            "final_train_loss": self.epoch_losses[-1] if self.epoch_losses else None,
            "phases": self.phases,
            **extra,
        }


def rollout_within(rollout_steps: int, limit: int) -> int:
    """A phase's rollout length where the training trajectories allow ``limit`` steps at most."""
    return max(1, min(rollout_steps, limit))


def train_end_to_end(
    networks: tuple[nn.Module, nn.Module, nn.Module],
    clips: Callable[[int, int], Clips],
    history: int,
    budget: Budget,
    max_rollout: int,
    standardiser: tuple[torch.Tensor, torch.Tensor] | None = None,
    precision: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
) -> Trained:
    """Train ``networks`` (encoder, predictor, decoder) through every phase of ``budget``, in
    order; see the module doc.

    Each phase takes its ``plan.total_steps`` batches of ``clips(history + K, batch_size)``
    (K its rollout length, at most ``max_rollout``) with a fresh optimiser of its own settings;
    ``precision()`` enters the JEPA's autocast (bf16) or nothing (fp32); ``standardiser`` is the
    (mean, std) observations are standardised with (None: used as they are). Clips that carry
    actions (``(clips, actions)`` batches) drive an action-conditioned predictor with the
    actions between the frames, as the JEPA's loss does.
    """
    started = time.perf_counter()
    if standardiser is None:
        mean, std = torch.zeros(()), torch.ones(())
    else:
        mean, std = standardiser
    model: EndToEnd | None = None
    epoch_losses: list[float] = []
    phases: list[dict[str, Any]] = []
    device = torch.device("cpu")
    for phase in budget.phases:
        steps = rollout_within(phase.rollout_steps, max_rollout)
        phase_clips = clips(history + steps, phase.batch_size)
        device = phase_clips.device
        if model is None:
            model = EndToEnd(*networks, history, mean.float(), std.float()).to(device)
        phases.append(phase.record(steps, phase.batch_size))
        optimisation = phase.optimisation(list(model.parameters()))
        steps_per_epoch = max(1, len(phase_clips))
        total = phase.plan.total_steps
        losses: list[torch.Tensor] = []
        model.train()
        for i, batch in enumerate(batches(phase_clips, total), start=1):
            clip, actions = batch if isinstance(batch, tuple) else (batch, None)
            if actions is not None:  # the context's last frame is H - 1: its action leads to H
                actions = actions[:, history - 1 : history - 1 + steps]
            clip = model.standardise(clip)
            with precision():
                pred = model.unroll(clip[:, :history], steps, actions)
            loss = nn.functional.mse_loss(pred.float(), clip[:, history : history + steps])
            optimisation.step(loss)
            losses.append(loss.detach())
            if i % steps_per_epoch == 0 or i == total:
                epoch_losses.append(float(torch.stack(losses).mean()))
                losses.clear()
    assert model is not None, "a budget has at least one phase"
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return Trained.of(model, budget, started, epoch_losses, phases)


def own_network_baselines(
    inputs: BaselineInputs, standardise: bool
) -> tuple[dict[str, Callable[[torch.Tensor, int], torch.Tensor]], dict[str, Any]]:
    """``supervised`` (and ``supervised_xM``) for every budget multiple M of ``inputs``, with
    each one's note (steps, wall time, parameters); nothing when the inputs carry no networks.

    ``standardise``: divide observations by the training split's per-dimension std, uncentred
    (coordinates, see the module doc; frames in [0, 1] are used as they are).
    """
    if inputs.networks is None or inputs.clips is None:
        return {}, {}
    standardiser = None
    if standardise:
        std = inputs.train(None).flatten(0, 1).std(0).clamp_min(1e-6)
        standardiser = (torch.zeros_like(std), std)
    max_rollout = inputs.sequence_length - inputs.history
    methods, notes = {}, {}
    for multiple in inputs.budgets:
        trained = train_end_to_end(
            inputs.networks(),
            inputs.clips,
            inputs.history,
            inputs.budget.scaled(multiple),
            max_rollout,
            standardiser,
            inputs.precision,
        )
        if inputs.solve_decoder is not None:
            inputs.solve_decoder(trained.forecaster)
        name = method_name("supervised", multiple)
        methods[name] = trained.forecaster
        first = trained.phases[0]
        notes[name] = trained.note(
            "supervised",
            multiple,
            batch_size=first["batch_size"],
            rollout_steps=first["rollout_steps"],
            architecture="the recipe's encoder, predictor and decoder, trained end to end",
            standardised=standardise,
            decoder_solved=inputs.solve_decoder is not None,
            epoch_losses=[round(x, 6) for x in trained.epoch_losses],
        )
    return methods, notes
