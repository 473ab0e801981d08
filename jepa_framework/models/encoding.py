"""Encoding windows of stored or float frames in chunks (bounded memory for images).

Training's refit phase (:mod:`jepa_framework.pipeline.latents`) and the evaluation (probes,
forecasts
re-encoded for the probe) both encode every window of a trajectory with a frozen encoder, so this
sits below both: the evaluation is the layer above training and must not be imported by it.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from jepa_framework.datasets.base import DynamicsDataset
from jepa_framework.datasets.windows import every_window
from jepa_framework.models.framewise import frame_wise, sliding_latents


@torch.no_grad()
def encode_windows(
    encoder: nn.Module,
    windows: torch.Tensor,
    device: torch.device,
    convert: Callable[[torch.Tensor], torch.Tensor] = lambda x: x,
    chunk: int = 512,
) -> torch.Tensor:
    """Windows [M, H, *obs] -> latents [M, D] (float32, CPU), ``convert``-ing each chunk first."""
    encoder.eval()
    out = [encoder(convert(part.to(device))).float().cpu() for part in windows.split(chunk)]
    return torch.cat(out) if out else torch.empty(0)


def encode_stored(
    encoder: nn.Module,
    dataset: DynamicsDataset,
    stored: torch.Tensor,
    device: torch.device,
    chunk: int = 512,
) -> torch.Tensor:
    """Stored windows [M, H, *stored] -> latents [M, D] (float32, CPU), converting per chunk."""
    return encode_windows(encoder, stored, device, dataset.to_float, chunk)


@torch.no_grad()
def encode_sequences(
    encoder: nn.Module,
    sequences: torch.Tensor,
    history: int,
    device: torch.device,
    convert: Callable[[torch.Tensor], torch.Tensor] = lambda x: x,
    chunk: int = 512,
) -> torch.Tensor:
    """Sequences [B, T, *obs] -> latents [B, T - history + 1, D] of every window of ``history``.

    A frame-wise encoder (:mod:`jepa_framework.models.framewise`) sees each frame once; any other
    every window whole. ``convert`` turns stored frames into the encoder's floats, per chunk.
    """
    b, t = sequences.shape[:2]
    if not frame_wise(encoder):
        windows = every_window(sequences, history).flatten(0, 1)  # [B * W, H, *obs]
        return encode_windows(encoder, windows, device, convert, chunk).view(b, t - history + 1, -1)
    encoder.eval()
    frames = sequences.flatten(0, 1).split(chunk * history)
    features = torch.cat([encoder.encode_frames(convert(part.to(device))) for part in frames])
    return sliding_latents(encoder, features.view(b, t, -1), history).float().cpu()
