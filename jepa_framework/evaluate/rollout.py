"""Forecasts on fresh held-out trajectories, scored per horizon for every method.

The JEPA forecast encodes the context, applies ``model.rollout`` (the same function training
uses) and decodes each rolled-out latent with the trained decoder; the probed-state forecast
maps the same latents through the linear state probe instead. Work is done in chunks of
trajectories so image forecasts never hold every frame in memory.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs
import torch
from torch import nn

from jepa_framework.data import DynamicsDataset
from jepa_framework.evaluate.baselines import Forecaster
from jepa_framework.evaluate.metrics import nrmse
from jepa_framework.evaluate.ridge import Ridge
from jepa_framework.model import JEPA
from jepa_framework.observations import Curves


@attrs.frozen
class HeldOut:
    """Fresh trajectories: stored observations [N, C + H, *stored], states [N, C + H, S].

    The first ``context`` frames are what forecasters see; the next ``horizon`` are scored.
    """

    stored: torch.Tensor
    states: torch.Tensor
    context: int

    @property
    def horizon(self) -> int:
        return self.stored.shape[1] - self.context


def held_out(dataset: DynamicsDataset, n: int, context: int, horizon: int, seed: int) -> HeldOut:
    """``n`` fresh trajectories of ``context + horizon`` frames (may exceed training length)."""
    stored, states = dataset.generate(n, context + horizon, seed)
    return HeldOut(stored, states, context)


@attrs.define
class JepaForecast:
    """Latent rollout from the model's last ``history`` context frames; decoded or probed."""

    model: JEPA
    decoder: nn.Module
    device: torch.device

    @torch.no_grad()
    def latents(self, context: torch.Tensor, steps: int) -> torch.Tensor:
        """Float context [B, C, *obs] -> rolled-out latents [B, steps, D]."""
        self.model.eval()
        z = self.model.encode_context(context.to(self.device))
        return self.model.rollout(z, steps).movedim(0, 1).float()

    @torch.no_grad()
    def decode(self, latents: torch.Tensor, obs_shape: tuple[int, ...]) -> torch.Tensor:
        """Latents [B, K, D] -> decoded frames [B, K, *obs] on the CPU."""
        self.decoder.eval()
        b, k = latents.shape[:2]
        # a conv decoder's activations on thousands of frames at once would dominate peak memory
        parts = [self.decoder(part).float().cpu() for part in latents.flatten(0, 1).split(512)]
        return torch.cat(parts).view(b, k, *obs_shape)


def _sigma(values: torch.Tensor) -> torch.Tensor:
    """Per-dimension std over every trajectory and horizon: [N, H, D] -> [D]."""
    return values.flatten(0, 1).std(0).clamp_min(1e-8)


def score(
    dataset: DynamicsDataset,
    held: HeldOut,
    jepa: JepaForecast,
    probe: Ridge,
    baselines: Mapping[str, Forecaster],
    chunk: int = 32,
) -> tuple[dict[str, Curves], dict[str, torch.Tensor]]:
    """Per-trajectory error curves [N, H] for every method.

    Returns (observation-space curves, probed-state NRMSE curves). Which observation curves
    (NRMSE, pixel errors, ...) is the dataset's ``observation_space``'s choice. The state
    curves compare the probed JEPA rollout with copying the true last state.
    """
    c, horizon = held.context, held.horizon
    targets, _ = dataset.probe_targets(held.states)  # [N, C + H, P]
    state_sigma = _sigma(targets[:, c:])
    scorer = dataset.observation_space.scorer(lambda: dataset.to_float(held.stored[:, c:]))
    obs: dict[str, dict[str, list[torch.Tensor]]] = {}
    state: dict[str, list[torch.Tensor]] = {"jepa": [], "copy_last": []}

    def add(name: str, pred: torch.Tensor, truth: torch.Tensor) -> None:
        curves = obs.setdefault(name, {})
        for key, curve in scorer(pred, truth).items():
            curves.setdefault(key, []).append(curve)

    for i in range(0, held.stored.shape[0], chunk):
        clip = dataset.to_float(held.stored[i : i + chunk])
        context, truth = clip[:, :c], clip[:, c:]
        z = jepa.latents(context, horizon)
        add("jepa", jepa.decode(z, tuple(dataset.obs_shape)), truth)
        for name, forecast in baselines.items():
            add(name, forecast(context, horizon), truth)
        t = targets[i : i + chunk]
        state["jepa"].append(nrmse(probe.predict(z.cpu()), t[:, c:], state_sigma))
        last = t[:, c - 1 : c].expand(-1, horizon, -1)
        state["copy_last"].append(nrmse(last, t[:, c:], state_sigma))
    obs_curves = {m: {k: torch.cat(v) for k, v in d.items()} for m, d in obs.items()}
    return obs_curves, {m: torch.cat(v) for m, v in state.items()}
