"""Phase 1 (JEPA in latent space) and phase 2 (decoder on frozen latents) training loops."""

from __future__ import annotations

import contextlib
import logging
import math
import time
from typing import Any

import attrs
import torch
from torch import nn
from tqdm import tqdm

from jepa_framework.batches import Clips
from jepa_framework.checkpoint import CHECKPOINT_NAME, restore_rng, rng_state, save_checkpoint
from jepa_framework.diagnostics import collapse_diagnostics
from jepa_framework.distributed import Dist, gather_rows, mean_across_ranks, wrap
from jepa_framework.errors import TrainingError
from jepa_framework.model import JEPA, split_windows
from jepa_framework.recipe import Recipe
from jepa_framework.schedules import ema_decay, warmup_cosine

log = logging.getLogger("jepa_framework")


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


class JEPAObjective(nn.Module):
    """Phase-1 loss as a module, so DistributedDataParallel can wrap it.

    forward: float clips [B, H + K, *obs] -> (loss, named terms, context embeddings [B, D]).
    """

    def __init__(self, model: JEPA, regularizer: Any, history: int, steps: int) -> None:
        super().__init__()
        self.model = model
        self.regularizer = regularizer
        self.history, self.steps = history, steps

    def forward(self, clips: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor], Any]:
        context, targets = split_windows(clips, self.history, self.steps)
        z = self.model.encode(context)
        predictions = self.model.rollout(z, self.steps)
        target_z = self.model.encode_target(targets.flatten(0, 1)).view(self.steps, len(clips), -1)
        loss, terms = self.regularizer(predictions.float(), target_z.float(), z.float())
        return loss, terms, z


class DecoderObjective(nn.Module):
    """Phase-2 loss: reconstruct the last frame of each window from frozen latents."""

    def __init__(self, model: JEPA, decoder: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.decoder = decoder

    def train(self, mode: bool = True) -> DecoderObjective:
        """Only the decoder trains: the encoder stays in eval mode (its norm/dropout frozen)."""
        super().train(mode)
        self.model.eval()
        return self

    def forward(self, windows: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        with torch.no_grad():
            z = self.model.encode(windows).float()
        return nn.functional.mse_loss(self.decoder(z), windows[:, -1]), {}


@attrs.define(eq=False)
class Phase:
    """One training phase: what it optimises, on which clips, and how one step goes."""

    name: str
    objective: nn.Module  # possibly wrapped in DistributedDataParallel
    params: list[nn.Parameter]
    lr: float
    weight_decay: float
    epochs: int
    warmup_steps: int
    clips: Clips
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
    dist: Dist = attrs.Factory(Dist)
    history: dict[str, list[dict[str, float]]] = attrs.Factory(lambda: {"jepa": [], "decoder": []})
    speed: dict[str, float] = attrs.Factory(dict)
    step: int = 0  # global step over both phases, for trackers

    def fit(self, resume: dict[str, Any] | None = None) -> None:
        names = ["jepa", "decoder"]
        if resume is not None:
            self._restore(resume)
            names = names[names.index(resume["phase"]) :]
        for i, name in enumerate(names):
            phase = self._jepa_phase() if name == "jepa" else self._decoder_phase()
            self._run_phase(phase, resume if i == 0 else None)

    # --- phases ---------------------------------------------------------------------------------

    def _jepa_phase(self) -> Phase:
        cfg, objective = self.recipe.train, self.recipe.objective
        module = JEPAObjective(
            self.model, self.regularizer, self.recipe.data.history, objective.rollout_steps
        )
        return Phase(
            name="jepa",
            objective=wrap(module, self.dist, self.val_batch.device),
            params=[p for p in self.model.parameters() if p.requires_grad],
            lr=cfg.lr,
            weight_decay=cfg.weight_decay,
            epochs=cfg.epochs,
            warmup_steps=round(cfg.warmup_epochs * len(self.clips)),
            clips=self.clips,
            validate=lambda: self._validate_jepa(module),
            after_step=self._update_target,
        )

    def _decoder_phase(self) -> Phase:
        cfg = self.recipe.decoder_train
        self.model.requires_grad_(False)  # frozen latents; DDP then syncs only the decoder
        module = DecoderObjective(self.model, self.decoder)
        total = cfg.epochs * len(self.windows)
        return Phase(
            name="decoder",
            objective=wrap(module, self.dist, self.val_windows.device),
            params=list(self.decoder.parameters()),
            lr=cfg.lr,
            weight_decay=0.0,
            epochs=cfg.epochs,
            warmup_steps=min(100, total // 10),
            clips=self.windows,
            validate=self._validate_decoder,
        )

    def _update_target(self, phase_step: int, total: int) -> dict[str, float]:
        target = self.recipe.objective.target
        decay = ema_decay(phase_step, total, target.ema_start, target.ema_end)
        self.model.update_target(decay)
        return {"ema_decay": decay}

    @torch.no_grad()
    def _validate_jepa(self, objective: JEPAObjective) -> dict[str, float]:
        """Validation loss and collapse diagnostics on the same held-out clips every epoch."""
        self.model.eval()
        with autocast(self.val_batch.device, self.recipe.train.precision):
            loss, _, z = objective(self.val_batch)
        diagnostics = collapse_diagnostics(gather_rows(z.float()).cpu())
        return {"val_loss": float(mean_across_ranks(loss)), **diagnostics}

    @torch.no_grad()
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
            total=total,
            initial=phase_step,
            desc=phase.name,
            unit="step",
            dynamic_ncols=True,
            disable=not self.dist.is_main,
        )
        device = self.val_batch.device
        for epoch in range(first_epoch, phase.epochs + 1):
            epoch_loss, pending = 0.0, []  # losses stay on the device until the next sync
            phase.objective.train()  # validation at the end of each epoch switches to eval
            tick = time.perf_counter()  # throughput counts batch gathering, not validation
            for i, clips in enumerate(phase.clips, start=1):
                with autocast(device, self.recipe.train.precision):
                    loss, terms = phase.objective(clips)[:2]
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if self.recipe.train.grad_clip > 0:
                    nn.utils.clip_grad_norm_(phase.params, self.recipe.train.grad_clip)
                optimizer.step()
                scheduler.step()
                extra = phase.after_step(phase_step, total) if phase.after_step else {}
                pending.append(loss.detach())
                phase_step += 1
                self.step += 1
                seen += len(clips) * self.dist.world_size
                busy, tick = busy + time.perf_counter() - tick, time.perf_counter()
                bar.update(1)
                if phase_step % 10 and i < len(phase.clips):
                    continue
                losses = self._sync_losses(pending, phase.name, epoch)
                epoch_loss += sum(losses)
                bar.set_postfix(loss=f"{losses[-1]:.4g}", sps=f"{seen / max(busy, 1e-9):.0f}")
                if self.dist.is_main:
                    logged = {k: float(v) for k, v in terms.items()}
                    logged.update(extra, loss=losses[-1], lr=scheduler.get_last_lr()[0])
                    self.run.log_scalars(
                        {f"{phase.name}/{k}": v for k, v in logged.items()}, self.step
                    )
            metrics = {"train_loss": epoch_loss / max(1, len(phase.clips))}
            metrics.update(phase.validate())
            self._end_epoch(
                phase, epoch, phase_step, metrics, seen / max(busy, 1e-9), optimizer, scheduler
            )
        bar.close()

    def _end_epoch(self, phase, epoch, phase_step, metrics, speed, optimizer, scheduler) -> None:
        self.history[phase.name].append(metrics)
        self.speed[phase.name] = speed
        if not self.dist.is_main:
            return
        self.run.epoch_end(phase.name, epoch, metrics, self.step)
        if metrics.get("collapsed"):
            log.warning(
                "epoch %d: embeddings look collapsed (effective rank %.2f, normalised std %.4f)",
                epoch,
                metrics["rankme"],
                metrics["normalised_std"],
            )
        self._save(phase.name, epoch, phase_step, optimizer, scheduler)

    def _sync_losses(self, pending: list[torch.Tensor], phase: str, epoch: int) -> list[float]:
        """Bring the last few step losses to the host (one copy per 10 steps), check each."""
        losses = mean_across_ranks(torch.stack(pending)).tolist()
        first_step = self.step - len(pending) + 1
        pending.clear()
        for offset, value in enumerate(losses):
            if not math.isfinite(value):
                self._stop_non_finite(value, first_step + offset, phase, epoch)
        return losses

    def _stop_non_finite(self, loss: float, step: int, phase: str, epoch: int) -> None:
        raise TrainingError(
            f"the {phase} loss became {loss} at global step {step} (epoch "
            f"{epoch}); stopping. The last good checkpoint is kept in {self.run.dir}; the "
            f"weights of this step were not saved. Try a lower train.lr or train.grad_clip, "
            f"or another objective.regularizer."
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
def validate_decoder(model: JEPA, decoder: nn.Module, val_batch: torch.Tensor) -> dict[str, float]:
    """Reconstruction MSE beside the blank-frame and mean-frame baselines on held-out windows."""
    decoder.eval()
    truth = val_batch[:, -1]
    decoded = decoder(model.encode(val_batch).float())
    return {
        "val_recon_mse": float(mean_across_ranks(nn.functional.mse_loss(decoded, truth))),
        "val_blank_mse": float(mean_across_ranks(truth.pow(2).mean())),
        "val_mean_mse": float(
            mean_across_ranks((truth - truth.mean(0, keepdim=True)).pow(2).mean())
        ),
    }
