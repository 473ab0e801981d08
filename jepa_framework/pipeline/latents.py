"""Latents of every window of stored trajectories, and random clips of them.

The refit phase and the frozen-encoder controls both train a predictor on a frozen encoder's
latents: encoding every window once, then drawing clips of consecutive latents, costs a small
fraction of encoding frames at every step. A frame-wise encoder
(:mod:`jepa_framework.models.framewise`) has every frame encoded once, not once per window it is in.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import attrs
import torch
from torch import nn

from jepa_framework.datasets.base import DynamicsDataset
from jepa_framework.datasets.batches import rank_share
from jepa_framework.datasets.windows import gather_windows
from jepa_framework.models.encoding import encode_sequences


@torch.no_grad()
def window_latents(
    encoder: nn.Module,
    dataset: DynamicsDataset,
    indices: torch.Tensor,
    history: int,
    device: torch.device,
    chunk: int = 64,
    convert: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> torch.Tensor:
    """Latents [N, T - history + 1, D] of every window of the trajectories ``indices``.

    Trajectories are read ``chunk`` at a time, so a memory-mapped dataset is never copied whole.
    ``convert`` turns stored frames into the encoder's input (default ``dataset.to_float``).
    """
    convert = convert or dataset.to_float
    parts = [
        encode_sequences(encoder, dataset.observations[part], history, device, convert)
        for part in indices.split(chunk)
    ]
    return torch.cat(parts)


@attrs.define
class LatentClips:
    """Random clips of ``length`` consecutive latents out of ``latents`` [N, W, D].

    One epoch visits every trajectory once, each at a random start, as the frame clips of
    phase 1 do; every rank draws the same global batch and keeps its own equal slice.
    """

    latents: torch.Tensor
    length: int
    batch_size: int
    generator: torch.Generator
    rank: int = 0
    world_size: int = 1

    def __len__(self) -> int:
        return math.ceil(len(self.latents) / self.batch_size)

    def _starts(self, n: int, generator: torch.Generator) -> torch.Tensor:
        windows = self.latents.shape[1]
        return torch.randint(0, windows - self.length + 1, (n,), generator=generator)

    def _gather(self, traj: torch.Tensor, starts: torch.Tensor) -> torch.Tensor:
        device = self.latents.device
        return gather_windows(self.latents, traj.to(device), starts.to(device), self.length)

    def __iter__(self) -> Iterator[torch.Tensor]:
        order = torch.randperm(len(self.latents), generator=self.generator)
        for batch in order.split(self.batch_size):
            starts = self._starts(len(batch), self.generator)
            traj, starts = rank_share(batch, starts, self.rank, self.world_size)
            if len(traj):
                yield self._gather(traj, starts)

    def fixed_batch(self, size: int, seed: int) -> torch.Tensor:
        """The same clips every call: the refit's validation batch."""
        g = torch.Generator().manual_seed(seed)
        traj = torch.randperm(len(self.latents), generator=g)[:size]
        return self._gather(traj, self._starts(len(traj), g))
