"""Pixel coordinates as tensors, for networks that need to know where things are in a frame."""

from __future__ import annotations

import torch
from torch import nn


def coordinate_grid(height: int, width: int) -> torch.Tensor:
    """[2, H, W]: x (columns, left to right) then y (rows, top to bottom), each in [-1, 1]."""
    ys = torch.linspace(-1.0, 1.0, height)
    xs = torch.linspace(-1.0, 1.0, width)
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([grid_x, grid_y])


class AddCoords(nn.Module):
    """CoordConv (Liu et al. 2018): appends x and y channels in [-1, 1] to [N, C, H, W].

    A convolution is translation-equivariant, so it cannot say where a feature is, only that it
    is; two coordinate channels let the following layers read position directly.
    """

    def __init__(self, height: int, width: int) -> None:
        super().__init__()
        self.register_buffer("grid", coordinate_grid(height, width), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, self.grid.expand(x.shape[0], -1, -1, -1)], dim=1)
