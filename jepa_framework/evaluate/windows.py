"""Drawing windows of stored frames and encoding them in chunks (bounded memory for images)."""

from __future__ import annotations

import torch
from torch import nn

from jepa_framework.data import DynamicsDataset


def pick_starts(
    traj: torch.Tensor, n_starts: int, count: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Up to ``count`` (trajectory, start) pairs out of every trajectory x every start in range.

    traj [M] trajectory indices, starts 0..n_starts-1; a random subset when there are more.
    """
    pairs_t = traj.repeat_interleave(n_starts)
    pairs_s = torch.arange(n_starts).repeat(len(traj))
    if len(pairs_t) > count:
        keep = torch.randperm(len(pairs_t), generator=torch.Generator().manual_seed(seed))[:count]
        pairs_t, pairs_s = pairs_t[keep], pairs_s[keep]
    return pairs_t, pairs_s


def gather(
    source: torch.Tensor, traj: torch.Tensor, starts: torch.Tensor, length: int
) -> torch.Tensor:
    """source [N, T, ...] -> [M, length, ...]: frames starts[m].. of trajectory traj[m]."""
    frames = starts[:, None] + torch.arange(length)
    return source[traj[:, None], frames]


@torch.no_grad()
def encode_stored(
    encoder: nn.Module,
    dataset: DynamicsDataset,
    stored: torch.Tensor,
    device: torch.device,
    chunk: int = 512,
) -> torch.Tensor:
    """Stored windows [M, H, *stored] -> latents [M, D] (float32, CPU), converting per chunk."""
    encoder.eval()
    out = [encoder(dataset.to_float(part.to(device))).float().cpu() for part in stored.split(chunk)]
    return torch.cat(out) if out else torch.empty(0)
