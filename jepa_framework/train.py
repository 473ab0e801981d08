"""Phase 1 (JEPA in latent space) and phase 2 (decoder on frozen latents) training loops."""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Iterator
from typing import Any

import attrs
import torch
from torch import nn
from tqdm import tqdm

from jepa_framework.checkpoint import CHECKPOINT_NAME, restore_rng, rng_state, save_checkpoint
from jepa_framework.data import DynamicsDataset
from jepa_framework.diagnostics import collapse_diagnostics
from jepa_framework.errors import TrainingError
from jepa_framework.model import JEPA, split_windows
from jepa_framework.recipe import Recipe
from jepa_framework.schedules import ema_decay, warmup_cosine

log = logging.getLogger("jepa_framework")


@attrs.define
class Clips:
    """Random clips of ``length`` consecutive frames, drawn by tensor indexing.

    One epoch visits every trajectory of ``indices`` once, each at a random start frame.
    """

    dataset: DynamicsDataset
    indices: torch.Tensor
    length: int
    batch_size: int
    device: torch.device
    generator: torch.Generator

    def __attrs_post_init__(self) -> None:
        if self.dataset.sequence_length < self.length:
            raise TrainingError(
                f"trajectories have {self.dataset.sequence_length} frames but a training clip "
                f"needs {self.length} (data.history + objective.rollout_steps); raise "
                f"data.dataset.sequence_length or lower them."
            )

    def __len__(self) -> int:
        return math.ceil(len(self.indices) / self.batch_size)

    def gather(self, traj: torch.Tensor, starts: torch.Tensor) -> torch.Tensor:
        """Float clips [B, length, *obs] for trajectories ``traj`` from frames ``starts``."""
        frames = starts[:, None] + torch.arange(self.length)
        stored = self.dataset.observations[traj[:, None], frames]
        stored = stored.to(self.device, non_blocking=True)
        return self.dataset.to_float(stored)

    def __iter__(self) -> Iterator[torch.Tensor]:
        order = self.indices[torch.randperm(len(self.indices), generator=self.generator)]
        max_start = self.dataset.sequence_length - self.length
        for batch in order.split(self.batch_size):
            starts = torch.randint(0, max_start + 1, (len(batch),), generator=self.generator)
            yield self.gather(batch, starts)

    def fixed_batch(self, size: int, seed: int) -> torch.Tensor:
        """The same clips every call: for per-epoch validation and diagnostics."""
        g = torch.Generator().manual_seed(seed)
        traj = self.indices[torch.randperm(len(self.indices), generator=g)[:size]]
        max_start = self.dataset.sequence_length - self.length
        starts = torch.randint(0, max_start + 1, (len(traj),), generator=g)
        return self.gather(traj, starts)


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def jepa_loss(
    model: JEPA, regularizer: Any, clips: torch.Tensor, history: int, steps: int
) -> tuple[torch.Tensor, dict[str, torch.Tensor], torch.Tensor]:
    """Objective on float clips [B, H + K, *obs]; also returns the context embeddings [B, D]."""
    context, targets = split_windows(clips, history, steps)
    z = model.encode(context)
    predictions = model.rollout(z, steps)
    target_z = model.encode_target(targets.flatten(0, 1)).view(steps, clips.shape[0], -1)
    loss, terms = regularizer(predictions.float(), target_z.float(), z.float())
    return loss, terms, z


@attrs.define(eq=False)
class Phase:
    """One training phase: what it optimises, on which clips, and how one step goes."""

    name: str
    params: list[nn.Parameter]
    lr: float
    weight_decay: float
    epochs: int
    warmup_steps: int
    clips: Clips
    step: Any  # (float clips) -> (loss, terms to log)
    validate: Any  # () -> metrics on the fixed validation batch
    after_step: Any = None  # (phase_step, total_steps) -> more terms to log

    @property
    def total_steps(self) -> int:
        return self.epochs * len(self.clips)


@attrs.define(eq=False)
class Trainer:
    """Runs phase 1 (JEPA) then phase 2 (decoder), checkpointing after every epoch.

    Resuming from a checkpoint restores weights, optimiser, scheduler, step counters and RNG
    states, so an interrupted run ends bit-identical to an uninterrupted one on CPU.
    """

    recipe: Recipe
    model: JEPA
    decoder: nn.Module
    regularizer: Any
    run: Any
    clips: Clips
    val_batch: torch.Tensor
    windows: Clips
    val_windows: torch.Tensor
    generator: torch.Generator
    history: dict[str, list[dict[str, float]]] = attrs.Factory(lambda: {"jepa": [], "decoder": []})
    speed: dict[str, float] = attrs.Factory(dict)
    step: int = 0  # global step over both phases, for trackers

    def fit(self, resume: dict[str, Any] | None = None) -> None:
        phases = [self._jepa_phase(), self._decoder_phase()]
        if resume is not None:
            self._restore(resume)
            phases = phases[[p.name for p in phases].index(resume["phase"]) :]
        for i, phase in enumerate(phases):
            self._run_phase(phase, resume if i == 0 else None)

    # --- phases ---------------------------------------------------------------------------------

    def _jepa_phase(self) -> Phase:
        cfg = self.recipe.train
        return Phase(
            name="jepa",
            params=[p for p in self.model.parameters() if p.requires_grad],
            lr=cfg.lr,
            weight_decay=cfg.weight_decay,
            epochs=cfg.epochs,
            warmup_steps=round(cfg.warmup_epochs * len(self.clips)),
            clips=self.clips,
            step=self._jepa_step,
            validate=self._validate_jepa,
            after_step=self._update_target,
        )

    def _decoder_phase(self) -> Phase:
        cfg = self.recipe.decoder_train
        total = cfg.epochs * len(self.windows)
        return Phase(
            name="decoder",
            params=list(self.decoder.parameters()),
            lr=cfg.lr,
            weight_decay=0.0,
            epochs=cfg.epochs,
            warmup_steps=min(100, total // 10),
            clips=self.windows,
            step=self._decoder_step,
            validate=self._validate_decoder,
        )

    def _jepa_step(self, clips: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        objective = self.recipe.objective
        self.model.train()
        with autocast(clips.device, self.recipe.train.precision):
            loss, terms, _ = jepa_loss(
                self.model,
                self.regularizer,
                clips,
                self.recipe.data.history,
                objective.rollout_steps,
            )
        return loss, {k: float(v) for k, v in terms.items()}

    def _update_target(self, phase_step: int, total: int) -> dict[str, float]:
        target = self.recipe.objective.target
        decay = ema_decay(phase_step, total, target.ema_start, target.ema_end)
        self.model.update_target(decay)
        return {"ema_decay": decay}

    def _decoder_step(self, windows: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        self.model.eval()
        self.decoder.train()
        with torch.no_grad():
            z = self.model.encode(windows).float()
        loss = nn.functional.mse_loss(self.decoder(z), windows[:, -1])
        return loss, {}

    def _validate_jepa(self) -> dict[str, float]:
        return validate_jepa(self.recipe, self.model, self.regularizer, self.val_batch)

    def _validate_decoder(self) -> dict[str, float]:
        return validate_decoder(self.model, self.decoder, self.val_windows)

    # --- the loop -------------------------------------------------------------------------------

    def _run_phase(self, phase: Phase, resume: dict[str, Any] | None) -> None:
        optimizer = torch.optim.AdamW(phase.params, lr=phase.lr, weight_decay=phase.weight_decay)
        total = phase.total_steps
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda s: warmup_cosine(s, total, phase.warmup_steps)
        )
        first_epoch, phase_step = 1, 0
        if resume is not None:
            optimizer.load_state_dict(resume["optimizer"])
            scheduler.load_state_dict(resume["scheduler"])
            first_epoch, phase_step = resume["epoch"] + 1, resume["phase_step"]
        seen, busy = 0, 0.0
        bar = tqdm(
            total=total, initial=phase_step, desc=phase.name, unit="step", dynamic_ncols=True
        )
        for epoch in range(first_epoch, phase.epochs + 1):
            epoch_loss = 0.0
            for clips in phase.clips:
                start = time.perf_counter()
                loss, terms = phase.step(clips)
                self._check_finite(loss, phase.name, epoch)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if self.recipe.train.grad_clip > 0:
                    nn.utils.clip_grad_norm_(phase.params, self.recipe.train.grad_clip)
                optimizer.step()
                scheduler.step()
                if phase.after_step is not None:
                    terms.update(phase.after_step(phase_step, total))
                busy += time.perf_counter() - start
                phase_step += 1
                self.step += 1
                seen += clips.shape[0]
                epoch_loss += loss.item()
                bar.update(1)
                bar.set_postfix(loss=f"{loss.item():.4g}", sps=f"{seen / max(busy, 1e-9):.0f}")
                if phase_step % 10 == 0 or phase_step == total:
                    scalars = {"loss": loss.item(), "lr": scheduler.get_last_lr()[0], **terms}
                    self.run.log_scalars(
                        {f"{phase.name}/{k}": v for k, v in scalars.items()}, self.step
                    )
            metrics = {"train_loss": epoch_loss / max(1, len(phase.clips)), **phase.validate()}
            self.history[phase.name].append(metrics)
            self.speed[phase.name] = seen / max(busy, 1e-9)
            self.run.epoch_end(phase.name, epoch, metrics, self.step)
            if metrics.get("collapsed"):
                log.warning(
                    "epoch %d: embeddings look collapsed (effective rank %.2f, normalised std "
                    "%.4f)",
                    epoch,
                    metrics["rankme"],
                    metrics["normalised_std"],
                )
            self._save(phase.name, epoch, phase_step, optimizer, scheduler)
        bar.close()

    def _check_finite(self, loss: torch.Tensor, phase: str, epoch: int) -> None:
        if not torch.isfinite(loss):
            raise TrainingError(
                f"the {phase} loss became {loss.item()} at global step {self.step + 1} (epoch "
                f"{epoch}); stopping. The last good checkpoint is kept in {self.run.dir}. Try a "
                f"lower train.lr or train.grad_clip, or another objective.regularizer."
            )

    # --- checkpoints ----------------------------------------------------------------------------

    def _save(self, phase: str, epoch: int, phase_step: int, optimizer, scheduler) -> None:
        state = {
            "phase": phase,
            "epoch": epoch,
            "phase_step": phase_step,
            "step": self.step,
            "model": self.model.state_dict(),
            "decoder": self.decoder.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "rng": rng_state(self.generator),
            "history": self.history,
            "tracker_state": dict(self.run.state),
        }
        save_checkpoint(self.run.dir / CHECKPOINT_NAME, state)

    def _restore(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.decoder.load_state_dict(state["decoder"])
        restore_rng(state["rng"], self.generator)
        self.history = {k: list(v) for k, v in state["history"].items()}
        self.step = state["step"]


@torch.no_grad()
def validate_jepa(
    recipe: Recipe, model: JEPA, regularizer: Any, val_batch: torch.Tensor
) -> dict[str, float]:
    """Validation loss and collapse diagnostics on the same held-out clips every epoch."""
    model.eval()
    with autocast(val_batch.device, recipe.train.precision):
        loss, _, z = jepa_loss(
            model, regularizer, val_batch, recipe.data.history, recipe.objective.rollout_steps
        )
    return {"val_loss": loss.item(), **collapse_diagnostics(z.float().cpu())}


@torch.no_grad()
def validate_decoder(model: JEPA, decoder: nn.Module, val_batch: torch.Tensor) -> dict[str, float]:
    """Reconstruction MSE beside the blank-frame and mean-frame baselines on held-out windows."""
    decoder.eval()
    truth = val_batch[:, -1]
    decoded = decoder(model.encode(val_batch).float())
    return {
        "val_recon_mse": float(nn.functional.mse_loss(decoded, truth)),
        "val_blank_mse": float(truth.pow(2).mean()),
        "val_mean_mse": float((truth - truth.mean(0, keepdim=True)).pow(2).mean()),
    }
