"""Training loops: phase 1 (JEPA in latent space), the optional refit of the predictor on the
frozen encoder's latents, and phase 2 (decoder on frozen latents)."""

from __future__ import annotations

import contextlib
import logging
import math
import time
from typing import Any

import attrs
import torch
from torch import nn

from jepa_framework.config.recipe import Recipe, unstructure_recipe
from jepa_framework.core.distributed import Dist, gather_rows, mean_across_ranks, wrap
from jepa_framework.core.errors import TrainingError
from jepa_framework.core.progress import progress
from jepa_framework.core.seeds import derive_seed
from jepa_framework.datasets.batches import Clips
from jepa_framework.models.diagnostics import collapse_diagnostics
from jepa_framework.models.jepa import JEPA, StandardisedPredictor, unroll
from jepa_framework.pipeline.checkpoint import (
    CHECKPOINT_NAME,
    TrainState,
    load_state,
    recipe_hash,
    restore_rng,
    rng_state,
    save_checkpoint,
)
from jepa_framework.pipeline.decoder_fit import fit_linear_decoder
from jepa_framework.pipeline.latents import LatentBatch, LatentClips, window_actions, window_latents
from jepa_framework.pipeline.optim import Optimisation, StepPlan
from jepa_framework.pipeline.schedules import ema_decay

log = logging.getLogger("jepa_framework")

#: held-out clips for the per-epoch validation loss and collapse diagnostics
VALIDATION_BATCH = 1024
#: held-out windows for the decoder's validation (enough for a 64-d effective rank)
VALIDATION_WINDOWS = 512


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


class JEPAObjective(nn.Module):
    """Phase-1 loss as a module, so DistributedDataParallel can wrap it.

    forward: float clips [B, H + K, *obs] (and, for an action-conditioned predictor, their
    actions [B, H + K, A]) -> (loss, named terms, context embeddings [B, D]). Step k is driven
    by the action between the frame ending window k - 1 and the next one.
    """

    def __init__(self, model: JEPA, regularizer: Any, steps: int) -> None:
        super().__init__()
        self.model = model
        self.regularizer = regularizer
        self.steps = steps

    def forward(
        self, clips: torch.Tensor, actions: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor], Any]:
        history = self.model.history
        z = self.model.encode(clips[:, :history])
        if actions is not None:  # the context's last frame is H - 1: its action leads to H
            actions = actions[:, history - 1 : history - 1 + self.steps]
        predictions = self.model.rollout(z, self.steps, actions)
        target_z = self.model.encode_targets(clips, self.steps)
        loss, terms = self.regularizer(predictions.float(), target_z.float(), z.float())
        head = self.model.inverse_dynamics
        if head is not None and actions is not None:  # a_t from (z_t, the next window's target)
            term = head.loss(z.float(), target_z[0].float(), actions[:, 0].float())
            loss = loss + head.loss_weight * term
            terms = {**terms, "inverse_dynamics": term.detach()}
        return loss, terms, z


class RefitObjective(nn.Module):
    """Refit loss: roll the predictor out in standardised latent coordinates, MSE at each step.

    forward: standardised latent clips [B, 1 + K, D] (and, for an action-conditioned
    predictor, the actions [B, K, A] between them) -> (loss, named terms).
    """

    def __init__(self, predictor: nn.Module) -> None:
        super().__init__()
        self.predictor = predictor  # the plain predictor inside a StandardisedPredictor

    def forward(
        self, clips: torch.Tensor, actions: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        predicted = unroll(self.predictor, clips[:, 0], clips.shape[1] - 1, actions)  # [K, B, D]
        target = clips[:, 1:].movedim(1, 0)
        return nn.functional.mse_loss(predicted.float(), target.float()), {}


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


def objective_inputs(batch: Any) -> tuple:
    """A loader's batch as an objective's arguments: clips alone, or (clips, actions)."""
    return batch if isinstance(batch, tuple) else (batch,)


def jepa_plan(recipe: Recipe, n_train: int) -> StepPlan:
    """Phase 1: every training trajectory once per epoch, in global batches of train.batch_size."""
    cfg = recipe.train
    return StepPlan.for_epochs(cfg.epochs, n_train, cfg.batch_size, cfg.warmup_epochs)


def refit_plan(recipe: Recipe, n_train: int) -> StepPlan:
    """The refit: like phase 1 in refit's epochs and batches (no steps when it is off)."""
    cfg = recipe.refit
    return StepPlan.for_epochs(cfg.epochs, n_train, cfg.batch_size, recipe.train.warmup_epochs)


def decoder_plan(recipe: Recipe, n_train: int) -> StepPlan:
    """Phase 2: like phase 1 in decoder_train's batches, with a short warmup (<= 100 steps)."""
    cfg = recipe.decoder_train
    per_epoch = math.ceil(n_train / cfg.batch_size)
    return StepPlan(cfg.epochs, per_epoch, min(100, cfg.epochs * per_epoch // 10))


def phase_plans(recipe: Recipe, n_train: int) -> dict[str, StepPlan]:
    """The step plan of every phase ("jepa", "refit", "decoder") for ``n_train`` trajectories:
    what the trainer runs, and what the evaluation gives every baseline and control."""
    return {
        "jepa": jepa_plan(recipe, n_train),
        "refit": refit_plan(recipe, n_train),
        "decoder": decoder_plan(recipe, n_train),
    }


@attrs.define(eq=False)
class Phase:
    """One training phase: what it optimises, on which clips, and how one step goes."""

    name: str
    objective: nn.Module  # possibly wrapped in DistributedDataParallel
    params: list[nn.Parameter]
    lr: float
    weight_decay: float
    plan: StepPlan
    clips: Clips
    validate: Any  # () -> metrics on the fixed validation batch
    after_step: Any = None  # (phase_step, total_steps) -> more terms to log
    lr_key: str = "train.lr"  # the recipe key to lower when this phase diverges
    last_batch: Any = None  # the latest training batch (the non-finite hint checks it)


@attrs.define(eq=False)
class Trainer:
    """Runs phase 1 (JEPA) then phase 2 (decoder), checkpointing after every epoch.

    Resuming from a :class:`TrainState` restores weights, optimiser, scheduler, step counters
    and RNG states, so an interrupted run ends bit-identical to an uninterrupted one on CPU. A
    checkpoint is only written for an epoch whose losses, metrics and weights are all finite.
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
    val_indices: torch.Tensor
    generator: torch.Generator
    dist: Dist = attrs.Factory(Dist)
    history: dict[str, list[dict[str, float]]] = attrs.Factory(
        lambda: {"jepa": [], "refit": [], "decoder": []}
    )
    speed: dict[str, float] = attrs.Factory(dict)
    step: int = 0  # global step over both phases, for trackers
    saved: tuple[str, int] | None = None  # (phase, epoch) of the checkpoint on disk
    recipe_dict: dict[str, Any] = attrs.Factory(dict)
    refit_init: dict[str, torch.Tensor] | None = None  # where the refit's predictor starts
    val_actions: torch.Tensor | None = None  # actions of val_batch (action-conditioned models)

    @classmethod
    def create(cls, recipe: Recipe, assembly: Any, run: Any) -> Trainer:
        """Clips and fixed validation batches from the assembled dataset and its split."""
        steps, seed = recipe.objective.rollout_steps, recipe.seed
        history = assembly.model.history
        g = torch.Generator().manual_seed(seed)

        def clips(idx: torch.Tensor, length: int, batch: int, actions: bool = False) -> Clips:
            rank, world = assembly.dist.rank, assembly.dist.world_size
            dataset, device = assembly.dataset, assembly.device
            return Clips(dataset, idx, length, batch, device, g, rank, world, actions)

        train_idx, val_idx = assembly.split.train, assembly.split.val
        acting = assembly.model.action_dim > 0  # clips carry actions to such a predictor
        jepa_clips = clips(train_idx, history + steps, recipe.train.batch_size, acting)
        val_clips = clips(val_idx, history + steps, recipe.train.batch_size)
        val_seed = derive_seed(seed, "validation")
        return cls(
            recipe=recipe,
            model=assembly.model,
            decoder=assembly.decoder,
            regularizer=assembly.regularizer,
            run=run,
            clips=jepa_clips,
            val_batch=val_clips.fixed_batch(VALIDATION_BATCH, val_seed),
            windows=clips(train_idx, history, recipe.decoder_train.batch_size),
            val_windows=clips(val_idx, history, recipe.train.batch_size).fixed_batch(
                VALIDATION_WINDOWS, derive_seed(seed, "validation_windows")
            ),
            val_indices=val_idx,
            generator=g,
            dist=assembly.dist,
            recipe_dict=unstructure_recipe(recipe),
            refit_init=assembly.refit_init,
            val_actions=val_clips.fixed_actions(VALIDATION_BATCH, val_seed) if acting else None,
        )

    @property
    def plans(self) -> dict[str, StepPlan]:
        """The step plan of each phase; the evaluation's baselines and controls take every
        phase the JEPA's forecaster trained in from here."""
        return phase_plans(self.recipe, len(self.clips.indices))

    def fit(self, resume: TrainState | None = None) -> None:
        names = ["jepa", "refit", "decoder"] if self.recipe.refit.epochs else ["jepa", "decoder"]
        if resume is not None:
            self._restore(resume)
            names = names[names.index(resume.phase) :]
        for i, name in enumerate(names):
            carried_on = resume if i == 0 else None
            if name == "jepa":
                phase = self._jepa_phase()
            elif name == "refit":
                phase = self._refit_phase(restart=carried_on is None)
            elif self.recipe.decoder_train.solver == "least_squares":
                if carried_on is None:  # a resumed run whose checkpoint is after the solve: done
                    self._solve_decoder()
                continue
            else:
                phase = self._decoder_phase()
            self._run_phase(phase, carried_on)

    # --- phases ---------------------------------------------------------------------------------

    def _jepa_phase(self) -> Phase:
        cfg = self.recipe.train
        module = JEPAObjective(self.model, self.regularizer, self.recipe.objective.rollout_steps)
        return Phase(
            name="jepa",
            objective=wrap(module, self.dist, self.val_batch.device),
            params=[p for p in self.model.parameters() if p.requires_grad],
            lr=cfg.lr,
            weight_decay=cfg.weight_decay,
            plan=self.plans["jepa"],
            clips=self.clips,
            validate=lambda: self._validate_jepa(module),
            after_step=self._update_target,
        )

    def _refit_phase(self, restart: bool) -> Phase:
        """The predictor refitted on the frozen encoder's latents of the training trajectories,
        in standardised coordinates; ``restart``: from fresh weights (else a resumed refit)."""
        cfg, predictor = self.recipe.refit, self.model.predictor
        assert isinstance(predictor, StandardisedPredictor) and self.refit_init is not None
        self.model.requires_grad_(False)
        train, val = self._latents(self.clips.indices), self._latents(self.val_indices)
        train = predictor.standardise_by(train)
        val = predictor.standardise(val)
        if restart:
            predictor.predictor.load_state_dict(self.refit_init)
        predictor.predictor.requires_grad_(True)
        length, batch = cfg.steps(self.recipe.objective) + 1, cfg.batch_size
        rank, world = self.dist.rank, self.dist.world_size
        train_actions = self._actions_between_windows(self.clips.indices)
        clips = LatentClips(train, length, batch, self.generator, rank, world, train_actions)
        val_actions = self._actions_between_windows(self.val_indices)
        val_batch = LatentClips(val, length, batch, self.generator, actions=val_actions)
        val_batch = val_batch.fixed_batch(
            VALIDATION_BATCH, derive_seed(self.recipe.seed, "refit_validation")
        )
        module = RefitObjective(predictor.predictor)
        return Phase(
            name="refit",
            objective=wrap(module, self.dist, self.val_batch.device),
            params=list(predictor.predictor.parameters()),
            lr=cfg.lr,
            weight_decay=self.recipe.train.weight_decay,
            plan=self.plans["refit"],
            clips=clips,
            validate=lambda: self._validate_refit(module, val_batch),
            lr_key="refit.lr",
        )

    def _actions_between_windows(self, indices: torch.Tensor) -> torch.Tensor | None:
        """The actions [N, W - 1, A] between consecutive windows of these trajectories, for an
        action-conditioned predictor (None for an autonomous one)."""
        actions = getattr(self.clips.dataset, "actions", None)
        if not self.model.action_dim or actions is None:
            return None
        history = self.model.history
        between = window_actions(actions[indices], history, actions.shape[1] - history + 1)
        return between.float().to(self.val_batch.device)

    def _latents(self, indices: torch.Tensor) -> torch.Tensor:
        """The frozen encoder's latents [N, W, D] of every window of these trajectories."""
        dataset, device = self.clips.dataset, self.val_batch.device
        z = window_latents(self.model.encoder, dataset, indices, self.model.history, device)
        return z.to(device)

    def _decoder_phase(self) -> Phase:
        self.model.requires_grad_(False)  # frozen latents; DDP then syncs only the decoder
        module = DecoderObjective(self.model, self.decoder)
        return Phase(
            name="decoder",
            objective=wrap(module, self.dist, self.val_windows.device),
            params=list(self.decoder.parameters()),
            lr=self.recipe.decoder_train.lr,
            weight_decay=0.0,
            plan=self.plans["decoder"],
            clips=self.windows,
            validate=self._validate_decoder,
            lr_key="decoder_train.lr",
        )

    def _solve_decoder(self) -> None:
        """Phase 2 in one solve (decoder_train.solver least_squares), recorded as one epoch."""
        self.model.requires_grad_(False)
        self.model.eval()
        started = time.perf_counter()
        windows = fit_linear_decoder(
            self.model.encoder,
            self.decoder,
            self.recipe.model.decoder.name,
            self.clips.dataset,
            self.clips.indices,
            self.model.history,
            self.val_batch.device,
        )
        metrics = self._validate_decoder()
        weights = torch.cat([p.detach().flatten() for p in self.decoder.parameters()])
        if not all(math.isfinite(v) for v in metrics.values()) or not weights.isfinite().all():
            kept = f" after {self.saved[0]} epoch {self.saved[1]}" if self.saved else ""
            raise TrainingError(
                f"the decoder solved by least squares came out non-finite (the encoder's latents "
                f"are); stopping. {self.run.dir / CHECKPOINT_NAME} keeps the last good state"
                f"{kept}; the solve was not saved. Start a new run with a lower train.lr, or "
                f"decoder_train.solver=gradient."
            )
        self.history["decoder"].append(metrics)
        self.speed["decoder"] = windows / max(time.perf_counter() - started, 1e-9)
        log.info("decoder solved by least squares on %d windows: %s", windows, metrics)
        if self.dist.is_main:
            self.run.epoch_end("decoder", 1, metrics, self.step)
            self._save("decoder", 1, 0, None)

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
            loss, _, z = objective(self.val_batch, self.val_actions)
        diagnostics = collapse_diagnostics(gather_rows(z.float()).cpu())
        return {"val_loss": float(mean_across_ranks(loss)), **diagnostics}

    @torch.no_grad()
    def _validate_refit(self, objective: RefitObjective, batch: LatentBatch) -> dict[str, float]:
        objective.eval()
        return {"val_loss": float(mean_across_ranks(objective(*objective_inputs(batch))[0]))}

    @torch.no_grad()
    def _validate_decoder(self) -> dict[str, float]:
        return validate_decoder(self.model, self.decoder, self.val_windows)

    # --- the loop -------------------------------------------------------------------------------

    def _run_phase(self, phase: Phase, resume: TrainState | None) -> None:
        cfg = self.recipe.train
        optimisation = Optimisation(
            phase.params, phase.plan, phase.lr, phase.weight_decay, cfg.grad_clip
        )
        total = phase.plan.total_steps
        first_epoch, phase_step = 1, 0
        if resume is not None:
            optimisation.load_state_dict(resume.optimisation)
            first_epoch, phase_step = resume.epoch + 1, resume.phase_step
        seen, busy = 0, 0.0
        bar = progress(total, phase_step, phase.name, enabled=self.dist.is_main)
        device = self.val_batch.device
        for epoch in range(first_epoch, phase.plan.epochs + 1):
            epoch_loss, pending = 0.0, []  # losses stay on the device until the next sync
            phase.objective.train()  # validation at the end of each epoch switches to eval
            tick = time.perf_counter()  # throughput counts batch gathering, not validation
            for i, batch in enumerate(phase.clips, start=1):
                inputs = objective_inputs(batch)
                clips = phase.last_batch = inputs[0]
                with autocast(device, cfg.precision):
                    loss, terms = phase.objective(*inputs)[:2]
                optimisation.step(loss)
                extra = phase.after_step(phase_step, total) if phase.after_step else {}
                pending.append(loss.detach())
                phase_step += 1
                self.step += 1
                seen += len(clips) * self.dist.world_size
                busy, tick = busy + time.perf_counter() - tick, time.perf_counter()
                bar.update(1)
                if phase_step % 10 and i < len(phase.clips):
                    continue
                losses = self._sync_losses(pending, phase, epoch)
                epoch_loss += sum(losses)
                bar.set_postfix(loss=f"{losses[-1]:.4g}", sps=f"{seen / max(busy, 1e-9):.0f}")
                if self.dist.is_main:
                    logged = {k: float(v) for k, v in terms.items()}
                    logged.update(extra, loss=losses[-1], lr=optimisation.lr)
                    self.run.log_scalars(
                        {f"{phase.name}/{k}": v for k, v in logged.items()}, self.step
                    )
            metrics = {"train_loss": epoch_loss / max(1, len(phase.clips))}
            metrics.update(phase.validate())
            self._check_finite(phase, epoch, metrics)
            bar.epoch_end(epoch, phase.plan.epochs)
            self._end_epoch(phase, epoch, phase_step, metrics, seen / max(busy, 1e-9), optimisation)
        bar.close()

    def _end_epoch(self, phase, epoch, phase_step, metrics, speed, optimisation) -> None:
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
        self._save(phase.name, epoch, phase_step, optimisation)

    def _sync_losses(self, pending: list[torch.Tensor], phase: Phase, epoch: int) -> list[float]:
        """Bring the last few step losses to the host (one copy per 10 steps), check each."""
        losses = mean_across_ranks(torch.stack(pending)).tolist()
        first_step = self.step - len(pending) + 1
        pending.clear()
        for offset, value in enumerate(losses):
            if not math.isfinite(value):
                self._stop_non_finite(f"loss became {value}", first_step + offset, phase, epoch)
        return losses

    def _check_finite(self, phase: Phase, epoch: int, metrics: dict[str, float]) -> None:
        """Before a checkpoint: the epoch's metrics and every trained weight must be finite.

        A step can turn the weights non-finite after a finite loss (one step per epoch leaves
        no later loss to notice it), so the weights are checked too.
        """
        bad = [k for k, v in metrics.items() if not math.isfinite(v)]
        if bad:
            what = f"metric{'s' if len(bad) > 1 else ''} {', '.join(bad)} became non-finite"
            self._stop_non_finite(what, None, phase, epoch)
        weights = [p.detach().abs().amax().float() for p in phase.params if p.numel()]
        if weights and not bool(torch.isfinite(torch.stack(weights)).all()):
            self._stop_non_finite("weights became non-finite", None, phase, epoch)

    def _stop_non_finite(self, what: str, step: int | None, phase: Phase, epoch: int) -> None:
        where = f"at global step {step} " if step is not None else ""
        if self.saved is not None:
            kept = (
                f"{self.run.dir / CHECKPOINT_NAME} keeps the last good state (after "
                f"{self.saved[0]} epoch {self.saved[1]}); this epoch was not saved"
            )
        else:
            kept = "Nothing was saved (no epoch had finished)"
        clip = self.recipe.train.grad_clip
        clip_hint = "a lower train.grad_clip" if clip > 0 else "train.grad_clip=1.0 (it is off)"
        regularizer = ", or another objective.regularizer" if phase.name == "jepa" else ""
        cause = self._likely_cause(phase)
        if cause.startswith("non-finite data"):
            fix = f"Fix the data (data.dataset.name '{self.recipe.data.dataset.name}')"
        elif cause:
            fix = (
                f"Start a new run with a larger data.dataset.size or another train.batch_size "
                f"(then, if it still diverges, a lower {phase.lr_key}, now {phase.lr:g})"
            )
        else:
            fix = (
                f"Start a new run with a lower {phase.lr_key} (now {phase.lr:g}) or {clip_hint}"
                f"{regularizer}"
            )
        raise TrainingError(
            f"the {phase.name} {what} {where}(epoch {epoch}); stopping. {kept}. "
            + (f"Likely cause: {cause}. " if cause else "")
            + f"{fix}."
        )

    def _likely_cause(self, phase: Phase) -> str:
        """What the divergence most likely comes from, where it can be seen: non-finite data in
        the latest or the validation batch, one-sample batches, a training set smaller than two
        batches; "" when none of these (then the learning rate is the usual suspect)."""
        validation = {"jepa": self.val_batch, "decoder": self.val_windows}.get(phase.name)
        for which, batch in (("training", phase.last_batch), ("validation", validation)):
            floats = isinstance(batch, torch.Tensor) and batch.is_floating_point()
            if floats and not bool(torch.isfinite(batch).all()):
                return f"non-finite data: the {which} batch holds NaN or infinite values"
        if phase.name != "jepa":  # the other phases' losses use no batch statistics
            return ""
        n_train, n_val = len(self.clips.indices), len(self.val_indices)
        batch_size = phase.clips.batch_size
        size = f"data.dataset.size {getattr(self.recipe.data.dataset.params, 'size', '?')}"
        if batch_size == 1 or n_train % batch_size == 1 or n_val == 1:
            return (
                f"one-sample batches ({size}: {n_train} training and {n_val} validation "
                f"trajectories, batches of {batch_size}): batch statistics, such as a "
                f"regularizer's variance, are undefined on one sample"
            )
        if n_train < 2 * batch_size:
            return (
                f"a tiny dataset ({size}: {n_train} training trajectories, fewer than two "
                f"batches of {batch_size}), so each epoch is one or two noisy steps"
            )
        return ""

    # --- results --------------------------------------------------------------------------------

    def last_epoch(self, phase: str) -> dict[str, float]:
        """The last epoch's metrics of ``phase`` with its throughput (empty if it never ran)."""
        entries = self.history[phase]
        return {**entries[-1], "samples_per_s": self.speed.get(phase, 0.0)} if entries else {}

    @torch.no_grad()
    def final_diagnostics(self) -> tuple[dict[str, float], list[float]]:
        """Collapse diagnostics of the trained encoder on the held-out windows, and each
        dimension's std."""
        self.model.eval()
        z = self.model.encode(self.val_windows).float().cpu()
        diagnostics = collapse_diagnostics(z)
        if diagnostics["collapsed"]:
            log.warning(
                "final embeddings are collapsed: effective rank %.2f of %d",
                diagnostics["rankme"],
                z.shape[1],
            )
        return diagnostics, [float(s) for s in z.std(0)]

    # --- checkpoints ----------------------------------------------------------------------------

    def _save(
        self, phase: str, epoch: int, phase_step: int, optimisation: Optimisation | None
    ) -> None:
        state = TrainState(
            phase=phase,
            epoch=epoch,
            phase_step=phase_step,
            step=self.step,
            model=self.model.state_dict(),
            decoder=self.decoder.state_dict(),
            optimisation={} if optimisation is None else optimisation.state_dict(),
            rng=rng_state(self.generator),
            history=self.history,
            tracker_state=dict(self.run.state),
            recipe_hash=recipe_hash(self.recipe_dict),
            recipe=self.recipe_dict,
        )
        save_checkpoint(self.run.dir / CHECKPOINT_NAME, state)
        self.saved = (phase, epoch)

    def _restore(self, state: TrainState) -> None:
        path = self.run.dir / CHECKPOINT_NAME
        load_state(self.model, state.model, path)
        load_state(self.decoder, state.decoder, path)
        restore_rng(state.rng, self.generator)
        self.history.update({k: list(v) for k, v in state.history.items()})
        self.step = state.step
        self.saved = (state.phase, state.epoch)


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
