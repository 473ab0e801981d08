"""Encoding windows in chunks (bounded memory for images)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from jepa_framework.data import DynamicsDataset


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


def trailing_windows(context: torch.Tensor, forecast: torch.Tensor, history: int) -> torch.Tensor:
    """The window of ``history`` frames ending at each forecast frame: [B, K, H, *obs].

    Frames come from the context [B, C, *obs] (C >= history - 1) followed by the forecast
    [B, K, *obs], so a forecaster's frames can be encoded as the encoder sees observations.
    """
    c, k = context.shape[1], forecast.shape[1]
    frames = torch.cat([context[:, c - history + 1 :], forecast], dim=1)
    return torch.stack([frames[:, j : j + k] for j in range(history)], dim=2)
