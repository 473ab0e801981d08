"""Forecasts on fresh held-out trajectories, scored per horizon for every method.

The JEPA forecast encodes the context, applies ``model.rollout`` (the same function training
uses) and decodes each rolled-out latent with the trained decoder. The probed-position forecast
(for datasets with ``probe_positions``) reads states through the linear state probe instead and
scores the positions they imply, with the NRMSE and normaliser of coordinate forecasts; every
method goes through the same probe (docs/evaluation.md). Work is done in chunks of trajectories
so image forecasts never hold every frame in memory.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs
import torch
from torch import nn

from jepa_framework.datasets.base import DynamicsDataset
from jepa_framework.evaluate.baselines import Forecaster
from jepa_framework.evaluate.metrics import nrmse
from jepa_framework.evaluate.probes import Probes
from jepa_framework.evaluate.scoring import Curves
from jepa_framework.evaluate.spaces import scoring_of
from jepa_framework.models.encoding import encode_sequences
from jepa_framework.models.jepa import JEPA
from jepa_framework.pipeline.eval_memory import CHUNK


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
    def context_latent(self, context: torch.Tensor) -> torch.Tensor:
        """The encoder's latent of the last context window: [B, C, *obs] -> [B, D] on the CPU."""
        self.model.eval()
        return self.model.encode_context(context.to(self.device)).float().cpu()

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


#: the probed forecast that holds the true last context state (a reference, not a method)
TRUE_STATE_REFERENCE = "copy_last_true_state"


def score(
    dataset: DynamicsDataset,
    held: HeldOut,
    jepa: JepaForecast,
    probes: Probes,
    baselines: Mapping[str, Forecaster],
    control: JEPA | None = None,
    refit: JEPA | None = None,
    chunk: int = CHUNK,
) -> tuple[dict[str, Curves], dict[str, torch.Tensor]]:
    """Per-trajectory error curves [N, H] for every method.

    Returns (observation-space curves, probed-position NRMSE curves). Which observation curves
    (NRMSE, pixel errors, ...) is the choice of the scoring of the dataset's observations
    (:func:`~jepa_framework.evaluate.spaces.scoring_of`). The probed
    curves (empty when the dataset has no ``probe_positions``) read every method through the
    JEPA's probe: its latent rollout; ``copy_last``, the probe's reading of the last context
    window held; every other forecaster's frames re-encoded in windows of ``history`` frames;
    the ``control``'s rollout through its own probe; and ``refit``'s (the JEPA's frozen encoder
    with a refitted predictor, in the JEPA's latent space) through the JEPA's probe.
    ``copy_last_true_state`` holds the true last context positions.
    """
    c, horizon = held.context, held.horizon
    targets, _ = dataset.probe_targets(held.states)  # [N, C + H, P]
    true_positions = dataset.probe_positions(targets)  # [N, C + H, X] or None
    sigma = None if true_positions is None else _sigma(true_positions[:, c:])
    scorer = scoring_of(dataset).scorer(lambda: dataset.to_float(held.stored[:, c:]))
    history = jepa.model.history
    obs: dict[str, dict[str, list[torch.Tensor]]] = {}
    state: dict[str, list[torch.Tensor]] = {}

    def add(name: str, pred: torch.Tensor, truth: torch.Tensor) -> None:
        curves = obs.setdefault(name, {})
        for key, curve in scorer(pred, truth).items():
            curves.setdefault(key, []).append(curve)

    def probed(readings: torch.Tensor) -> torch.Tensor:
        """Probe readings [B, K, P] -> positions [B, K, X]."""
        positions = dataset.probe_positions(readings)
        assert positions is not None
        return positions

    def reencoded(context: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
        """A forecaster's frames [B, H, *obs] -> the JEPA probe's readings [B, H, P]."""
        # the window ending at each forecast frame starts in the context
        sequences = torch.cat([context[:, context.shape[1] - history + 1 :], frames], dim=1)
        z = encode_sequences(jepa.model.encoder, sequences, history, jepa.device)  # [B, K, D]
        return probes.jepa.predict(z.flatten(0, 1)).view(*frames.shape[:2], -1)

    for i in range(0, held.stored.shape[0], chunk):
        clip = dataset.to_float(held.stored[i : i + chunk])
        context, truth = clip[:, :c], clip[:, c:]
        z = jepa.latents(context, horizon)
        add("jepa", jepa.decode(z, tuple(dataset.obs_shape)), truth)
        forecasts = {name: forecast(context, horizon) for name, forecast in baselines.items()}
        for name, frames in forecasts.items():
            add(name, frames, truth)
        if true_positions is None or sigma is None:
            continue
        pos = true_positions[i : i + chunk]
        truth_pos = pos[:, c:]
        readings = {
            "jepa": probes.jepa.predict(z.cpu()),
            "copy_last": probes.jepa.predict(jepa.context_latent(context))[:, None],
        }
        for name, frames in forecasts.items():
            if name != "copy_last":  # copy-last is the probe's reading of the context, held
                readings[name] = reencoded(context, frames)
        for name, frozen, probe in (
            ("random_encoder", control, probes.random_encoder),
            ("refit_predictor", refit, probes.jepa),
        ):
            if frozen is not None:
                with torch.no_grad():
                    zc = frozen.encode_context(context.to(jepa.device))
                    rolled = frozen.rollout(zc, horizon).movedim(0, 1).float().cpu()
                readings[name] = probe.predict(rolled)
        for name, r in readings.items():
            state.setdefault(name, []).append(
                nrmse(probed(r).expand_as(truth_pos), truth_pos, sigma)
            )
        held_true = pos[:, c - 1 : c].expand_as(truth_pos)
        state.setdefault(TRUE_STATE_REFERENCE, []).append(nrmse(held_true, truth_pos, sigma))
    obs_curves = {m: {k: torch.cat(v) for k, v in d.items()} for m, d in obs.items()}
    return obs_curves, {m: torch.cat(v) for m, v in state.items()}
