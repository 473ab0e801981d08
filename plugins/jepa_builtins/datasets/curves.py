"""Smooth 2-D curves traced by one point: ``circle``, ``spiral`` and ``lissajous``.

Each is periodic or nearly so. Within one trajectory, circle and Lissajous points are exactly
linear in their recent history; across trajectories the coefficients depend on the speed, so
one linear autoregression shared by all of them is not exact, while a model that reads the
speed from the history and keeps it can forecast for hundreds of frames. Angular velocities are
in radians per frame.
"""

from __future__ import annotations

import math

import attrs
import numpy as np
from attrs.validators import and_, deep_iterable, min_len

from jepa_framework.core.validators import at_most, between, count
from jepa_framework.datasets.base import DatasetParams, Trajectories, VectorDataset
from jepa_framework.datasets.references import NothingLearned

LENGTH = between(0, 100)  # radii, amplitudes, growth per frame
ANGLE = between(-10, 10)  # angular velocities, rad/frame


@attrs.frozen
class CurveParams(DatasetParams):
    """Options shared by the curves."""

    # std of Gaussian noise on (x, y)
    noise: float = attrs.field(default=0.0, validator=between(0, 100))


class CurveDataset(VectorDataset):
    """A point (x, y) on a random curve per trajectory; subclasses define the curve."""

    params: CurveParams

    def trace(self, n: int, steps: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Noise-free points [n, steps, 2] and states [n, steps, len(state_names)]."""
        raise NotImplementedError

    @property
    def nothing_learned_reference(self) -> str | NothingLearned | None:
        """Each coordinate is a sinusoid about zero: the ``oscillator`` continues it from the
        raw frames, its frequency measured on the window, nothing learned."""
        return "oscillator"

    def simulate(self, n: int, steps: int, rng: np.random.Generator) -> Trajectories:
        """Observations float32 [n, steps, 2] with observation noise; states float32."""
        xy, states = self.trace(n, steps, rng)
        xy = xy + self.params.noise * rng.standard_normal(xy.shape)
        return Trajectories(xy.astype(np.float32), states.astype(np.float32))


def _angular_velocity(n: int, rng: np.random.Generator, low: float, high: float) -> np.ndarray:
    """Speeds uniform in [low, high] with a random direction of travel, [n, 1]."""
    return (rng.uniform(low, high, n) * rng.choice([-1.0, 1.0], n))[:, None]


def _phases(n: int, steps: int, rng: np.random.Generator, omega: np.ndarray) -> np.ndarray:
    """Random starting phase advanced by ``omega`` [n, 1] per frame: [n, steps]."""
    return rng.uniform(0.0, 2 * math.pi, (n, 1)) + omega * np.arange(steps)


@attrs.frozen
class CircleParams(CurveParams):
    radius_min: float = attrs.field(default=0.5, validator=[*LENGTH, at_most("radius_max")])
    radius_max: float = attrs.field(default=1.0, validator=LENGTH)
    # rad/frame
    omega_min: float = attrs.field(default=0.1, validator=[*ANGLE, at_most("omega_max")])
    omega_max: float = attrs.field(default=0.4, validator=ANGLE)


class CircleDataset(CurveDataset):
    """A point going round a circle at constant speed, random radius, phase and direction."""

    state_names = ("sin_phase", "cos_phase", "omega", "radius")
    params: CircleParams

    def trace(self, n: int, steps: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        p = self.params
        radius = rng.uniform(p.radius_min, p.radius_max, (n, 1))
        omega = _angular_velocity(n, rng, p.omega_min, p.omega_max)
        phase = _phases(n, steps, rng, omega)
        sin, cos = np.sin(phase), np.cos(phase)
        xy = np.stack([radius * cos, radius * sin], axis=-1)
        ones = np.ones((1, steps))
        states = np.stack([sin, cos, omega * ones, radius * ones], axis=-1)
        return xy, states


@attrs.frozen
class SpiralParams(CurveParams):
    # starting radius
    radius_min: float = attrs.field(default=0.1, validator=[*LENGTH, at_most("radius_max")])
    radius_max: float = attrs.field(default=0.4, validator=LENGTH)
    # radius added per frame; 30 frames stay inside |x|, |y| < 1.2
    growth_min: float = attrs.field(default=0.01, validator=[*LENGTH, at_most("growth_max")])
    growth_max: float = attrs.field(default=0.02, validator=LENGTH)
    # rad/frame
    omega_min: float = attrs.field(default=0.1, validator=[*ANGLE, at_most("omega_max")])
    omega_max: float = attrs.field(default=0.4, validator=ANGLE)


class SpiralDataset(CurveDataset):
    """A point spiralling outwards: radius grows linearly while the angle turns at constant speed.

    With the defaults the point stays within the view (|x|, |y| < 1.2) for 40 frames.
    """

    state_names = ("sin_phase", "cos_phase", "radius", "omega", "growth")
    params: SpiralParams

    @property
    def nothing_learned_reference(self) -> str | NothingLearned | None:
        """Each coordinate is a sinusoid whose amplitude grows linearly: the growing
        ``oscillator`` continues it from the raw frames (the plain one drifts off within a few
        dozen frames: benchmarks/tables/oscillator_raw.md)."""
        return NothingLearned("oscillator", {"growing": True})

    def trace(self, n: int, steps: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        p = self.params
        start = rng.uniform(p.radius_min, p.radius_max, (n, 1))
        growth = rng.uniform(p.growth_min, p.growth_max, (n, 1))
        omega = _angular_velocity(n, rng, p.omega_min, p.omega_max)
        phase = _phases(n, steps, rng, omega)
        radius = start + growth * np.arange(steps)
        sin, cos = np.sin(phase), np.cos(phase)
        xy = np.stack([radius * cos, radius * sin], axis=-1)
        ones = np.ones((1, steps))
        states = np.stack([sin, cos, radius, omega * ones, growth * ones], axis=-1)
        return xy, states


@attrs.frozen
class LissajousParams(CurveParams):
    #: frequency ratios (a, b) to draw from; x = A sin(a tau + delta), y = B sin(b tau)
    ratios: tuple[tuple[int, int], ...] = attrs.field(
        default=((1, 2), (2, 3), (3, 4), (3, 2)),
        validator=[min_len(1), deep_iterable(deep_iterable(and_(*count(1, 100))))],
    )
    amplitude_min: float = attrs.field(default=0.6, validator=[*LENGTH, at_most("amplitude_max")])
    amplitude_max: float = attrs.field(default=1.0, validator=LENGTH)
    # rad/frame of tau; the axes turn a or b times faster
    omega_min: float = attrs.field(default=0.05, validator=[*ANGLE, at_most("omega_max")])
    omega_max: float = attrs.field(default=0.15, validator=ANGLE)


class LissajousDataset(CurveDataset):
    """A point on a Lissajous figure x = A sin(a tau + delta), y = B sin(b tau), tau = omega t.

    Ratio (a, b), amplitudes, delta, starting tau and the speed are random per trajectory.
    """

    state_names = ("sin_phase_x", "cos_phase_x", "sin_phase_y", "cos_phase_y")
    params: LissajousParams

    def trace(self, n: int, steps: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        p = self.params
        ratios = np.asarray(p.ratios, dtype=np.float64)[rng.integers(len(p.ratios), size=n)]
        amplitude = rng.uniform(p.amplitude_min, p.amplitude_max, (n, 1, 2))
        delta = rng.uniform(0.0, 2 * math.pi, (n, 1))
        omega = _angular_velocity(n, rng, p.omega_min, p.omega_max)
        tau = _phases(n, steps, rng, omega)  # [n, steps]
        phase = tau[..., None] * ratios[:, None, :]  # [n, steps, 2]: a tau, b tau
        phase[..., 0] += delta
        sin, cos = np.sin(phase), np.cos(phase)
        states = np.stack([sin[..., 0], cos[..., 0], sin[..., 1], cos[..., 1]], axis=-1)
        return amplitude * sin, states
