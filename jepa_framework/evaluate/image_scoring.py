"""Scoring of frame forecasts: pixel MSE, PSNR, relative pixel error and pixel baselines.

The scoring of :class:`~jepa_framework.datasets.observations.ImageObservations` (frames in [0, 1],
which
PSNR assumes). The VPT thresholds the relative error (MSE / frame energy), so a mostly black
frame is not "valid" just because little of it is lit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import torch

from jepa_framework.evaluate import baselines as bl
from jepa_framework.evaluate import supervised as sv
from jepa_framework.evaluate.baseline_inputs import BaselineInputs
from jepa_framework.evaluate.metrics import pixel_errors, psnr
from jepa_framework.evaluate.scoring import (
    Curves,
    Group,
    Panel,
    VptFn,
    vpt_by_group,
    vpt_by_threshold,
)

#: relative pixel error thresholds: a strict one and the headline one
PIXEL_VPT_EPS = (0.025, 0.5)


@attrs.frozen
class ImageScoring:
    """Frames in [0, 1]: pixel MSE, PSNR and relative pixel error (MSE / frame energy)."""

    metric: str = "relative pixel MSE"
    vpt_thresholds: tuple[float, ...] = PIXEL_VPT_EPS
    headline_threshold: float = PIXEL_VPT_EPS[1]
    panels: tuple[Panel, ...] = (
        Panel("relative", "pixel error / frame energy", "relative MSE", True),
        Panel("psnr", "PSNR", "dB", False),
    )

    def scorer(
        self, training: Callable[[], torch.Tensor]
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
