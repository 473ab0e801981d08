"""Forecast metrics (docs/evaluation.md): NRMSE, valid prediction time, pixel MSE and PSNR."""

from __future__ import annotations

import math

import torch

#: NRMSE thresholds of the valid prediction time (observations and probed state), headline first
VPT_EPS = (0.5, 0.3)


def nrmse(pred: torch.Tensor, truth: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Per-trajectory, per-horizon NRMSE: [N, H, D] twice and sigma [D] -> [N, H].

    sqrt(mean_d ((pred_d - truth_d) / sigma_d)^2), sigma_d the std of dimension d over the
    test set, so every dimension counts alike whatever its scale.
    """
    z = (pred.float() - truth.float()) / sigma.float().clamp_min(1e-8)
    return z.pow(2).mean(-1).sqrt()


def pixel_errors(pred: torch.Tensor, truth: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Frames [N, H, *frame] in [0, 1] -> (MSE [N, H], relative error [N, H]).

    The relative error mean((xhat - x)^2) / mean(x^2) is what pixel VPT thresholds.
    """
    sq = (pred.float() - truth.float()).pow(2).flatten(2).mean(-1)
    energy = truth.float().pow(2).flatten(2).mean(-1).clamp_min(1e-12)
    return sq, sq / energy


def psnr(mse: torch.Tensor | float) -> torch.Tensor:
    """PSNR = 10 log10(1 / MSE) for frames in [0, 1] (elementwise)."""
    return 10.0 * torch.log10(1.0 / torch.as_tensor(mse, dtype=torch.float64).clamp_min(1e-12))


def valid_frames(curves: torch.Tensor, eps: float) -> torch.Tensor:
    """Leading frames of each curve [N, H] whose error stays at or below eps: [N] long.

    A curve above eps at h = 1 gets 0; one that never exceeds eps gets H (censored: the true
    value is at least H). Later dips below eps do not count.
    """
    below = curves <= eps
    return below.long().cumprod(1).sum(1)


def vpt(
    curves: torch.Tensor, eps: float, frame_dt: float, lyapunov_frames: float | None
) -> dict[str, float | None]:
    """Valid prediction time: median over trajectories of :func:`valid_frames`.

    In frames, seconds and (where the dynamics are chaotic) Lyapunov times; ``censored`` is the
    fraction of trajectories that never crossed eps within the horizon (their VPT is a lower
    bound, so a median with ``censored`` >= 0.5 is the horizon, not the model's reach).
    """
    valid = valid_frames(curves, eps)
    frames = float(valid.float().median()) if len(valid) else math.nan
    return {
        "frames": frames,
        "seconds": frames * frame_dt,
        "lyapunov_times": frames / lyapunov_frames if lyapunov_frames else None,
        "censored": float((valid == curves.shape[1]).float().mean()) if len(valid) else math.nan,
        "ci95": median_interval(valid),
    }


#: bootstrap resamples of the VPT's interval, and their fixed seed (same curves, same interval)
BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 0


def median_interval(valid: torch.Tensor) -> list[float] | None:
    """Percentile-bootstrap 95 % interval [low, high] of the median of ``valid`` [N], resampling
    trajectories: how far the VPT could move on another draw of as many test trajectories
    (the spread over seeds adds training's own variation). None for fewer than 2."""
    if len(valid) < 2:
        return None
    g = torch.Generator().manual_seed(BOOTSTRAP_SEED)
    picks = torch.randint(0, len(valid), (BOOTSTRAP_RESAMPLES, len(valid)), generator=g)
    medians = valid.float()[picks].median(dim=1).values
    low, high = torch.quantile(medians, torch.tensor([0.025, 0.975])).tolist()
    return [low, high]
