"""Building blocks the built-in networks share: activations, MLP stacks, the residual step,
image-shape checks and the channels_last base of the conv nets.

Every built-in network module (``networks``, ``keypoints``, ``koopman``) imports from here and
registers its own components, so none of them imports another.
"""

from __future__ import annotations

import attrs
import torch
from torch import nn

from jepa_framework.core.components import Shapes
from jepa_framework.core.errors import JepaError
from jepa_framework.core.validators import MAX_WIDTH, between, count

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "gelu": nn.GELU,
    "relu": nn.ReLU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
}

ACTIVATION = attrs.field(default="gelu", validator=attrs.validators.in_(sorted(ACTIVATIONS)))
WIDTH = count(1, MAX_WIDTH)  # hidden units, channels
DEPTH = count(0, 64)  # layers


@attrs.frozen
class ResidualMLPParams:
    """``z + MLP(z)``; the last layer starts ``init_scale`` times its usual size (near identity)."""

    # hidden units per layer of the correction MLP
    hidden_dim: int = attrs.field(default=256, validator=WIDTH)
    # hidden layers of the correction MLP
    depth: int = attrs.field(default=2, validator=count(1, 64))
    # activation after each hidden layer: gelu | relu | silu | tanh
    activation: str = ACTIVATION
    # LayerNorm after each hidden layer
    layernorm: bool = True
    # the last layer's initial size relative to its usual one (near 0: the step starts near
    # the identity)
    init_scale: float = attrs.field(default=0.01, validator=between(0, 100))


def mlp(
    in_dim: int, hidden_dim: int, out_dim: int, depth: int, activation: str, layernorm: bool
) -> nn.Sequential:
    """``depth`` x (Linear -> [LayerNorm] -> activation), then a Linear to ``out_dim``."""
    layers: list[nn.Module] = []
    width = in_dim
    for _ in range(depth):
        layers.append(nn.Linear(width, hidden_dim))
        if layernorm:
            layers.append(nn.LayerNorm(hidden_dim))
        layers.append(ACTIVATIONS[activation]())
        width = hidden_dim
    layers.append(nn.Linear(width, out_dim))
    return nn.Sequential(*layers)


def image_shape(shapes: Shapes, component: str, name: str = "cnn") -> tuple[int, int, int]:
    """(C, H, W) of image observations, or a JepaError that points at the MLP alternative."""
    if len(shapes.obs_shape) != 3:
        raise JepaError(
            f"{component} '{name}' needs image observations of shape (C, H, W), but this dataset "
            f"gives obs_shape {tuple(shapes.obs_shape)}. Use {component} 'mlp' for vector data."
        )
    c, h, w = shapes.obs_shape
    if min(h, w) < 16:
        raise JepaError(
            f"{component} '{name}' needs frames of at least 16x16 pixels, got {h}x{w}; "
            f"use a larger image size or {component} 'mlp'."
        )
    return c, h, w


class ChannelsLast(nn.Module):
    """Base for conv nets that can hold weights and activations in channels_last (NHWC) format."""

    channels_last: bool = False

    def _format(self, x: torch.Tensor) -> torch.Tensor:
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def _finish_init(self, channels_last: bool) -> None:
        self.channels_last = channels_last
        if channels_last:
            self.to(memory_format=torch.channels_last)


class ResidualMLP(nn.Module):
    """``z + MLP(z)``: one latent step as a small correction, so long rollouts start stable."""

    def __init__(self, params: ResidualMLPParams, dim: int) -> None:
        super().__init__()
        self.net = mlp(
            dim, params.hidden_dim, dim, params.depth, params.activation, params.layernorm
        )
        last = self.net[-1]
        with torch.no_grad():
            last.weight.mul_(params.init_scale)
            last.bias.zero_()

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z + self.net(z)
