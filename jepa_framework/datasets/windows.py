"""Windows of consecutive frames cut out of trajectories, by tensor indexing.

:func:`gather_windows` is the one place that turns (trajectory, start) pairs into windows; the
training clips, the decoder windows, the probes, the baselines and the artifacts all use it.
"""

from __future__ import annotations

import numpy as np
import torch


def gather_windows(
    source: torch.Tensor, traj: torch.Tensor, starts: torch.Tensor, length: int
) -> torch.Tensor:
    """source [N, T, ...] -> [M, length, ...]: frames ``starts[m]..`` of trajectory ``traj[m]``.

    On the CPU this is one ``np.take`` over the flattened (trajectory, frame) axis: on uint8
    frames it measured about 10x faster than torch advanced indexing
    (benchmarks/bench_data_scale.py), and on a memory-mapped dataset it reads only the pages of
    the frames it takes.
    """
    frames = starts[:, None] + torch.arange(length, device=starts.device)
    if source.device.type != "cpu" or source.requires_grad or traj.device.type != "cpu":
        return source[traj[:, None], frames]
    n, t = source.shape[:2]
    rows = (traj[:, None] * t + frames).reshape(-1).numpy()
    flat = source.numpy().reshape(n * t, *source.shape[2:])
    taken = torch.from_numpy(np.take(flat, rows, axis=0))
    return taken.view(*frames.shape, *source.shape[2:])


def every_window(source: torch.Tensor, length: int) -> torch.Tensor:
    """Every window of ``length`` frames of each trajectory: [N, T, ...] -> [N, W, length, ...]."""
    n, t = source.shape[:2]
    n_windows = t - length + 1
    traj = torch.arange(n).repeat_interleave(n_windows)
    starts = torch.arange(n_windows).repeat(n)
    return gather_windows(source, traj, starts, length).view(
        n, n_windows, length, *source.shape[2:]
    )


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
