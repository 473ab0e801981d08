"""The JEPA's training budget, phase by phase, which every trained baseline and control repeats.

The JEPA's forecaster trains in phase 1 (``train``: its step plan, batch size, learning rate and
``objective.rollout_steps``) and, when ``refit.epochs`` > 0, in a refit phase (``refit``'s plan,
batch size, learning rate and ``refit.steps(objective)``). A baseline given phase 1 alone would
get fewer optimizer steps than the JEPA, so :func:`jepa_budget` gathers every phase and each
trained method runs them in order: a fresh :class:`~jepa_framework.pipeline.optim.Optimisation`
(AdamW, warmup-cosine schedule, clipping) per phase, as the JEPA's trainer builds one, over the
same weights. The same total optimizer steps, at the same rollout lengths. The decoder phase is
not counted: it fits a readout of frozen latents, which the end-to-end baselines learn within
their steps and the controls repeat as the JEPA ran it
(:mod:`~jepa_framework.evaluate.control_readout`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs
from torch import nn

from jepa_framework.config.recipe import Recipe
from jepa_framework.pipeline.optim import Optimisation, StepPlan


def scaled_plan(plan: StepPlan, multiple: int) -> StepPlan:
    """``multiple`` times the optimizer steps of ``plan`` (more epochs, the same warmup)."""
    return StepPlan(plan.epochs * multiple, plan.steps_per_epoch, plan.warmup_steps)


@attrs.frozen
class PhaseBudget:
    """One training phase of the JEPA: its step plan and optimiser settings, and the latent
    rollout length its loss unrolls."""

    phase: str  # "jepa" (phase 1) or "refit"
    plan: StepPlan
    batch_size: int
    lr: float
    weight_decay: float
    grad_clip: float
    rollout_steps: int

    def optimisation(self, params: Iterable[nn.Parameter]) -> Optimisation:
        """The JEPA's optimiser of this phase (AdamW, lr, weight decay, clipping) over its plan."""
        return Optimisation(params, self.plan, self.lr, self.weight_decay, self.grad_clip)

    def record(self, rollout_steps: int | None = None, batch_size: int | None = None) -> dict:
        """eval.json's entry of this phase as a method ran it (its rollout and batch may be
        capped by the data; default the JEPA's)."""
        return {
            "phase": self.phase,
            "optimizer_steps": self.plan.total_steps,
            "warmup_steps": self.plan.warmup_steps,
            "rollout_steps": self.rollout_steps if rollout_steps is None else rollout_steps,
            "batch_size": self.batch_size if batch_size is None else batch_size,
            "lr": self.lr,
        }


@attrs.frozen
class Budget:
    """Every training phase of the JEPA's forecaster, in the order it ran them."""

    phases: tuple[PhaseBudget, ...]

    @property
    def total_steps(self) -> int:
        return sum(p.plan.total_steps for p in self.phases)

    @property
    def first(self) -> PhaseBudget:
        """Phase 1, whose settings the notes of a single-phase method report."""
        return self.phases[0]

    def scaled(self, multiple: int) -> Budget:
        """``multiple`` times every phase's optimizer steps (eval.baseline_budgets)."""
        return Budget(
            tuple(attrs.evolve(p, plan=scaled_plan(p.plan, multiple)) for p in self.phases)
        )

    def record(self) -> list[dict[str, Any]]:
        return [p.record() for p in self.phases]


def jepa_budget(recipe: Recipe, plans: Mapping[str, StepPlan]) -> Budget:
    """The phases the JEPA trained its forecaster in: ``plans["jepa"]``, then ``plans["refit"]``
    when the recipe refits (``refit.epochs`` > 0); ``plans`` is the trainer's
    (:func:`~jepa_framework.pipeline.training.phase_plans`)."""
    train, refit = recipe.train, recipe.refit
    phases = [
        PhaseBudget(
            "jepa",
            plans["jepa"],
            train.batch_size,
            train.lr,
            train.weight_decay,
            train.grad_clip,
            recipe.objective.rollout_steps,
        )
    ]
    if refit.epochs:  # the trainer's refit: train's weight decay and clipping, refit's lr
        phases.append(
            PhaseBudget(
                "refit",
                plans["refit"],
                refit.batch_size,
                refit.lr,
                train.weight_decay,
                train.grad_clip,
                refit.steps(recipe.objective),
            )
        )
    return Budget(tuple(phases))


#: eval.json's entry of a method that takes no optimizer step (closed form or nothing learned)
UNTRAINED: dict[str, Any] = {"optimizer_steps": 0, "wall_s": None, "phases": []}


def method_budgets(
    methods: Iterable[str],
    jepa: Budget,
    jepa_wall_s: float | None,
    trained: Mapping[str, Mapping[str, Any]],
) -> dict[str, dict[str, Any]]:
    """eval.json's ``budgets``: per forecast method, its total optimizer steps, training wall
    seconds and phases; ``trained`` holds the notes of the methods that trained (their
    ``optimizer_steps``, ``wall_s`` and ``phases``), every other method took no step."""
    out: dict[str, dict[str, Any]] = {
        "jepa": {
            "optimizer_steps": jepa.total_steps,
            "wall_s": jepa_wall_s,
            "phases": jepa.record(),
        }
    }
    for name in methods:
        if name in out:
            continue
        note = trained.get(name)
        if note is None:
            out[name] = dict(UNTRAINED)
            continue
        out[name] = {k: note.get(k) for k in ("optimizer_steps", "wall_s", "phases")}
    return out
