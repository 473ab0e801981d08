"""Encoders that code each frame on its own: every frame of a trajectory encoded once.

A window encoder sees ``history`` frames, so encoding every window of a trajectory (the refit
phase, the frozen-encoder controls) or the K overlapping target windows of a training clip
encodes each frame up to ``history`` (or K) times. An encoder whose latent is a function of
per-frame features says so by implementing :class:`FrameWiseEncoder`; its frames are then
encoded once and only the cheap combining step runs per window.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch
from torch import nn


@runtime_checkable
class FrameWiseEncoder(Protocol):
    """An encoder whose window latent is a function of per-frame features, frame order kept.

    Its ``forward(window)`` must equal ``combine_frames(encode_frames(frames).view(B, H, -1))``
    for the window's frames ``[B * H, *obs]``; built-ins write ``forward`` that way. Encoders
    that mix frames before any per-frame step (a CNN over stacked frames) do not qualify.
    """

    def encode_frames(self, frames: torch.Tensor) -> torch.Tensor:
        """Frames [N, *obs] -> per-frame features [N, F]."""
        ...

    def combine_frames(self, features: torch.Tensor) -> torch.Tensor:
        """Features of a window's frames [B, H, F] -> latents [B, D]."""
        ...


def frame_wise(encoder: nn.Module) -> bool:
    """Whether ``encoder``'s frames may be encoded once each.

    Not when it was compiled in place (``train.compile``): only its ``forward`` is compiled.
    """
    compiled = getattr(encoder, "_compiled_call_impl", None) is not None
    return isinstance(encoder, FrameWiseEncoder) and not compiled


def sliding_latents(
    encoder: FrameWiseEncoder, features: torch.Tensor, history: int
) -> torch.Tensor:
    """Per-frame features [N, T, F] -> latents [N, T - history + 1, D] of every window."""
    n, t = features.shape[:2]
    windows = features.unfold(1, history, 1).movedim(-1, -2)  # [N, W, H, F]
    return encoder.combine_frames(windows.flatten(0, 1)).view(n, t - history + 1, -1)
