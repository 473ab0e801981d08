"""The ``pendulum_image`` dataset: rendered double pendulum frames, kept as indexed colour."""

from __future__ import annotations

from pathlib import Path

import attrs
import numpy as np
import torch

from jepa_builtins.datasets.double_pendulum import positions
from jepa_builtins.datasets.pendulum import (
    PENDULUM_STATE_NAMES,
    PendulumParams,
    PendulumTiming,
    pendulum_states,
)
from jepa_builtins.datasets.rendering import PALETTE_GRAY, PALETTE_RGB, render
from jepa_framework.core.validators import count
from jepa_framework.datasets.base import ImageDataset, Trajectories


@attrs.frozen
class PendulumImageParams(PendulumParams):
    """Pendulum physics plus how frames look."""

    image_size: int = attrs.field(default=32, validator=count(16, 512))  # frames are S x S pixels
    grayscale: bool = False  # one channel instead of RGB


class PendulumImageDataset(PendulumTiming, ImageDataset):
    """Double pendulum rendered as S x S frames (RGB or grayscale); chaotic at high energy.

    Frames are stored as part labels, uint8 [N, T, S, S], a third of the memory of RGB; colour
    is applied per batch by :meth:`to_float`.
    """

    state_names = PENDULUM_STATE_NAMES
    params: PendulumImageParams

    def __init__(self, params: PendulumImageParams, cache_dir: Path | None = None) -> None:
        super().__init__(params, cache_dir)
        self.palette = torch.from_numpy(PALETTE_GRAY if params.grayscale else PALETTE_RGB)

    def simulate(self, n: int, steps: int, rng: np.random.Generator) -> Trajectories:
        """Observations uint8 [n, steps, S, S] (part labels); states float32 [n, steps, 4]."""
        states = pendulum_states(self.params, n, steps, rng)
        frames = render(positions(states), self.params.image_size)
        return Trajectories(frames, states.astype(np.float32))

    @property
    def obs_shape(self) -> tuple[int, ...]:
        size = self.params.image_size
        return (self.palette.shape[1], size, size)

    def to_float(self, stored: torch.Tensor) -> torch.Tensor:
        """Labels uint8 [..., S, S] -> colours float32 [..., C, S, S] in [0, 1]."""
        if self.palette.device != stored.device:  # moved once, not on every batch
            self.palette = self.palette.to(stored.device)
        colours = self.palette[stored.int()]  # [..., S, S, C]; int32 indices: half of int64
        return colours.movedim(-1, -3).contiguous()
