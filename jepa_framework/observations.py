"""Kinds of observation: how forecasts of each are scored, summarised, plotted and compared.

A dataset hands out its :class:`ObservationSpace` (``dataset.observation_space``); the evaluation
asks it instead of branching on what the data looks like. The core provides
:class:`VectorObservations` (coordinates: NRMSE per dimension, ODE-style baselines) and
:class:`ImageObservations` (frames: pixel MSE, PSNR, blank and mean-frame baselines). A new kind
of observation is a new class implementing the protocol, in the plugin that needs it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import attrs
import torch
from torch import nn

from jepa_framework.evaluate import baselines as bl
from jepa_framework.evaluate import supervised as sv
from jepa_framework.evaluate.metrics import VPT_EPS, nrmse, pixel_errors, psnr
from jepa_framework.optim import Optimisation, StepPlan
from jepa_framework.seeds import derive_seed

if TYPE_CHECKING:  # batches imports data, which imports this module
    from jepa_framework.batches import Clips

#: per-trajectory error curves of one method: name -> [N, H]
Curves = dict[str, torch.Tensor]
#: (curves [N, H], threshold) -> valid prediction time record (frames, seconds, ...)
VptFn = Callable[[torch.Tensor, float], dict[str, Any]]


@attrs.frozen
class Group:
    """Trajectories reported on their own (e.g. an energy band) and how their VPT is measured.

    ``mask`` [N] selects them; ``vpt`` counts Lyapunov times with the group's own Lyapunov time.
    """

    mask: torch.Tensor
    vpt: VptFn


@attrs.frozen
class Panel:
    """One panel of forecast_eval.png: the curve ``key`` of every method against the horizon."""

    key: str
    title: str
    ylabel: str
    log: bool


@attrs.frozen
class BaselineInputs:
    """What baselines may learn from: training data, the context length and the JEPA's budget.

    ``train(n)`` returns float observations [N, T, *obs] of the first ``n`` training
    trajectories (all of them for ``None``). ``plan`` is the JEPA phase's step plan; each
    supervised baseline trains at every multiple of it in ``budgets``. ``networks()`` builds the
    recipe's own encoder, predictor and decoder afresh (seeded, on the run's device) and
    ``clips(length)`` draws the JEPA's kind of training clips of ``length`` frames (seeded);
    both are None where the recipe's own networks are not trained (``eval.baselines: false``).
    """

    train: Callable[[int | None], torch.Tensor]
    context: int
    sequence_length: int
    plan: StepPlan
    batch_size: int
    lr: float
    weight_decay: float
    grad_clip: float
    rollout_steps: int
    supervised: bool  # train the supervised baselines (eval.baselines)
    hidden: int
    seed: int
    history: int = 1
    budgets: tuple[int, ...] = (1,)
    networks: Callable[[], tuple[nn.Module, nn.Module, nn.Module]] | None = None
    clips: Callable[[int], Clips] | None = None
    precision: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext
    # the recipe's closed-form decoder (decoder_train.solver least_squares), applied to the
    # supervised baseline's trained model too; None where the recipe's decoder trains by gradient
    solve_decoder: Callable[[nn.Module], None] | None = None

    def optimisation(self, params: list[nn.Parameter], plan: StepPlan) -> Optimisation:
        """The JEPA's optimiser settings (AdamW, lr, weight decay, clipping) over ``plan``."""
        return Optimisation(params, plan, self.lr, self.weight_decay, self.grad_clip)


@runtime_checkable
class ObservationSpace(Protocol):
    """The contract every kind of observation fulfils (see the module doc)."""

    kind: str  # written to eval.json ("vector", "image", ...)
    metric: str  # what the VPT thresholds apply to, in words
    vpt_thresholds: tuple[float, ...]
    headline_threshold: float  # the threshold of the summary's VPT
    panels: tuple[Panel, ...]

    def scorer(
        self, truth: Callable[[], torch.Tensor]
    ) -> Callable[[torch.Tensor, torch.Tensor], Curves]:
        """A function (pred, truth) [n, H, *obs] -> curves [n, H].

        ``truth()`` gives every scored frame [N, H, *obs] as floats, for statistics over the
        test set; it is only called when needed (all frames of an image test set are big).
        """
        ...

    def summarise(self, curves: Curves, vpt: VptFn, groups: dict[str, Group]) -> dict[str, Any]:
        """One method's JSON entry: mean curves and VPTs, also per group (:func:`vpt_by_group`)."""
        ...

    def baselines(self, inputs: BaselineInputs) -> tuple[dict[str, bl.Forecaster], dict[str, Any]]:
        """The forecasters this kind of data is compared with, and a note of their settings."""
        ...


def vpt_by_threshold(curves: torch.Tensor, thresholds, vpt: VptFn) -> dict[str, Any]:
    return {str(eps): vpt(curves, eps) for eps in thresholds}


def vpt_by_group(curves: torch.Tensor, groups: dict[str, Group], eps: float) -> dict[str, Any]:
    """VPT(eps) per named group of trajectories (e.g. energy bands), each in its own units."""
    return {
        name: {"trajectories": int(g.mask.sum()), **g.vpt(curves[g.mask], eps)}
        for name, g in groups.items()
        if g.mask.any()
    }


@attrs.frozen
class VectorObservations:
    """Coordinates: NRMSE per horizon (each dimension scaled by its std over the test set)."""

    kind: str = "vector"
    metric: str = "NRMSE"
    vpt_thresholds: tuple[float, ...] = VPT_EPS
    headline_threshold: float = VPT_EPS[0]
    panels: tuple[Panel, ...] = (Panel("nrmse", "observation NRMSE", "NRMSE", True),)

    def scorer(
        self, truth: Callable[[], torch.Tensor]
    ) -> Callable[[torch.Tensor, torch.Tensor], Curves]:
        sigma = truth().flatten(0, 1).flatten(1).std(0).clamp_min(1e-8)
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
        batch = min(inputs.batch_size, len(train))
        seed = derive_seed(inputs.seed, "residual_mlp")
        for multiple in inputs.budgets:
            fit = bl.train_residual_mlp(
                train,
                order=order,
                rollout_steps=inputs.rollout_steps,
                plan=sv.scaled_plan(inputs.plan, multiple),
                batch_size=batch,
                optimiser=inputs.optimisation,
                hidden=inputs.hidden,
                seed=seed,
            )
            name = sv.method_name("residual_mlp", multiple)
            methods[name] = fit.forecaster
            trained[name] = fit.note(
                "residual_mlp",
                multiple,
                batch_size=batch,
                rollout_steps=inputs.rollout_steps,
                hidden_dim=inputs.hidden,
                order=order,
            )
        notes["baselines"] = trained
        notes["residual_mlp"] = {  # kept for readers of earlier eval.json files
            "budget": "the JEPA phase's step plan, batch size, lr schedule and rollout steps",
            "optimizer_steps": inputs.plan.total_steps,
            "warmup_steps": inputs.plan.warmup_steps,
            "batch_size": batch,
            "rollout_steps": inputs.rollout_steps,
            "hidden_dim": inputs.hidden,
        }
        return methods, notes


#: relative pixel error thresholds: a strict one and the headline one
PIXEL_VPT_EPS = (0.025, 0.5)


@attrs.frozen
class ImageObservations:
    """Frames in [0, 1]: pixel MSE, PSNR and relative pixel error (MSE / frame energy)."""

    kind: str = "image"
    metric: str = "relative pixel MSE"
    vpt_thresholds: tuple[float, ...] = PIXEL_VPT_EPS
    headline_threshold: float = PIXEL_VPT_EPS[1]
    panels: tuple[Panel, ...] = (
        Panel("relative", "pixel error / frame energy", "relative MSE", True),
        Panel("psnr", "PSNR", "dB", False),
    )

    def scorer(
        self, truth: Callable[[], torch.Tensor]
    ) -> Callable[[torch.Tensor, torch.Tensor], Curves]:
        def score(pred: torch.Tensor, true: torch.Tensor) -> Curves:
            mse, relative = pixel_errors(pred, true)
            return {"mse": mse, "relative": relative}

        return score

    def summarise(self, curves: Curves, vpt: VptFn, groups: dict[str, Group]) -> dict[str, Any]:
        mse, relative = curves["mse"].mean(0), curves["relative"]
        return {
            "mse": mse.tolist(),
            "psnr": psnr(mse).tolist(),
            "relative": relative.mean(0).tolist(),
            "vpt": vpt_by_threshold(relative, self.vpt_thresholds, vpt),
            "groups": vpt_by_group(relative, groups, self.headline_threshold),
        }

    def baselines(self, inputs: BaselineInputs) -> tuple[dict[str, bl.Forecaster], dict[str, Any]]:
        """Copy-last, a blank frame, the mean frame of a few hundred training trajectories, and
        the recipe's own networks trained end to end with a pixel loss at every budget."""
        sample = inputs.train(256)  # frames are big: a sample is enough for a mean
        methods = {
            "copy_last": bl.copy_last,
            "blank": bl.blank,
            "mean_frame": bl.mean_frame(sample.flatten(0, 1).mean(0)),
        }
        if not inputs.supervised:
            return methods, {}
        own, trained = sv.own_network_baselines(inputs, standardise=False)
        return {**methods, **own}, {"baselines": trained}
