"""The nothing-learned reference a dataset declares, as a forecaster beside the baselines.

A JEPA's encoder is only worth its training where a forecaster that learns nothing falls short.
A dataset names its best such forecaster with ``nothing_learned_reference``
(:mod:`jepa_framework.datasets.references`): a predictor plugin without parameters, applied to
the identity encoder's latent, the flattened raw observations of the last ``data.history``
frames (the floats the JEPA's encoder receives: no standardisation, no learned map). Each step's
newest frame is the forecast. For the periodic curves that is the ``oscillator``, which
measures each coordinate's frequency on the window (``benchmarks/bench_oscillator_raw.py``).
It appears in eval.json's ``forecast.methods`` as ``<predictor>_raw``, and
``settings[<predictor>_raw]`` says what it is.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import torch
from torch import nn

from jepa_framework.config.recipe import PredictorSpec
from jepa_framework.core.components import Shapes
from jepa_framework.core.errors import JepaError, PluginError
from jepa_framework.datasets.base import DynamicsDataset
from jepa_framework.datasets.references import NothingLearned
from jepa_framework.evaluate.baselines import Forecaster
from jepa_framework.pipeline.assemble import build

log = logging.getLogger("jepa_framework")


class RawPredictorForecast:
    """``predictor`` stepping the raw frames of the last ``history`` context frames, in float64
    (a rollout of hundreds of steps should not add float32 rounding at every one)."""

    def __init__(self, predictor: nn.Module, history: int) -> None:
        self.predictor = predictor.double().eval()
        self.history = history

    @torch.no_grad()
    def __call__(self, context: torch.Tensor, steps: int) -> torch.Tensor:
        """Float context [B, C >= history, *obs] -> forecast [B, steps, *obs] (its dtype)."""
        b, shape = context.shape[0], context.shape[2:]
        frames = context[:, -self.history :].flatten(2).double()  # [B, H, F]
        width = frames.shape[-1]
        z = frames.flatten(1)  # the identity encoder's latent: [B, H * F]
        out = []
        for _ in range(steps):
            z = self.predictor(z)
            out.append(z[:, -width:])
        return torch.stack(out, 1).view(b, steps, *shape).to(context.dtype)


def nothing_learned(
    dataset: DynamicsDataset, host: Any, history: int
) -> tuple[dict[str, Forecaster], dict[str, Any]]:
    """The dataset's nothing-learned reference (none when it declares none) and its note for
    eval.json's settings. A predictor that cannot read ``history`` frames of this data (too
    few for its fit) is left out with a warning and a note saying why."""
    declared = dataset.nothing_learned_reference
    if declared is None:
        return {}, {}
    reference = NothingLearned.of(declared)
    name = reference.method
    component = host.registry("predictors").get(reference.predictor)
    note: dict[str, Any] = {
        "what": f"nothing learned: the '{reference.predictor}' predictor stepping the raw "
        f"observations of the last {history} frames (the identity as the encoder, the frames "
        "as the JEPA's encoder receives them); no parameters, no training, no fit",
        "predictor": reference.predictor,
        "params": dict(reference.params),
        "history": history,
    }
    features = math.prod(dataset.obs_shape)
    spec = PredictorSpec(reference.predictor, component.params(**reference.params))
    try:
        predictor = build(host, spec, Shapes(tuple(dataset.obs_shape), history, history * features))
    except JepaError as exc:
        log.warning("nothing-learned reference %s left out: %s", name, exc)
        return {}, {name: {**note, "skipped": str(exc)}}
    parameters = sum(p.numel() for p in predictor.parameters())
    if parameters:
        cls = type(dataset)
        raise PluginError(
            f"dataset {cls.__module__}.{cls.__qualname__} names predictor "
            f"'{reference.predictor}' as its nothing_learned_reference, but it has "
            f"{parameters} parameters, which nothing trains: a nothing-learned reference must "
            "be a predictor without parameters (such as 'oscillator')."
        )
    return {name: RawPredictorForecast(predictor, history)}, {name: note}
