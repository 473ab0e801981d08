"""The ridge penalty of a linear probe, chosen by its reading error on validation trajectories.

One penalty does not suit every encoder: a noiseless latent is read best unpenalised, a noisy
or collinear one needs shrinkage. Each probe is fitted on training windows at every penalty of
:data:`ALPHA_GRID` and keeps the one that reads the state at the last context frame of the
validation trajectories best; the forecast and the test trajectories play no part.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import attrs
import torch

from jepa_framework.evaluate.ridge import Ridge

#: the penalties tried: none, then decades from 1e-8 to 10 (inputs are standardised per feature)
ALPHA_GRID = (0.0, 1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)
#: what the reading error is, as eval.json states it
READING_ERROR = (
    "RMSE of the probe targets standardised by their std over the training windows, reading "
    "the latent of each validation trajectory's last context window"
)


@attrs.frozen
class RidgePath:
    """One eigendecomposition of the standardised Gram matrix, a :class:`Ridge` at any penalty.

    The same fit as :meth:`Ridge.fit`; without a penalty it is the minimum-norm least-squares
    solution, so collinear or dead features do not make it singular.
    """

    mean_x: torch.Tensor  # [F]
    scale_x: torch.Tensor  # [F]
    mean_y: torch.Tensor  # [P]
    eigvals: torch.Tensor  # [F] of xs^T xs / n
    eigvecs: torch.Tensor  # [F, F]
    projected: torch.Tensor  # [F, P]: eigvecs^T xs^T (y - mean_y) / n

    @classmethod
    def fit(cls, x: torch.Tensor, y: torch.Tensor) -> RidgePath:
        """x [N, F], y [N, P], standardised as :meth:`Ridge.fit` does."""
        x, y = x.double().flatten(1), y.double().flatten(1)
        mean_x, mean_y = x.mean(0), y.mean(0)
        scale_x = x.std(0, unbiased=False).clamp_min(1e-8)
        xs = (x - mean_x) / scale_x
        n = xs.shape[0]
        eigvals, eigvecs = torch.linalg.eigh(xs.T @ xs / n)
        projected = eigvecs.T @ (xs.T @ (y - mean_y) / n)
        return cls(mean_x, scale_x, mean_y, eigvals.clamp_min(0), eigvecs, projected)

    def at(self, alpha: float) -> Ridge:
        """The ridge at penalty ``alpha`` (mean squared error + alpha |W|^2, per sample)."""
        if alpha > 0:
            inverse = 1.0 / (self.eigvals + alpha)
        else:  # pseudo-inverse: directions the training windows do not span get no weight
            floor = self.eigvals.max() * len(self.eigvals) * torch.finfo(torch.float64).eps
            inverse = torch.where(self.eigvals > floor, 1.0 / self.eigvals.clamp_min(1e-300), 0.0)
        weight = self.eigvecs @ (inverse[:, None] * self.projected)
        return Ridge(self.mean_x, self.scale_x, self.mean_y, weight)


def reading_error(ridge: Ridge, z: torch.Tensor, truth: torch.Tensor, scale: torch.Tensor) -> float:
    """RMSE of ``ridge``'s readings of latents z [N, F] against targets [N, P], each target
    divided by ``scale`` [P]; in float64, so small penalties are told apart on clean latents."""
    pred = ((z.double() - ridge.mean_x) / ridge.scale_x) @ ridge.weight + ridge.mean_y
    error = float(((pred - truth.double()) / scale.double()).pow(2).mean().sqrt())
    return error if math.isfinite(error) else math.inf


@attrs.frozen
class PenaltyChoice:
    """A probe's penalty: the grid, the validation reading error at each, the one chosen."""

    grid: tuple[float, ...]
    errors: tuple[float, ...]
    alpha: float
    path: RidgePath
    validation_windows: int

    @property
    def ridge(self) -> Ridge:
        return self.path.at(self.alpha)

    def record(self) -> dict[str, Any]:
        """eval.json's entry: ``alpha`` chosen, ``grid`` and ``validation_error`` per penalty."""
        return {
            "alpha": self.alpha,
            "grid": list(self.grid),
            "validation_error": list(self.errors),
            "validation_windows": self.validation_windows,
            "criterion": "the lowest " + READING_ERROR,
        }


def choose_penalty(
    z_train: torch.Tensor,
    y_train: torch.Tensor,
    z_val: torch.Tensor,
    y_val: torch.Tensor,
    grid: Sequence[float] = ALPHA_GRID,
) -> PenaltyChoice:
    """Fit on training latents [N, F] and targets [N, P], pick the penalty with the lowest
    reading error on validation latents [M, F] and targets [M, P] (the first on a tie)."""
    path = RidgePath.fit(z_train, y_train)
    scale = y_train.double().flatten(1).std(0, unbiased=False).clamp_min(1e-8)
    errors = tuple(reading_error(path.at(a), z_val, y_val, scale) for a in grid)
    best = min(range(len(grid)), key=lambda i: errors[i])
    return PenaltyChoice(tuple(grid), errors, grid[best], path, len(z_val))
