"""The ``pendulum`` dataset: double pendulum bob positions, chaotic at high energy."""

from __future__ import annotations

import math

import attrs
import numpy as np
from attrs.validators import gt

from jepa_builtins.datasets.double_pendulum import integrate, positions, sample_initial
from jepa_framework.data import DatasetParams, Trajectories, VectorDataset

PENDULUM_STATE_NAMES = ("theta1", "theta2", "omega1", "omega2")


@attrs.frozen
class PendulumParams(DatasetParams):
    """Physics and initial conditions shared by ``pendulum`` and ``pendulum_image``."""

    dt: float = attrs.field(default=0.05, validator=gt(0))  # seconds between frames
    substeps: int = attrs.field(default=10, validator=gt(0))  # RK4 steps per frame
    angle_max: float = math.pi  # starting angles uniform in [-angle_max, angle_max]
    velocity_max: float = 2.0  # starting angular velocities uniform in +-velocity_max (rad/s)


def pendulum_states(
    params: PendulumParams, n: int, steps: int, rng: np.random.Generator
) -> np.ndarray:
    """Float64 states [n, steps, 4] (th1, th2, w1, w2) from random starts."""
    initial = sample_initial(n, rng, params.angle_max, params.velocity_max)
    return integrate(initial, steps, params.dt, params.substeps)


class PendulumDataset(VectorDataset):
    """Double pendulum, observed as bob positions (x1, y1, x2, y2); chaotic at high energy."""

    state_names = PENDULUM_STATE_NAMES
    linked_points = True
    view_extent = 2.2
    lyapunov_frames = 14.0
    frame_dt = 0.05
    params: PendulumParams

    def simulate(self, n: int, steps: int, rng: np.random.Generator) -> Trajectories:
        """Observations float32 [n, steps, 4] = (x1, y1, x2, y2); states float32 [n, steps, 4]."""
        states = pendulum_states(self.params, n, steps, rng)
        return Trajectories(positions(states).astype(np.float32), states.astype(np.float32))
