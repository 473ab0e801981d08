"""The ``keypoints`` encoder: spatial-softmax keypoints per frame, an MLP over the window.

Why: a strided CNN that stacks the window's frames along channels and average-pools them keeps
where the big, bright first bob is but loses the small second bob and every velocity (on
``pendulum_image`` its linear state probe reads θ1 at R² 0.83-0.86, θ2 at 0.34-0.54 and ω at
<= 0.17). A deep spatial autoencoder's encoder (Levine et al. 2016, Finn et al. 2016) instead
keeps resolution, and turns each feature map into the expected (x, y) of where it fires, a
spatial softmax. For a rigid body drawn on a frame that is the right coordinate system: bob 2
sits at bob 1 plus l2 (sin θ2, -cos θ2), so the angles' sin and cos are linear in keypoint
coordinates, and a velocity is a difference of the same keypoint in consecutive frames. The
frames of the window therefore go through the same small CNN one at a time (shared weights,
frame order kept), and the head sees the H frames' keypoints side by side.
"""

from __future__ import annotations

import math

import attrs
import torch
from torch import nn

from jepa_framework import hookimpl
from jepa_framework.core.components import Shapes
from jepa_framework.core.validators import between, count

from .blocks import ACTIVATIONS, WIDTH, ChannelsLast, image_shape, mlp
from .coords import AddCoords, coordinate_grid


@attrs.frozen
class KeypointEncoderParams:
    """Per-frame CNN (``stride`` on the first conv only), ``keypoints`` spatial softmaxes, head.

    ``stride`` 1 keeps full resolution; 2 (the default) halves it once, 4x cheaper, and the
    softmax's expectation still places a keypoint between pixels. One conv layer (then a 1x1 to
    the keypoint maps) is enough to find coloured bobs and keeps the encoder cheap.
    ``temperature`` is the softmax's starting temperature, learned per keypoint if
    ``learn_temperature`` (a sharp softmax follows one blob, a soft one averages several).
    ``max_logit`` bounds the maps, so at a fixed temperature the softmax's weights of any two
    pixels stay within a factor exp(2 max_logit / temperature): unbounded, training sharpened
    it into an argmax (on ``two_rooms_image`` a keypoint stood still while the agent moved 0.05
    and then jumped a whole 0.13 cell), a staircase in which positions near the goal look
    alike.
    ``presence`` adds each map's softmax-weighted activation, so the head can tell a keypoint
    that sees nothing. ``coord_channels`` appends x and y in [-1, 1] to each frame (CoordConv).
    ``channels_last`` holds convs in NHWC, which oneDNN runs faster on CPU.
    ``depth`` 0 (the default) makes the head linear: on ``pendulum_image`` a 2-layer MLP head
    squeezed what the keypoints held (a ridge probe read sin/cos θ2 at R² 0.95-0.97 from the
    trained keypoints but 0.47-0.50 from the embedding after the MLP), while a linear head keeps
    angles linear in the embedding and leaves the nonlinearity to the predictor.
    """

    # channels of each per-frame conv layer
    channels: int = attrs.field(default=16, validator=WIDTH)
    # conv layers before the keypoint maps
    num_layers: int = attrs.field(default=1, validator=count(1, 16))
    stride: int = attrs.field(default=2, validator=attrs.validators.in_([1, 2]))
    keypoints: int = attrs.field(default=8, validator=count(1, 1024))
    temperature: float = attrs.field(default=1.0, validator=between(1e-3, 1e3))
    learn_temperature: bool = True
    # bound on each map's value before the softmax (max_logit * tanh(map / max_logit); 0: none)
    max_logit: float = attrs.field(default=0.0, validator=between(0.0, 1e3))
    presence: bool = False
    coord_channels: bool = False
    # hidden units of the head on the keypoints (when depth > 0)
    hidden_dim: int = attrs.field(default=256, validator=WIDTH)
    depth: int = attrs.field(default=0, validator=count(0, 64))
    activation: str = attrs.field(default="relu", validator=attrs.validators.in_(ACTIVATIONS))
    channels_last: bool = False


class SpatialSoftmax(nn.Module):
    """[N, K, H, W] feature maps -> [N, K, 2] expected (x, y) in [-1, 1], and [N, K] presence.

    Each map becomes a probability over pixels (softmax of map / temperature); a keypoint is the
    expected pixel coordinate under it, differentiable and sub-pixel. Presence is the expected
    activation under the same distribution.
    """

    def __init__(
        self,
        keypoints: int,
        height: int,
        width: int,
        temperature: float,
        learn: bool,
        max_logit: float = 0.0,
    ):
        super().__init__()
        self.max_logit = max_logit
        self.register_buffer("grid", coordinate_grid(height, width).flatten(1), persistent=False)
        log_t = torch.full((keypoints,), math.log(temperature))
        self.log_temperature = nn.Parameter(log_t, requires_grad=learn)

    def forward(self, maps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        flat = maps.flatten(2)  # [N, K, HW]
        if self.max_logit:
            flat = self.max_logit * torch.tanh(flat / self.max_logit)
        weights = torch.softmax(flat * (-self.log_temperature).exp()[:, None], dim=-1)
        points = torch.einsum("nkp,cp->nkc", weights, self.grid)  # [N, K, 2]
        presence = (weights * flat).sum(-1)  # [N, K]
        return points, presence


class KeypointEncoder(ChannelsLast):
    """[B, H, C, S, S] -> each frame through a shared CNN and spatial softmax -> MLP -> [B, D]."""

    def __init__(self, params: KeypointEncoderParams, shapes: Shapes) -> None:
        super().__init__()
        c, h, w = image_shape(shapes, "encoder", "keypoints")
        act = ACTIVATIONS[params.activation]
        self.add_coords = AddCoords(h, w) if params.coord_channels else None
        layers: list[nn.Module] = []
        in_ch = first_in = c + (2 if params.coord_channels else 0)
        for i in range(params.num_layers):
            stride = params.stride if i == 0 else 1
            layers += [nn.Conv2d(in_ch, params.channels, 3, stride=stride, padding=1), act()]
            in_ch = params.channels
        layers.append(nn.Conv2d(in_ch, params.keypoints, 1))
        self.convs = nn.Sequential(*layers)
        with torch.no_grad():
            fh, fw = self.convs(torch.zeros(1, first_in, h, w)).shape[-2:]
        self.softmax = SpatialSoftmax(
            params.keypoints,
            fh,
            fw,
            params.temperature,
            params.learn_temperature,
            params.max_logit,
        )
        self.presence = params.presence
        per_frame = params.keypoints * (3 if params.presence else 2)
        self.head = mlp(
            shapes.history * per_frame,
            params.hidden_dim,
            shapes.embedding_dim,
            params.depth,
            params.activation,
            layernorm=False,
        )
        self._finish_init(params.channels_last)

    def keypoints(self, window: torch.Tensor) -> torch.Tensor:
        """[B, H, C, S, S] -> [B, H, K, 2] expected (x, y) of every keypoint in every frame."""
        return self._features(window)[0]

    def _features(self, window: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, frames = window.shape[:2]
        points, presence = self._frame_features(window.flatten(0, 1))
        return points.view(b, frames, *points.shape[1:]), presence.view(b, frames, -1)

    def _frame_features(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """[N, C, S, S] -> keypoints [N, K, 2] and presence [N, K]."""
        x = frames - 0.5  # centred around 0
        if self.add_coords is not None:
            x = self.add_coords(x)
        return self.softmax(self.convs(self._format(x)))

    def encode_frames(self, frames: torch.Tensor) -> torch.Tensor:
        """[N, C, S, S] -> [N, K * 2 (+ K presence)]: what the head reads of each frame."""
        points, presence = self._frame_features(frames)
        parts = [points.flatten(1), presence] if self.presence else [points.flatten(1)]
        return torch.cat(parts, dim=1)

    def combine_frames(self, features: torch.Tensor) -> torch.Tensor:
        """[B, H, F] -> [B, D]: every frame's keypoints, then (with presence) every frame's
        presence, through the head."""
        per_frame = self.softmax.log_temperature.numel() * 2
        parts = [features[..., :per_frame].flatten(1)]
        if self.presence:
            parts.append(features[..., per_frame:].flatten(1))
        return self.head(torch.cat(parts, dim=1))

    def forward(self, window: torch.Tensor) -> torch.Tensor:
        b, frames = window.shape[:2]
        return self.combine_frames(self.encode_frames(window.flatten(0, 1)).view(b, frames, -1))


def build_keypoint_encoder(params: KeypointEncoderParams, shapes: Shapes) -> nn.Module:
    """Spatial-softmax keypoints per frame (positions, and velocities as differences); images."""
    return KeypointEncoder(params, shapes)


@hookimpl
def register_encoders(register) -> None:
    register("keypoints", build_keypoint_encoder, params=KeypointEncoderParams)
