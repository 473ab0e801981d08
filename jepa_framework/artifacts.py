"""What a run leaves behind besides weights: reconstruction.png and forecast.mp4."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from jepa_framework.data import DynamicsDataset
from jepa_framework.model import JEPA
from jepa_framework.render import side_by_side, write_video


def _windows(clips: torch.Tensor, history: int) -> torch.Tensor:
    """Every window of ``history`` frames in clips [N, T, *obs] -> [N, T - H + 1, H, *obs]."""
    n_windows = clips.shape[1] - history + 1
    return torch.stack([clips[:, t : t + history] for t in range(n_windows)], dim=1)


@torch.no_grad()
def write_reconstruction(
    dataset: DynamicsDataset,
    model: JEPA,
    decoder: nn.Module,
    val_idx: torch.Tensor,
    history: int,
    device: torch.device,
    path: Path,
) -> float:
    """Decode every window of a few held-out trajectories; returns their reconstruction MSE."""
    traj = val_idx[:4]
    clips = dataset.to_float(dataset.observations[traj].to(device))
    windows = _windows(clips, history)
    n, w = windows.shape[:2]
    decoded = decoder(model.encode(windows.flatten(0, 1)).float()).view(n, w, *dataset.obs_shape)
    truth = clips[:, history - 1 :]
    dataset.plot_reconstruction(truth.cpu(), decoded.cpu(), path)
    return float(nn.functional.mse_loss(decoded, truth))


@torch.no_grad()
def write_forecast(
    dataset: DynamicsDataset,
    model: JEPA,
    decoder: nn.Module,
    history: int,
    frames: int,
    seed: int,
    device: torch.device,
    path: Path,
    panel_size: int,
    fps: int,
) -> int:
    """Ground truth beside the decoded latent rollout from one context window; returns frames.

    A fresh trajectory is generated long enough for ``frames`` steps past its first window.
    """
    stored, _ = dataset.generate(1, history + frames, seed)
    clip = dataset.to_float(stored.to(device))
    z = model.encode(clip[:, :history])
    predicted = decoder(model.rollout(z, frames).squeeze(1).float())
    truth = clip[0, history:]
    video = side_by_side(
        dataset.frames_for_video(truth.cpu(), panel_size),
        dataset.frames_for_video(predicted.cpu(), panel_size),
    )
    write_video(video, path, fps)
    return video.shape[0]
