"""Forecasts on fresh held-out trajectories, scored per horizon for every method.

The JEPA forecast encodes the context, applies ``model.rollout`` (the same function training
uses) and decodes each rolled-out latent with the trained decoder. A method with a latent space
of its own (a control, a supervised model read through its own probe) is a
:class:`LatentMethod`: its latents decoded (a control's linear decoder) and read by its own
probe. The probed-position forecast (for datasets with ``probe_positions``) reads
states through a linear state probe instead and scores the positions they imply, with the NRMSE
and normaliser of coordinate forecasts (docs/evaluation.md). Work is done in chunks of
trajectories so image forecasts never hold every frame in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import attrs
import torch
from torch import nn

from jepa_framework.datasets.base import DynamicsDataset
from jepa_framework.evaluate.baselines import Forecaster
from jepa_framework.evaluate.metrics import nrmse
from jepa_framework.evaluate.probes import Probes
from jepa_framework.evaluate.ridge import Ridge
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
    #: the training trajectories' indices, the source of every normaliser (None: all stored)
    train_idx: torch.Tensor | None = None

    @property
    def horizon(self) -> int:
        return self.stored.shape[1] - self.context


def held_out(
    dataset: DynamicsDataset,
    n: int,
    context: int,
    horizon: int,
    seed: int,
    train_idx: torch.Tensor | None = None,
    split: str = "test",
) -> HeldOut:
    """``n`` fresh trajectories of ``context + horizon`` frames (may exceed training length)
    of the held-out ``split``, measured in the scales of the ``train_idx`` trajectories."""
    stored, states = dataset.generate(n, context + horizon, seed, split)
    return HeldOut(stored, states, context, train_idx)


def training_observations(dataset: DynamicsDataset, held: HeldOut) -> torch.Tensor:
    """The float observations [N, T, *obs] of the trajectories the normalisers come from."""
    idx = held.train_idx
    stored = dataset.observations if idx is None else dataset.observations[idx]
    return dataset.to_float(stored)


def position_scale(dataset: DynamicsDataset, held: HeldOut) -> torch.Tensor | None:
    """Per-coordinate std [X] of the training trajectories' probe positions (None without)."""
    states = dataset.states if held.train_idx is None else dataset.states[held.train_idx]
    targets, _ = dataset.probe_targets(torch.as_tensor(states))
    positions = dataset.probe_positions(targets)
    return None if positions is None else _sigma(positions)


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


@attrs.frozen
class LatentMethod:
    """A method with a latent space of its own, scored as its own kind of forecast.

    ``latents(context, steps)``: float context [B, C, *obs] -> rolled-out latents [B, steps, D]
    on the CPU; ``decode`` turns them into frames [B, steps, *obs] scored in observation space
    (None: the method's frames are scored elsewhere, as a baseline's); ``probe`` reads them as
    probe targets where the dataset has probe positions (None: no probed reading).
    """

    latents: Callable[[torch.Tensor, int], torch.Tensor]
    probe: Ridge | None
    decode: Callable[[torch.Tensor], torch.Tensor] | None = None

    @classmethod
    def of(
        cls, forecast: JepaForecast, probe: Ridge | None, obs_shape: tuple[int, ...]
    ) -> LatentMethod:
        """A JEPA-shaped model (a control) rolled out, decoded by its decoder, read by ``probe``."""
        return cls(
            latents=lambda context, steps: forecast.latents(context, steps).cpu(),
            probe=probe,
            decode=lambda z: forecast.decode(z, obs_shape),
        )


def _sigma(values: torch.Tensor) -> torch.Tensor:
    """Per-dimension std over every trajectory and frame: [N, T, D] -> [D]."""
    return values.flatten(0, 1).std(0).clamp_min(1e-8)


#: the probed forecast that holds the true last context state (a reference, not a method)
TRUE_STATE_REFERENCE = "copy_last_true_state"


def score(
    dataset: DynamicsDataset,
    held: HeldOut,
    jepa: JepaForecast,
    probes: Probes,
    baselines: Mapping[str, Forecaster],
    latent_methods: Mapping[str, LatentMethod] | None = None,
    chunk: int = CHUNK,
) -> tuple[dict[str, Curves], dict[str, torch.Tensor]]:
    """Per-trajectory error curves [N, H] for every method.

    Returns (observation-space curves, probed-position NRMSE curves). Which observation curves
    (NRMSE, pixel errors, ...) is the choice of the scoring of the dataset's observations
    (:func:`~jepa_framework.evaluate.spaces.scoring_of`): of the JEPA, of every baseline and of
    every ``latent_methods`` entry with a decoder. The probed curves (empty when the dataset has
    no ``probe_positions``) read the JEPA's latent rollout through its probe; ``copy_last``, the
    probe's reading of the last context window held; every other baseline's frames re-encoded
    by the JEPA's encoder in windows of ``history`` frames and read by the JEPA's probe; and
    each ``latent_methods`` entry's rolled-out latents through its own probe.
    ``copy_last_true_state`` holds the true last context positions.
    """
    latent_methods = latent_methods or {}
    c, horizon = held.context, held.horizon
    targets, _ = dataset.probe_targets(held.states)  # [N, C + H, P]
    true_positions = dataset.probe_positions(targets)  # [N, C + H, X] or None
    sigma = None if true_positions is None else position_scale(dataset, held)
    scorer = scoring_of(dataset).scorer(lambda: training_observations(dataset, held))
    history = jepa.model.history
    obs_shape = tuple(dataset.obs_shape)
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

    reads_state = true_positions is not None and sigma is not None
    for i in range(0, held.stored.shape[0], chunk):
        clip = dataset.to_float(held.stored[i : i + chunk])
        context, truth = clip[:, :c], clip[:, c:]
        z = jepa.latents(context, horizon)
        add("jepa", jepa.decode(z, obs_shape), truth)
        forecasts = {name: forecast(context, horizon) for name, forecast in baselines.items()}
        for name, frames in forecasts.items():
            add(name, frames, truth)
        own_latents = {}
        for name, method in latent_methods.items():
            if method.decode is None and (method.probe is None or not reads_state):
                continue
            own_latents[name] = method.latents(context, horizon)
            if method.decode is not None:
                add(name, method.decode(own_latents[name]), truth)
        if not reads_state:
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
        for name, latents in own_latents.items():
            probe = latent_methods[name].probe
            if probe is not None:
                readings[name] = probe.predict(latents)
        for name, r in readings.items():
            state.setdefault(name, []).append(
                nrmse(probed(r).expand_as(truth_pos), truth_pos, sigma)
            )
        held_true = pos[:, c - 1 : c].expand_as(truth_pos)
        state.setdefault(TRUE_STATE_REFERENCE, []).append(nrmse(held_true, truth_pos, sigma))
    obs_curves = {m: {k: torch.cat(v) for k, v in d.items()} for m, d in obs.items()}
    return obs_curves, {m: torch.cat(v) for m, v in state.items()}
