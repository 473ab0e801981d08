"""Double pendulum physics: L1 = L2 = m1 = m2 = 1, g = 9.81, float64 RK4 with substeps.

One RK4 step per 0.05 s frame loses about 3 J in 10 s on high-energy starts; 10 substeps per
frame make the loss negligible (docs/evaluation.md), hence ``substeps``. The vectorised integrator
works on arrays of shape [N]; the scalar one (python floats) exists only as a reference for tests
and benchmarks.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from jepa_framework.core.threads import one_torch_thread

G = 9.81


def derivatives(
    th1: torch.Tensor, th2: torch.Tensor, w1: torch.Tensor, w2: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Time derivatives (dth1, dth2, dw1, dw2) of the state, each float64 [N].

    Written with four sines and cosines (of th1 and th2) since those dominate the cost.
    """
    s1, c1, s2, c2 = th1.sin(), th1.cos(), th2.sin(), th2.cos()
    sin_d, cos_d = s1 * c2 - c1 * s2, c1 * c2 + s1 * s2  # of d = th1 - th2
    w1_sq, w2_sq = w1 * w1, w2 * w2
    inv_den = 0.5 / (2.0 - cos_d * cos_d)  # 1 / (2 m1 + m2 - m2 cos 2d)
    sin_th1_2th2 = sin_d * c2 - cos_d * s2  # sin(th1 - 2 th2)
    dw1 = (-3.0 * G) * s1 - G * sin_th1_2th2 - 2.0 * sin_d * (w2_sq + w1_sq * cos_d)
    dw2 = 2.0 * sin_d * (2.0 * w1_sq + (2.0 * G) * c1 + w2_sq * cos_d)
    return w1, w2, dw1 * inv_den, dw2 * inv_den


def _derivatives_scalar(
    th1: float, th2: float, w1: float, w2: float
) -> tuple[float, float, float, float]:
    """The textbook equations of motion with the ``math`` module, for one state."""
    d = th1 - th2
    den = 3.0 - math.cos(2.0 * d)  # 2 m1 + m2 - m2 cos 2d
    dw1 = (
        -3.0 * G * math.sin(th1)
        - G * math.sin(th1 - 2.0 * th2)
        - 2.0 * math.sin(d) * (w2 * w2 + w1 * w1 * math.cos(d))
    ) / den
    dw2 = (
        2.0 * math.sin(d) * (2.0 * w1 * w1 + 2.0 * G * math.cos(th1) + w2 * w2 * math.cos(d))
    ) / den
    return w1, w2, dw1, dw2


def integrate(
    initial: np.ndarray, frames: int, dt: float = 0.05, substeps: int = 10, chunk: int = 16384
) -> np.ndarray:
    """Float64 states [N, frames, 4] (th1, th2, w1, w2) from ``initial`` [N, 4]; frame 0 = start.

    Angles are not wrapped, so they stay continuous; use their sine and cosine. The arithmetic
    runs on float64 torch tensors because torch's vectorised sin/cos are about 4x faster than
    numpy's here. It runs on one torch thread: torch splits sin/cos over its pool from 2048
    elements on, and when another process shares the cores the pool's waits make this 5-50x
    slower; one thread is never more than 20% slower than two.
    """
    columns = np.ascontiguousarray(np.asarray(initial, dtype=np.float64).T)  # [4, N]
    out = np.empty((4, frames, columns.shape[1]))
    with one_torch_thread():
        for start in range(0, columns.shape[1], chunk):
            part = columns[:, start : start + chunk]
            out[:, :, start : start + chunk] = _integrate_chunk(
                part, frames, dt / substeps, substeps
            )
    return out.transpose(2, 1, 0).copy()


def _integrate_chunk(initial: np.ndarray, frames: int, h: float, substeps: int) -> np.ndarray:
    """RK4 with step ``h``, ``substeps`` per frame: [4, n] -> [4, frames, n]."""
    state = tuple(torch.from_numpy(np.ascontiguousarray(row)) for row in initial)
    out = torch.empty(4, frames, initial.shape[1], dtype=torch.float64)
    for t in range(frames):
        if t:
            for _ in range(substeps):
                state = rk4_step(derivatives, state, h)
        for i, s in enumerate(state):
            out[i, t] = s
    return out.numpy()


def rk4_step(f: Callable[..., tuple], state: tuple, h: float) -> tuple:
    """One classical Runge-Kutta step of size ``h``; ``state`` holds floats or arrays alike."""

    def shifted(k: tuple, a: float) -> tuple:
        return tuple(s + a * ks for s, ks in zip(state, k, strict=True))

    k1 = f(*state)
    k2 = f(*shifted(k1, 0.5 * h))
    k3 = f(*shifted(k2, 0.5 * h))
    k4 = f(*shifted(k3, h))
    return tuple(
        s + (h / 6.0) * (a + 2.0 * (b + c) + d)
        for s, a, b, c, d in zip(state, k1, k2, k3, k4, strict=True)
    )


def integrate_reference(
    initial: tuple[float, float, float, float], frames: int, dt: float = 0.05, substeps: int = 10
) -> list[tuple[float, float, float, float]]:
    """One trajectory, python floats only: the slow, obviously-correct twin of :func:`integrate`."""
    h = dt / substeps
    state = tuple(float(s) for s in initial)
    out = [state]
    for _ in range(frames - 1):
        for _ in range(substeps):
            state = rk4_step(_derivatives_scalar, state, h)
        out.append(state)
    return out


def energy(th1, th2, w1, w2):
    """Total energy per unit mass and length (docs/evaluation.md); arrays or floats."""
    return (
        -2.0 * G * np.cos(th1) - G * np.cos(th2) + w1**2 + 0.5 * w2**2 + w1 * w2 * np.cos(th1 - th2)
    )


def positions(states: np.ndarray) -> np.ndarray:
    """Bob positions [..., 4] = (x1, y1, x2, y2) from states [..., 4]; pivot at 0, y up."""
    th1, th2 = states[..., 0], states[..., 1]
    x1, y1 = np.sin(th1), -np.cos(th1)
    return np.stack([x1, y1, x1 + np.sin(th2), y1 - np.cos(th2)], axis=-1)


def sample_initial(
    n: int, rng: np.random.Generator, angle_max: float, velocity_max: float
) -> np.ndarray:
    """Starts [n, 4]: angles uniform in +-angle_max, angular velocities in +-velocity_max."""
    angles = rng.uniform(-angle_max, angle_max, size=(n, 2))
    velocities = rng.uniform(-velocity_max, velocity_max, size=(n, 2))
    return np.concatenate([angles, velocities], axis=1)
