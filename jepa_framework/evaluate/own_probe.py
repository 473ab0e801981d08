"""Every learned-encoder baseline read through a probe of its own latents.

The probed-state forecast reads every baseline's frames through the JEPA's encoder and probe,
which measures a baseline's frames in the JEPA's terms. A baseline with a latent space of its
own (the recipe's networks trained end to end,
:class:`~jepa_framework.evaluate.supervised.EndToEnd`) is also read the way the JEPA is: a
ridge probe fitted on its own latents of the same training windows, its penalty chosen on the
same validation windows, by the same fitting
(:func:`~jepa_framework.evaluate.probes.fit_probe`), then applied to its rolled-out latents.
Its entry in ``state_forecast.methods`` is ``<method> (own probe)``, beside ``<method>``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

import torch
from torch import nn

from jepa_framework.datasets.base import DynamicsDataset
from jepa_framework.evaluate.probes import fit_probe, probe_set, validation_windows
from jepa_framework.evaluate.rollout import LatentMethod


@runtime_checkable
class OwnLatents(Protocol):
    """A forecaster with a latent space of its own (:class:`EndToEnd` is one)."""

    def window_encoder(self) -> nn.Module:
        """Float windows [B, H, *obs] -> its latents [B, D]."""
        ...

    def latents(self, context: torch.Tensor, steps: int) -> torch.Tensor:
        """Float context [B, C, *obs] -> rolled-out latents [B, steps, D] on the CPU."""
        ...


def own_name(method: str) -> str:
    """``supervised`` -> ``supervised (own probe)``."""
    return f"{method} (own probe)"


def own_probe_methods(
    methods: Mapping[str, Callable[[torch.Tensor, int], torch.Tensor]],
    dataset: DynamicsDataset,
    train_idx: torch.Tensor,
    history: int,
    *,
    samples: int,
    seed: int,
    validation: tuple[int, int, int],
    device: torch.device,
) -> tuple[dict[str, LatentMethod], dict[str, Any]]:
    """A :class:`LatentMethod` read by its own probe for every method of ``methods`` with
    latents of its own, and each probe's penalty record.

    The training windows are those of the JEPA's probe (``samples`` windows of ``train_idx``
    drawn with ``seed``); ``validation`` is (trajectories, context frames, seed) of its
    penalty's validation windows (:func:`~jepa_framework.evaluate.probes.probe_study`'s).
    """
    own = {name: m for name, m in methods.items() if isinstance(m, OwnLatents)}
    if not own:
        return {}, {}
    train = probe_set(
        dataset, dataset.observations, dataset.states, history, samples, seed, traj=train_idx
    )
    n, context, validation_seed = validation
    held = validation_windows(dataset, n, context, history, validation_seed)
    out, records = {}, {}
    for name, method in own.items():
        choice, _ = fit_probe(method.window_encoder(), dataset, train, held, history, device)
        out[own_name(name)] = LatentMethod(method.latents, choice.ridge)
        records[own_name(name)] = {"penalty": choice.record()}
    return out, records
