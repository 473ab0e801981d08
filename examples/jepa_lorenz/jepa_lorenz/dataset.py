"""The Lorenz-63 system: dx = sigma (y - x), dy = x (rho - z) - y, dz = x y - beta z.

Trajectories start at random points, run for ``burn_in`` frames to settle onto the attractor,
then are recorded. Integration is classical RK4 in float64, vectorised over all trajectories.
Observations are (x, y, z - (rho - 1)) / scale in float32 (about unit range: the attractor's two
lobes circle the fixed points at z = rho - 1); the states are the raw float64 (x, y, z).
"""

from __future__ import annotations

from pathlib import Path

import attrs
import numpy as np
import torch
from attrs.validators import ge, gt

from jepa_framework.datasets.base import DatasetParams, Trajectories, VectorDataset

#: largest Lyapunov exponent of Lorenz-63 at the classical parameters, per unit time
LYAPUNOV_EXPONENT = 0.9056


@attrs.frozen
class LorenzParams(DatasetParams):
    """The classical chaotic parameters by default; ``dt`` is the time between frames."""

    sigma: float = 10.0
    rho: float = 28.0
    beta: float = 8.0 / 3.0
    dt: float = attrs.field(default=0.02, validator=gt(0))
    substeps: int = attrs.field(default=2, validator=ge(1))  # RK4 steps per frame
    burn_in: int = attrs.field(default=250, validator=ge(0))  # frames dropped before recording
    scale: float = attrs.field(default=20.0, validator=gt(0))  # observation = state / scale
    noise: float = attrs.field(default=0.0, validator=ge(0))  # std of noise on observations


def lorenz_rhs(state: np.ndarray, sigma: float, rho: float, beta: float) -> np.ndarray:
    """Time derivative of states [..., 3]."""
    x, y, z = state[..., 0], state[..., 1], state[..., 2]
    return np.stack([sigma * (y - x), x * (rho - z) - y, x * y - beta * z], axis=-1)


def integrate(
    initial: np.ndarray,
    frames: int,
    dt: float,
    substeps: int,
    sigma: float,
    rho: float,
    beta: float,
) -> np.ndarray:
    """Float64 states [N, frames, 3] from ``initial`` [N, 3] (frame 0 is the start) by RK4."""
    h = dt / substeps
    state = np.asarray(initial, dtype=np.float64).copy()
    out = np.empty((state.shape[0], frames, 3))

    def f(s: np.ndarray) -> np.ndarray:
        return lorenz_rhs(s, sigma, rho, beta)

    for t in range(frames):
        if t:
            for _ in range(substeps):
                k1 = f(state)
                k2 = f(state + 0.5 * h * k1)
                k3 = f(state + 0.5 * h * k2)
                k4 = f(state + h * k3)
                state = state + (h / 6.0) * (k1 + 2.0 * (k2 + k3) + k4)
        out[:, t] = state
    return out


class LorenzDataset(VectorDataset):
    """A point on the Lorenz attractor, observed through its scaled coordinates (x, y, z)."""

    state_names = ("x", "y", "z")
    view_extent = 1.6  # videos show the (x, z) plane, which holds the butterfly
    params: LorenzParams

    @property
    def frame_dt(self) -> float:  # type: ignore[override]
        return self.params.dt

    @property
    def lyapunov_frames(self) -> float:  # type: ignore[override]
        return 1.0 / (LYAPUNOV_EXPONENT * self.params.dt)

    def simulate(self, n: int, steps: int, rng: np.random.Generator) -> Trajectories:
        p = self.params
        start = rng.normal(0.0, 1.0, (n, 3)) * np.array([8.0, 8.0, 8.0]) + [0.0, 0.0, p.rho - 1]
        states = integrate(start, p.burn_in + steps, p.dt, p.substeps, p.sigma, p.rho, p.beta)
        states = states[:, p.burn_in :]
        obs = self.observe(states)
        obs = obs + p.noise * rng.standard_normal(obs.shape)
        return Trajectories(obs.astype(np.float32), states)

    def observe(self, states: np.ndarray) -> np.ndarray:
        """States [..., 3] -> noise-free observations [..., 3] of about unit range."""
        return (states - np.array([0.0, 0.0, self.params.rho - 1.0])) / self.params.scale

    def frames_for_video(self, observations: torch.Tensor, size: int) -> np.ndarray:
        """The base class draws (x, y) pairs; three coordinates are drawn as the (x, z) plane."""
        return super().frames_for_video(observations[..., [0, 2]], size)

    def plot_reconstruction(self, truth: torch.Tensor, decoded: torch.Tensor, path: Path) -> None:
        from jepa_framework.datasets.render import plot_curves

        plot_curves(truth, decoded, path, dims=list(self.state_names))
