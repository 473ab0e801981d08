"""Closed-form ridge regression: linear probes and the linear autoregression baseline."""

from __future__ import annotations

import attrs
import torch


@attrs.frozen
class Ridge:
    """y ~ standardise(x) @ weight + mean_y, fitted in float64.

    Inputs are standardised per feature so one ``alpha`` suits latents of any scale.
    """

    mean_x: torch.Tensor  # [F]
    scale_x: torch.Tensor  # [F]
    mean_y: torch.Tensor  # [P]
    weight: torch.Tensor  # [F, P]

    @classmethod
    def fit(cls, x: torch.Tensor, y: torch.Tensor, alpha: float = 1e-3) -> Ridge:
        """x [N, F], y [N, P]; minimises mean squared error + alpha |W|^2 (per sample)."""
        x, y = x.double().flatten(1), y.double().flatten(1)
        mean_x, mean_y = x.mean(0), y.mean(0)
        scale_x = x.std(0, unbiased=False).clamp_min(1e-8)
        xs = (x - mean_x) / scale_x
        n, f = xs.shape
        gram = xs.T @ xs / n + alpha * torch.eye(f, dtype=torch.float64)
        weight = torch.linalg.solve(gram, xs.T @ (y - mean_y) / n)
        return cls(mean_x, scale_x, mean_y, weight)

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """x [..., F] -> [..., P] (float32)."""
        xs = (x.double() - self.mean_x) / self.scale_x
        return (xs @ self.weight + self.mean_y).float()


def r2_scores(pred: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """Coefficient of determination per variable: [N, P] twice -> [P].

    1 - SS_res / SS_tot around the held-out mean; 0 for a variable constant on the test set.
    """
    pred, truth = pred.double(), truth.double()
    ss_res = (pred - truth).pow(2).sum(0)
    ss_tot = (truth - truth.mean(0)).pow(2).sum(0)
    ok = ss_tot > 1e-12 * max(1, truth.shape[0])
    return torch.where(
        ok, 1.0 - ss_res / ss_tot.clamp_min(1e-300), torch.zeros_like(ss_tot)
    ).float()
