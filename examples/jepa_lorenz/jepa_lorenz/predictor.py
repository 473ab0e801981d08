"""A GRU-cell predictor: the embedding is the cell's hidden state, so one step is a gated update.

``z_{t+1} = GRUCell(features(z_t), z_t)`` keeps a Markov predictor ([B, D] -> [B, D], as
the contract in ``jepa_framework.core.components`` asks) while borrowing the GRU's gating: the
update gate interpolates between keeping ``z_t`` and writing a new value, so a bias towards
keeping starts training near the identity map, as a residual MLP does.
"""

from __future__ import annotations

import attrs
import torch
from attrs.validators import gt
from torch import nn

from jepa_framework.core.components import Shapes


@attrs.frozen
class GRUParams:
    """``hidden_dim`` features of z feed the cell; ``keep_bias`` favours keeping z at the start."""

    hidden_dim: int = attrs.field(default=128, validator=gt(0))
    keep_bias: float = 2.0


class GRUPredictor(nn.Module):
    def __init__(self, dim: int, params: GRUParams) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Linear(dim, params.hidden_dim), nn.GELU())
        self.cell = nn.GRUCell(params.hidden_dim, dim)
        with torch.no_grad():  # biases are (reset, update, new) chunks; update = keep h
            self.cell.bias_hh[dim : 2 * dim].add_(params.keep_bias)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.cell(self.features(z), z)


def build_gru_predictor(params: GRUParams, shapes: Shapes) -> nn.Module:
    """A GRU cell whose hidden state is the embedding: z_t -> z_t+1 as a gated update."""
    return GRUPredictor(shapes.embedding_dim, params)
