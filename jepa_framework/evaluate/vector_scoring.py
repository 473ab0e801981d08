"""Scoring of coordinate forecasts: NRMSE per horizon, ODE-style and supervised baselines.

The scoring of :class:`~jepa_framework.datasets.observations.VectorObservations`. A new metric of
coordinate forecasts is a function in :mod:`jepa_framework.evaluate.metrics` and a line in
:meth:`VectorScoring.scorer` and :meth:`VectorScoring.summarise` here
(docs/explanation/adding-a-metric.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import torch

from jepa_framework.core.seeds import derive_seed
from jepa_framework.evaluate import baselines as bl
from jepa_framework.evaluate import supervised as sv
from jepa_framework.evaluate.baseline_inputs import BaselineInputs
from jepa_framework.evaluate.metrics import VPT_EPS, nrmse
from jepa_framework.evaluate.scoring import (
    Curves,
    Group,
    Panel,
    VptFn,
    vpt_by_group,
    vpt_by_threshold,
)


@attrs.frozen
class VectorScoring:
    """Coordinates: NRMSE per horizon (each dimension scaled by its std over the training
    observations)."""

    metric: str = "NRMSE"
    vpt_thresholds: tuple[float, ...] = VPT_EPS
    headline_threshold: float = VPT_EPS[0]
    panels: tuple[Panel, ...] = (Panel("nrmse", "observation NRMSE", "NRMSE", True),)

    def scorer(
        self, training: Callable[[], torch.Tensor]
    ) -> Callable[[torch.Tensor, torch.Tensor], Curves]:
        sigma = training().flatten(0, 1).flatten(1).std(0).clamp_min(1e-8)
        return lambda pred, true: {"nrmse": nrmse(pred.flatten(2), true.flatten(2), sigma)}

    def summarise(self, curves: Curves, vpt: VptFn, groups: dict[str, Group]) -> dict[str, Any]:
        c = curves["nrmse"]
        return {
            "nrmse": c.mean(0).tolist(),
            "vpt": vpt_by_threshold(c, self.vpt_thresholds, vpt),
            "groups": vpt_by_group(c, groups, self.headline_threshold),
        }

    def baselines(self, inputs: BaselineInputs) -> tuple[dict[str, bl.Forecaster], dict[str, Any]]:
        """Copy-last, constant velocity, linear AR, and two supervised models at every budget:
        the recipe's own networks trained end to end and the residual MLP."""
        methods: dict[str, bl.Forecaster] = {"copy_last": bl.copy_last}
        train = inputs.train(None)
        if inputs.context >= 2:
            methods["constant_velocity"] = bl.constant_velocity
        order = max(1, min(inputs.context, inputs.sequence_length - 1))
        methods["linear_ar"] = bl.LinearAR(train, order, seed=inputs.seed)
        notes: dict[str, Any] = {"linear_ar_order": order}
        if not inputs.supervised:
            return methods, notes
        own, trained = sv.own_network_baselines(inputs, standardise=True)
        methods.update(own)
        seed = derive_seed(inputs.seed, "residual_mlp")
        for multiple in inputs.budgets:
            fit = bl.train_residual_mlp(
                train, order, inputs.budget.scaled(multiple), hidden=inputs.hidden, seed=seed
            )
            name = sv.method_name("residual_mlp", multiple)
            methods[name] = fit.forecaster
            first = fit.phases[0]
            trained[name] = fit.note(
                "residual_mlp",
                multiple,
                batch_size=first["batch_size"],
                rollout_steps=first["rollout_steps"],
                hidden_dim=inputs.hidden,
                order=order,
            )
        notes["baselines"] = trained
        first = inputs.budget.first
        notes["residual_mlp"] = {  # kept for readers of earlier eval.json files
            "budget": "every training phase of the JEPA's forecaster: its step plans, batch "
            "sizes, lr schedules and rollout steps",
            "optimizer_steps": inputs.budget.total_steps,
            "warmup_steps": first.plan.warmup_steps,
            "batch_size": min(first.batch_size, len(train)),
            "rollout_steps": first.rollout_steps,
            "hidden_dim": inputs.hidden,
        }
        return methods, notes
