"""The contract of a kind of observation's scoring, and the pieces every scoring shares.

A :class:`Scoring` says how forecasts of one kind of observation (coordinates, frames, ...) are
turned into error curves, summarised into eval.json, drawn in forecast_eval.png and compared with
baselines. The report, the scoring loop and the figures only talk to this protocol, so a new
kind of observation (or a new metric of an existing kind) changes no code outside its scoring.
Which scoring a dataset gets is :func:`jepa_framework.evaluate.spaces.scoring_of`'s choice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import attrs
import torch

from jepa_framework.evaluate.baseline_inputs import BaselineInputs
from jepa_framework.evaluate.baselines import Forecaster

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


@runtime_checkable
class Scoring(Protocol):
    """How forecasts of one kind of observation are scored, summarised, drawn and compared."""

    metric: str  # what the VPT thresholds apply to, in words (eval.json's forecast.metric)
    vpt_thresholds: tuple[float, ...]
    headline_threshold: float  # the threshold of the summary's VPT
    panels: tuple[Panel, ...]

    def scorer(
        self, training: Callable[[], torch.Tensor]
    ) -> Callable[[torch.Tensor, torch.Tensor], Curves]:
        """A function (pred, truth) [n, H, *obs] -> curves [n, H].

        ``training()`` gives the training trajectories' observations [N, T, *obs] as floats,
        the source of any normaliser (a scale from the test set would move with the horizon
        and the draw); it is only called when needed (an image training set is big).
        """
        ...

    def summarise(self, curves: Curves, vpt: VptFn, groups: dict[str, Group]) -> dict[str, Any]:
        """One method's JSON entry: mean curves and VPTs, also per group (:func:`vpt_by_group`)."""
        ...

    def baselines(self, inputs: BaselineInputs) -> tuple[dict[str, Forecaster], dict[str, Any]]:
        """The forecasters this kind of data is compared with, and a note of their settings."""
        ...


def vpt_by_threshold(
    curves: torch.Tensor, thresholds: tuple[float, ...], vpt: VptFn
) -> dict[str, Any]:
    """VPT at each threshold, keyed by the threshold as text (eval.json's ``vpt``)."""
    return {str(eps): vpt(curves, eps) for eps in thresholds}


def vpt_by_group(curves: torch.Tensor, groups: dict[str, Group], eps: float) -> dict[str, Any]:
    """VPT(eps) per named group of trajectories (e.g. energy bands), each in its own units."""
    return {
        name: {"trajectories": int(g.mask.sum()), **g.vpt(curves[g.mask], eps)}
        for name, g in groups.items()
        if g.mask.any()
    }
