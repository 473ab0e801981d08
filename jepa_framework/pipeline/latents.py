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

#: latent clips [B, L, D], or those and the actions between them [B, L - 1, A]
LatentBatch = torch.Tensor | tuple[torch.Tensor, torch.Tensor]


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


def window_actions(actions: torch.Tensor, history: int, windows: int) -> torch.Tensor:
    """The action from each window to the next: actions [N, T, A] -> [N, windows - 1, A].

    Window w ends at frame w + history - 1, whose action leads to the frame ending window w + 1.
    """
    return actions[:, history - 1 : history - 1 + windows - 1]


@attrs.define
class LatentClips:
    """Random clips of ``length`` consecutive latents out of ``latents`` [N, W, D].

    One epoch visits every trajectory once, each at a random start, as the frame clips of
    phase 1 do; every rank draws the same global batch and keeps its own equal slice. With
    ``actions`` [N, W - 1, A] (:func:`window_actions`), each clip comes with the ``length - 1``
    actions between its latents, as a (latents, actions) pair.
    """

    latents: torch.Tensor
    length: int
    batch_size: int
    generator: torch.Generator
    rank: int = 0
    world_size: int = 1
    actions: torch.Tensor | None = None

    def __attrs_post_init__(self) -> None:
        if self.actions is not None and self.actions.shape[:2] != (
            len(self.latents),
            self.latents.shape[1] - 1,
        ):
            raise ValueError(
                f"actions {list(self.actions.shape)} do not lie between latents "
                f"{list(self.latents.shape)}: expected [N, W - 1, A]"
            )

    def __len__(self) -> int:
        return math.ceil(len(self.latents) / self.batch_size)

    def _starts(self, n: int, generator: torch.Generator) -> torch.Tensor:
        windows = self.latents.shape[1]
        return torch.randint(0, windows - self.length + 1, (n,), generator=generator)

    def _gather(self, traj: torch.Tensor, starts: torch.Tensor) -> LatentBatch:
        device = self.latents.device
        traj, starts = traj.to(device), starts.to(device)
        latents = gather_windows(self.latents, traj, starts, self.length)
        if self.actions is None:
            return latents
        actions = self.actions.to(device)
        return latents, gather_windows(actions, traj, starts, self.length - 1)

    def __iter__(self) -> Iterator[LatentBatch]:
        order = torch.randperm(len(self.latents), generator=self.generator)
        for batch in order.split(self.batch_size):
            starts = self._starts(len(batch), self.generator)
            traj, starts = rank_share(batch, starts, self.rank, self.world_size)
            if len(traj):
                yield self._gather(traj, starts)

    def fixed_batch(self, size: int, seed: int) -> LatentBatch:
        """The same clips every call: the refit's validation batch."""
        g = torch.Generator().manual_seed(seed)
        traj = torch.randperm(len(self.latents), generator=g)[:size]
        return self._gather(traj, self._starts(len(traj), g))
