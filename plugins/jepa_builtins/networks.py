"""Built-in networks: MLP and CNN encoders and decoders, MLP and residual-MLP predictors.

Every factory follows the contract in ``jepa_framework.core.components``:
``factory(params, shapes) -> nn.Module`` with

- encoder:   [B, H, *obs_shape] -> [B, D]
- predictor: [B, D] -> [B, D]
- decoder:   [B, D] -> [B, *obs_shape]  (the last frame of the window)

Vector observations have ``obs_shape == (F,)``; images have ``obs_shape == (C, H, W)`` with
values in [0, 1]. Nothing here knows which dataset produced the data: only the shapes matter.
"""

from __future__ import annotations

import math

import attrs
import torch
from torch import nn
from torch.nn import functional as F

from jepa_framework import hookimpl
from jepa_framework.core.components import Shapes
from jepa_framework.core.errors import JepaError
from jepa_framework.core.validators import count

from .blocks import (
    ACTIVATION,
    ACTIVATIONS,
    DEPTH,
    WIDTH,
    ChannelsLast,
    ResidualMLP,
    ResidualMLPParams,
    image_shape,
    mlp,
)
from .coords import AddCoords

# --------------------------------------------------------------------------- params


@attrs.frozen
class MLPParams:
    """An MLP: ``depth`` hidden layers of ``hidden_dim`` units (LayerNorm after each, if set)."""

    # hidden units per layer
    hidden_dim: int = attrs.field(default=256, validator=WIDTH)
    # hidden layers (0: one linear map)
    depth: int = attrs.field(default=2, validator=DEPTH)
    # activation after each hidden layer: gelu | relu | silu | tanh
    activation: str = ACTIVATION
    # LayerNorm after each hidden layer
    layernorm: bool = True


@attrs.frozen
class FrameMLPParams(MLPParams):
    """The MLP applied to each frame, with or without a bias on its output channels."""

    # false: no bias on the last layer, so a linear frame encoder (depth 0) maps data centred on
    # zero to channels centred on zero, which is where an oscillating channel must be centred
    bias: bool = True


@attrs.frozen
class MLPDecoderParams:
    """An MLP decoder; ``clamp=None`` clamps to [0, 1] (in eval mode) for image shapes only."""

    # hidden units per layer
    hidden_dim: int = attrs.field(default=256, validator=WIDTH)
    # hidden layers (0: one linear map)
    depth: int = attrs.field(default=2, validator=DEPTH)
    # activation after each hidden layer: gelu | relu | silu | tanh
    activation: str = ACTIVATION
    # LayerNorm after each hidden layer
    layernorm: bool = True
    clamp: bool | None = None


@attrs.frozen
class CNNEncoderParams:
    """Stride-2 3x3 convs, channels (b, 2b, 2b, ...), pooled to at most pool_size x pool_size.

    ``coord_channels`` (CoordConv, Liu et al. 2018) appends x and y in [-1, 1] to the stacked
    frames: a convolution alone only says that a feature is there, not where, and pooling then
    blurs where; off by default so that existing recipes compute what they did.
    """

    # channels of the first conv layer; later layers double it
    base_channels: int = attrs.field(default=32, validator=count(1, 4096))
    # stride-2 3x3 conv layers
    num_layers: int = attrs.field(default=3, validator=count(1, 16))
    # the feature map is pooled to at most this many cells per side
    pool_size: int = attrs.field(default=4, validator=count(1, 64))
    # activation after each conv: gelu | relu | silu | tanh
    activation: str = attrs.field(default="relu", validator=attrs.validators.in_(ACTIVATIONS))
    # hold weights and activations in NHWC memory format (faster CNNs on many CPUs and GPUs)
    channels_last: bool = False
    # append x and y in [-1, 1] as input channels (CoordConv)
    coord_channels: bool = False


@attrs.frozen
class CNNDecoderParams:
    """Linear to a small feature map, then stride-2 transposed convs up to the frame size."""

    # channels of the last transposed conv; earlier layers double it
    base_channels: int = attrs.field(default=32, validator=count(1, 4096))
    # side of the feature map the linear layer starts from
    start_size: int = attrs.field(default=4, validator=count(2, 64))
    # activation after each transposed conv: gelu | relu | silu | tanh
    activation: str = attrs.field(default="relu", validator=attrs.validators.in_(ACTIVATIONS))
    # hold weights and activations in NHWC memory format
    channels_last: bool = False


# --------------------------------------------------------------------------- encoders


class MLPEncoder(nn.Module):
    """Flattens the window [B, H, *obs_shape] and maps it to [B, D]."""

    def __init__(self, params: MLPParams, shapes: Shapes) -> None:
        super().__init__()
        in_dim = shapes.history * math.prod(shapes.obs_shape)
        self.net = mlp(
            in_dim,
            params.hidden_dim,
            shapes.embedding_dim,
            params.depth,
            params.activation,
            params.layernorm,
        )

    def forward(self, window: torch.Tensor) -> torch.Tensor:
        return self.net(window.flatten(1))


class FrameMLPEncoder(nn.Module):
    """Encodes each frame of [B, H, *obs_shape] on its own to D / H channels: [B, H * D / H].

    The latent keeps the window's time axis (frame after frame), which a predictor that reads
    dynamics off the window, such as ``oscillator``, needs.
    """

    def __init__(self, params: FrameMLPParams, shapes: Shapes) -> None:
        super().__init__()
        if shapes.embedding_dim % shapes.history:
            raise JepaError(
                f"encoder 'frame_mlp' gives each of the data.history frames an equal share of the "
                f"latent, so data.history must divide model.embedding_dim; got history "
                f"{shapes.history} and embedding_dim {shapes.embedding_dim}. Change one of them."
            )
        self.net = mlp(
            math.prod(shapes.obs_shape),
            params.hidden_dim,
            shapes.embedding_dim // shapes.history,
            params.depth,
            params.activation,
            params.layernorm,
        )
        if not params.bias:
            self.net[-1].register_parameter("bias", None)

    def encode_frames(self, frames: torch.Tensor) -> torch.Tensor:
        """[N, *obs_shape] -> [N, D / H]."""
        return self.net(frames.flatten(1))

    def combine_frames(self, features: torch.Tensor) -> torch.Tensor:
        """[B, H, D / H] -> [B, D]: the frames' codes side by side."""
        return features.flatten(1)

    def forward(self, window: torch.Tensor) -> torch.Tensor:
        b, frames = window.shape[:2]
        return self.combine_frames(self.encode_frames(window.flatten(0, 1)).view(b, frames, -1))


class CNNEncoder(ChannelsLast):
    """Stacks the H frames along channels ([B, H*C, S, S]), strided convs, linear head to [B, D]."""

    def __init__(self, params: CNNEncoderParams, shapes: Shapes) -> None:
        super().__init__()
        c, h, w = image_shape(shapes, "encoder")
        widths = [params.base_channels * min(2**i, 2) for i in range(params.num_layers)]
        layers: list[nn.Module] = []
        in_ch = first_in = shapes.history * c + (2 if params.coord_channels else 0)
        self.add_coords = AddCoords(h, w) if params.coord_channels else None
        for out_ch in widths:
            conv = nn.Conv2d(in_ch, out_ch, 3, stride=2, padding=1)
            layers += [conv, ACTIVATIONS[params.activation]()]
            in_ch = out_ch
        self.convs = nn.Sequential(*layers)
        with torch.no_grad():
            fh, fw = self.convs(torch.zeros(1, first_in, h, w)).shape[-2:]
        self.pool = nn.AdaptiveAvgPool2d((min(params.pool_size, fh), min(params.pool_size, fw)))
        flat = in_ch * min(params.pool_size, fh) * min(params.pool_size, fw)
        self.head = nn.Linear(flat, shapes.embedding_dim)
        self._finish_init(params.channels_last)

    def forward(self, window: torch.Tensor) -> torch.Tensor:
        x = window.flatten(1, 2) - 0.5  # [B, H*C, S, S], centred around 0
        if self.add_coords is not None:
            x = self.add_coords(x)
        x = self._format(x)
        return self.head(self.pool(self.convs(x)).flatten(1))


def build_mlp_encoder(params: MLPParams, shapes: Shapes) -> nn.Module:
    """MLP on the flattened window; works for any observation shape."""
    return MLPEncoder(params, shapes)


def build_frame_mlp_encoder(params: FrameMLPParams, shapes: Shapes) -> nn.Module:
    """The same MLP on every frame, the frames' codes side by side; any observation shape."""
    return FrameMLPEncoder(params, shapes)


def build_cnn_encoder(params: CNNEncoderParams, shapes: Shapes) -> nn.Module:
    """Small strided CNN on the frames stacked along channels; image observations only."""
    return CNNEncoder(params, shapes)


# --------------------------------------------------------------------------- predictors


def build_mlp_predictor(params: MLPParams, shapes: Shapes) -> nn.Module:
    """MLP from z_t to z_t+1."""
    d = shapes.embedding_dim
    return mlp(d, params.hidden_dim, d, params.depth, params.activation, params.layernorm)


def build_residual_mlp_predictor(params: ResidualMLPParams, shapes: Shapes) -> nn.Module:
    """z_t+1 = z_t + MLP(z_t), starting near the identity."""
    return ResidualMLP(params, shapes.embedding_dim)


# --------------------------------------------------------------------------- decoders


class MLPDecoder(nn.Module):
    """[B, D] -> MLP -> [B, *obs_shape]; see :func:`unit_range` for the output range."""

    def __init__(self, params: MLPDecoderParams, shapes: Shapes) -> None:
        super().__init__()
        self.obs_shape = tuple(shapes.obs_shape)
        self.clamp = len(self.obs_shape) == 3 if params.clamp is None else params.clamp
        self.net = mlp(
            shapes.embedding_dim,
            params.hidden_dim,
            math.prod(self.obs_shape),
            params.depth,
            params.activation,
            params.layernorm,
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.net(z).view(-1, *self.obs_shape)
        return unit_range(x, self.training) if self.clamp else x


def unit_range(frames: torch.Tensor, training: bool) -> torch.Tensor:
    """Linear while training, clamped to [0, 1] in eval mode.

    A sigmoid output looks natural for frames in [0, 1], but on sparse frames (a thin pendulum on
    black) it drives every pixel to 0 in the first steps and saturates there: the decoder never
    leaves the blank frame. A linear output keeps the gradient alive; clamping only at inference
    keeps decoded frames valid.
    """
    return frames if training else frames.clamp(0.0, 1.0)


def _upsampling_plan(size: int, start: int) -> tuple[int, int]:
    """(number of x2 stages, start size) so that start * 2**stages is ``size`` or just above it."""
    stages = max(1, int(math.floor(math.log2(size / start))))
    return stages, math.ceil(size / 2**stages)


class CNNDecoder(ChannelsLast):
    """Linear to [2b, h0, w0], stride-2 transposed convs, 3x3 conv to C, resize; see unit_range."""

    def __init__(self, params: CNNDecoderParams, shapes: Shapes) -> None:
        super().__init__()
        c, h, w = image_shape(shapes, "decoder")
        self.out_size = (h, w)
        stages, _ = _upsampling_plan(min(h, w), params.start_size)
        self.start = (math.ceil(h / 2**stages), math.ceil(w / 2**stages))
        b = params.base_channels
        self.start_channels = 2 * b
        # latents from a JEPA can be tiny or offset at first; standardising them lets the
        # decoder tell frames apart from its first step
        self.norm = nn.BatchNorm1d(shapes.embedding_dim)
        self.fc = nn.Linear(shapes.embedding_dim, 2 * b * self.start[0] * self.start[1])
        layers: list[nn.Module] = [ACTIVATIONS[params.activation]()]
        in_ch = 2 * b
        for i in range(stages):
            out_ch = 2 * b if i < stages - 1 else b
            layers += [
                nn.ConvTranspose2d(in_ch, out_ch, 4, stride=2, padding=1),
                ACTIVATIONS[params.activation](),
            ]
            in_ch = out_ch
        layers.append(nn.Conv2d(in_ch, c, 3, padding=1))
        self.net = nn.Sequential(*layers)
        self._finish_init(params.channels_last)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.fc(self.norm(z)).view(-1, self.start_channels, *self.start)
        x = self.net(self._format(x))
        if tuple(x.shape[-2:]) != self.out_size:
            x = F.interpolate(x, size=self.out_size, mode="bilinear", align_corners=False)
        return unit_range(x, self.training).contiguous()


def build_mlp_decoder(params: MLPDecoderParams, shapes: Shapes) -> nn.Module:
    """MLP from z to the flattened last frame; frames clamped to [0, 1] in eval mode."""
    return MLPDecoder(params, shapes)


def build_cnn_decoder(params: CNNDecoderParams, shapes: Shapes) -> nn.Module:
    """Transposed-conv decoder from z to an image in [0, 1]; image observations only."""
    return CNNDecoder(params, shapes)


# --------------------------------------------------------------------------- registration


@hookimpl
def register_encoders(register) -> None:
    register("mlp", build_mlp_encoder, params=MLPParams)
    register("frame_mlp", build_frame_mlp_encoder, params=FrameMLPParams)
    register("cnn", build_cnn_encoder, params=CNNEncoderParams)


@hookimpl
def register_predictors(register) -> None:
    register("mlp", build_mlp_predictor, params=MLPParams)
    register("residual_mlp", build_residual_mlp_predictor, params=ResidualMLPParams)


@hookimpl
def register_decoders(register) -> None:
    register("mlp", build_mlp_decoder, params=MLPDecoderParams)
    register("cnn", build_cnn_decoder, params=CNNDecoderParams)
