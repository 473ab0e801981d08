"""The ``oscillator`` predictor: every latent channel a sinusoid, its frequency fitted in context.

A learned map from the state to a turning speed (``koopman``) is only as precise as an MLP: an
error of 1% in a frequency is a quarter turn of phase after 25 periods, so quasi-periodic
forecasts drift off after a few dozen frames however long the training. Here the frequency is
not learned but measured, as dynamic mode decomposition measures its operator from the data in
hand (Takeishi, Kawahara & Yairi 2017, "Learning Koopman invariant subspaces for dynamic mode
decomposition"). The latent is the window's frames, each encoded on its own (encoder
``frame_mlp``): [B, H * d] read as H frames of d channels. Each channel obeys the second-order
recurrence of a sinusoid, ``u[t+1] = 2 c u[t] - u[t-1]`` with ``c = cos(omega)``, and its ``c``
is the least-squares fit over the window; the step appends the next frame and drops the oldest.
Channels must oscillate about zero (an offset is not a sinusoid): on data centred on zero, a
``frame_mlp`` encoder with ``bias: false`` gives such channels. A learned centre per channel was
tried and dropped: in some seeds it drifted off zero (by 2-4% of a channel's spread), and the
spiral's fourth-order fit turned that offset into a forecast that failed after 30 frames.

A sinusoid's window gives back its own ``c`` exactly, so a rollout keeps its frequency and amplitude
for any number of steps; ``c`` is clamped to [-1, 1], so no channel grows faster than a straight
line. The encoder's job is to make each channel one sinusoid: for a Lissajous figure, a linear map
per frame whose channels each follow one axis (a nonlinear one adds harmonics the recurrence cannot
continue). The predictor has no parameters. ``growing: true`` fits ``(E^2 - 2cE + 1)^2 u = 0``
instead, which also continues sinusoids whose amplitude changes linearly (a spiral); its fourth-
order fit is far more sensitive to rounding (so it runs in float64, whatever the latent's dtype),
and constant-amplitude data should use the plain one.
The second-order fit is well conditioned where a general linear recurrence fitted the same way
(Prony's method) is not at the slow frequencies of these curves. On raw coordinates, with no
learning at all, it already forecasts the curves (``benchmarks/bench_oscillator_raw.py``).
"""

from __future__ import annotations

import attrs
import torch
from torch import nn

from jepa_framework import hookimpl
from jepa_framework.core.components import Shapes
from jepa_framework.core.errors import JepaError

#: guards the fit of a channel that is zero across the window
TINY = 1e-12


@attrs.frozen
class OscillatorParams:
    """Frequencies come from the window; ``growing`` also lets amplitudes change linearly."""

    # fit (E^2 - 2cE + 1)^2 u = 0 instead: sinusoids whose amplitude grows or shrinks linearly
    # (a spiral's coordinates) and straight lines; needs data.history of 6 or more
    growing: bool = False


#: Gauss-Newton steps refining a growing channel's c from the plain fit's (3 left the slowest
#: spirals, 0.1 rad/frame, a few tenths of a percent off after 100 frames even in float64)
REFINE_STEPS = 6


def plain_fit(u: torch.Tensor) -> torch.Tensor:
    """Least-squares c of u[t+1] + u[t-1] = 2 c u[t] per channel, u [B, H, d] -> [B, d]."""
    middle, ends = u[:, 1:-1], u[:, 2:] + u[:, :-2]
    return (middle * ends).sum(1) / (2 * middle.pow(2).sum(1) + TINY)


def growing_fit(u: torch.Tensor) -> torch.Tensor:
    """Least-squares c of (E^2 - 2cE + 1)^2 u = 0 per channel, u [B, H, d] -> [B, d].

    The residual S - 4cP + 4c^2 u is quadratic in c, so a few Gauss-Newton steps from the plain
    fit (already close: the two agree on a sinusoid of constant amplitude) find the minimum.
    """
    centre = u[:, 2:-2]
    outer = u[:, 4:] + 2 * centre + u[:, :-4]  # S
    inner = u[:, 3:-1] + u[:, 1:-3]  # P
    cos = plain_fit(u).clamp(-1.0, 1.0)
    for _ in range(REFINE_STEPS):
        c = cos[:, None]
        residual = outer - 4 * c * inner + 4 * c.pow(2) * centre
        slope = 8 * c * centre - 4 * inner
        cos = cos - (residual * slope).sum(1) / (slope.pow(2).sum(1) + TINY)
    return cos


class OscillatorPredictor(nn.Module):
    """[B, H * d] -> [B, H * d]: frames 2..H, then the next frame of every channel's sinusoid."""

    def __init__(self, params: OscillatorParams, shapes: Shapes) -> None:
        super().__init__()
        frames, dim = shapes.history, shapes.embedding_dim
        # the growing fit's single equation from 5 frames is at the mercy of rounding
        least = 6 if params.growing else 3
        if frames < least or dim % frames:
            raise JepaError(
                f"predictor 'oscillator' reads the latent as data.history frames of equal width "
                f"and fits each channel's frequency from {least} frames or more, so data.history "
                f"must be at least {least} and divide model.embedding_dim; got history "
                f"{frames} and embedding_dim {dim}. Use encoder 'frame_mlp' with, e.g., "
                f"data.history 8 and model.embedding_dim {8 * max(1, dim // 8)}."
            )
        self.frames, self.channels = frames, dim // frames
        self.growing = params.growing

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        # in float64: in float32 the fourth-order fit let a slow spiral's rollout wander off
        # within 300 frames; a few dozen numbers per trajectory cost nothing in double
        u = z.double().reshape(len(z), self.frames, self.channels)
        if self.growing:
            c = growing_fit(u).clamp(-1.0, 1.0)
            following = 4 * c * (u[:, -1] + u[:, -3]) - (4 * c.pow(2) + 2) * u[:, -2] - u[:, -4]
        else:
            c = plain_fit(u).clamp(-1.0, 1.0)
            following = 2 * c * u[:, -1] - u[:, -2]
        return torch.cat([u[:, 1:], following[:, None]], 1).flatten(1).to(z.dtype)


def build_oscillator_predictor(params: OscillatorParams, shapes: Shapes) -> nn.Module:
    """Per-channel sinusoids, frequencies fitted to the window; see the module docstring."""
    return OscillatorPredictor(params, shapes)


@hookimpl
def register_predictors(register) -> None:
    register("oscillator", build_oscillator_predictor, params=OscillatorParams)
