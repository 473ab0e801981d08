"""How much the JEPA's probed-state forecast depends on its probe's ridge penalty.

The penalty is chosen on validation readings of the context; the forecast reads rolled-out
latents, which a penalty a decade either side may read differently. The JEPA's probed-position
VPT at the chosen penalty, at a tenth of it and at ten times it (each probe fitted the same
way) says whether the headline state number rests on that choice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

from jepa_framework.datasets.base import DynamicsDataset
from jepa_framework.evaluate.metrics import VPT_EPS, nrmse, valid_frames
from jepa_framework.evaluate.probe_penalty import ALPHA_GRID
from jepa_framework.evaluate.probes import Probes
from jepa_framework.evaluate.ridge import Ridge
from jepa_framework.evaluate.rollout import HeldOut, JepaForecast, position_scale
from jepa_framework.pipeline.eval_memory import CHUNK

#: a VPT spread over the penalties above the larger of these flags the probe as sensitive
SENSITIVE_FRAMES = 1.0
SENSITIVE_FRACTION = 0.1  # of the chosen penalty's VPT
TOLERANCE = (
    "1 frame or 10 % of the chosen penalty's VPT, whichever is larger (the spread over seeds, "
    "the natural scale, is not known inside one run)"
)

Positions = Callable[[torch.Tensor], torch.Tensor | None]


def neighbour_penalties(alpha: float, grid: Sequence[float] = ALPHA_GRID) -> tuple[float, ...]:
    """alpha / 10, alpha and alpha x 10; without a penalty, none and the grid's smallest one."""
    if alpha > 0:
        return (alpha / 10, alpha, alpha * 10)
    return (0.0, min(a for a in grid if a > 0))


def penalty_curves(
    latents: torch.Tensor,
    positions: torch.Tensor,
    sigma: torch.Tensor,
    ridges: Mapping[float, Ridge],
    to_positions: Positions,
) -> dict[float, torch.Tensor]:
    """NRMSE curves [N, H] of the positions read from latents [N, H, D] by each penalty's
    ridge, against true positions [N, H, X], normalised by ``sigma`` [X]."""
    out = {}
    for alpha, ridge in ridges.items():
        read = to_positions(ridge.predict(latents.cpu()))
        assert read is not None
        out[alpha] = nrmse(read, positions, sigma)
    return out


def _median_frames(curves: torch.Tensor, eps: float) -> float:
    """The VPT in frames, as :func:`~jepa_framework.evaluate.metrics.vpt` computes it."""
    return float(valid_frames(curves, eps).float().median())


def vpt_by_penalty(
    latents: torch.Tensor,
    positions: torch.Tensor,
    sigma: torch.Tensor,
    ridges: Mapping[float, Ridge],
    to_positions: Positions,
    eps: float = VPT_EPS[0],
) -> dict[float, float]:
    """{alpha: VPT frames} of the probed-position forecast from rolled-out latents [N, H, D]."""
    curves = penalty_curves(latents, positions, sigma, ridges, to_positions)
    return {alpha: _median_frames(c, eps) for alpha, c in curves.items()}


def sensitivity_record(
    vpts: Mapping[float, float], alpha: float, eps: float = VPT_EPS[0]
) -> dict[str, Any]:
    """eval.json's entry: the VPT per penalty, its spread, the tolerance and the flag."""
    chosen = vpts[alpha]
    spread = max(vpts.values()) - min(vpts.values())
    tolerance = max(SENSITIVE_FRAMES, SENSITIVE_FRACTION * chosen)
    return {
        "alpha": alpha,
        "threshold": eps,
        "vpt": {f"{a:g}": v for a, v in vpts.items()},
        "spread": spread,
        "tolerance": tolerance,
        "tolerance_rule": TOLERANCE,
        "probe_sensitive": bool(spread > tolerance),
    }


@torch.no_grad()
def probe_sensitivity(
    dataset: DynamicsDataset,
    held: HeldOut,
    jepa: JepaForecast,
    probes: Probes,
    chunk: int = CHUNK,
) -> dict[str, Any] | None:
    """The JEPA's probed-position VPT (all held-out trajectories) at its probe's penalty and a
    decade either side; None without probed positions or a chosen penalty. The latents are
    rolled out again, chunk by chunk, as :func:`~jepa_framework.evaluate.rollout.score` does."""
    choice = probes.jepa_penalty
    targets, _ = dataset.probe_targets(held.states)
    true_positions = dataset.probe_positions(targets)
    sigma = position_scale(dataset, held)
    if choice is None or true_positions is None or sigma is None:
        return None
    ridges = {a: choice.path.at(a) for a in neighbour_penalties(choice.alpha, choice.grid)}
    c = held.context
    parts: dict[float, list[torch.Tensor]] = {a: [] for a in ridges}
    for i in range(0, held.stored.shape[0], chunk):
        context = dataset.to_float(held.stored[i : i + chunk, :c])
        z = jepa.latents(context, held.horizon).cpu()
        truth = true_positions[i : i + chunk, c:]
        for a, curve in penalty_curves(z, truth, sigma, ridges, dataset.probe_positions).items():
            parts[a].append(curve)
    vpts = {a: _median_frames(torch.cat(p), VPT_EPS[0]) for a, p in parts.items()}
    return sensitivity_record(vpts, choice.alpha)
