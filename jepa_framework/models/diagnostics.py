"""Collapse diagnostics of an embedding batch: spread, dead dimensions, effective rank."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

#: thresholds below which a run is flagged as collapsed
MIN_RANKME = 1.5
MIN_NORMALISED_STD_FRACTION = 0.1  # of the isotropic value 1/sqrt(D)
DEAD_STD = 0.01


def rankme(z: torch.Tensor) -> float:
    """Effective rank exp(entropy of normalised singular values) of centred z [N, D]: 1..D.

    NaN when z holds NaN or inf (a diverged run), never an exception: the caller reports it.
    """
    z = z.double()
    if not bool(torch.isfinite(z).all()):
        return math.nan
    centred = z - z.mean(0)
    scale = centred.abs().max()
    if scale <= 0:
        return 1.0
    try:  # the rank does not depend on scale; dividing keeps huge values inside float64
        sigma = torch.linalg.svdvals(centred / scale)
    except torch.linalg.LinAlgError:  # no convergence on a degenerate batch
        return math.nan
    if not sigma.sum() > 0:
        return 1.0
    p = sigma / sigma.sum() + 1e-7
    return float(torch.exp(-(p * p.log()).sum()))


def collapse_diagnostics(z: torch.Tensor) -> dict[str, float]:
    """Spread and rank of embeddings z [N, D]; ``collapsed`` is 1.0 when below the thresholds.

    Reports spread beside rank: a shrinking embedding can keep its rank. Non-finite embeddings
    give NaN values and ``collapsed`` 1.0 rather than an exception.
    """
    z = z.detach().float()
    dim = z.shape[1]
    var = z.var(dim=0, unbiased=True) if z.shape[0] > 1 else torch.zeros(dim)
    std = torch.sqrt(var + 1e-4)
    normalised_std = F.normalize(z, dim=1).std(dim=0).mean() if z.shape[0] > 1 else torch.zeros(())
    out = {
        "std_mean": float(std.mean()),
        "std_min": float(std.min()),
        "dead_fraction": float((var.sqrt() < DEAD_STD).float().mean()),
        "rankme": rankme(z),
        "normalised_std": float(normalised_std),
    }
    finite = all(math.isfinite(v) for v in out.values())
    out["collapsed"] = float(not finite or is_collapsed(out, dim, z.shape[0]))
    return out


def is_collapsed(diag: dict[str, float], dim: int, samples: int | None = None) -> bool:
    """Below any threshold. The rank test is skipped when ``samples`` cannot show rank 2 or more
    (N centred samples span at most N - 1 dimensions), so tiny validation sets are not flagged."""
    isotropic = 1.0 / math.sqrt(dim)
    rank_possible = min(dim, samples - 1) if samples is not None else dim
    return (
        (diag["rankme"] < MIN_RANKME and rank_possible >= 2)
        or diag["normalised_std"] < MIN_NORMALISED_STD_FRACTION * isotropic
        or diag["dead_fraction"] > 0.9
    )
