"""Encoding stored windows in chunks (bounded memory for images)."""

from __future__ import annotations

import torch
from torch import nn

from jepa_framework.data import DynamicsDataset


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
