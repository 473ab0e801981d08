"""Collapse diagnostics of an embedding batch: spread, dead dimensions, effective rank, and the
singular-value spectrum that shows dimensional collapse (fewer directions than the state has)."""

from __future__ import annotations

import math
from typing import Any

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


#: the top-k directions whose share of the variance the latent spectrum reports
SPECTRUM_TOP_K = (1, 2, 4, 8)


def participation_ratio(sigma: torch.Tensor) -> float:
    """(sum s^2)^2 / sum s^4 of singular values ``sigma``: how many directions carry the variance
    (k for k equal ones; weak directions count less than in RankMe, as their variance is s^2)."""
    var = sigma.double().pow(2)
    return float(var.sum() ** 2 / var.pow(2).sum()) if var.sum() > 0 else 1.0


def latent_spectrum(z: torch.Tensor, state_dim: int) -> dict[str, Any]:
    """The singular-value spectrum of centred latents z [N, D] and its dimensional-collapse flag.

    ``singular_values`` relative to the largest; effective rank as RankMe and as the
    participation ratio; the share of variance in the top k directions. ``dimensional_collapse``
    is set when RankMe is below ``state_dim``: the latents span fewer directions than the state
    has degrees of freedom, so no linear probe can read all of it. RankMe rather than the
    participation ratio because it still counts weak directions: the flag says directions are
    missing, not that the spectrum is uneven. It is not judged (False) when N samples cannot
    show ``state_dim`` directions; non-finite latents give NaN numbers and the flag set.
    """
    z = z.detach().double()
    n, dim = z.shape
    judged = n - 1 >= state_dim
    out: dict[str, Any] = {"state_dim": state_dim, "latent_dim": dim, "samples": n}
    sigma = None
    if bool(torch.isfinite(z).all()):
        centred = z - z.mean(0)
        scale = centred.abs().max()
        try:  # as in rankme: dividing keeps huge values inside float64
            sigma = torch.linalg.svdvals(centred / scale) if scale > 0 else torch.zeros(1)
        except torch.linalg.LinAlgError:
            sigma = None
    if sigma is None:
        nan_top = {str(k): math.nan for k in SPECTRUM_TOP_K}
        return {
            **out,
            "singular_values": [],
            "rankme": math.nan,
            "participation_ratio": math.nan,
            "top_k_variance": nan_top,
            "dimensional_collapse": True,
        }
    var = sigma.pow(2)
    total = float(var.sum())
    relative = (sigma / sigma[0]).tolist() if sigma[0] > 0 else [0.0] * len(sigma)
    effective = rankme(z)
    return {
        **out,
        "singular_values": relative,
        "rankme": effective,
        "participation_ratio": participation_ratio(sigma),
        "top_k_variance": {
            str(k): float(var[:k].sum()) / total if total > 0 else 1.0 for k in SPECTRUM_TOP_K
        },
        "dimensional_collapse": bool(judged and effective < state_dim),
    }
