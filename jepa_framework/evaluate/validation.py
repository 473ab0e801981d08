"""The validation trajectories: fresh held-out trajectories for choosing evaluation settings.

Anything the evaluation chooses (a probe's ridge penalty) is chosen on these, drawn from the
validation seed, so the test trajectories that the result tables score are never looked at.
"""

from __future__ import annotations

import torch

from jepa_framework.datasets.base import DynamicsDataset


def validation_trajectories(
    dataset: DynamicsDataset, n: int, frames: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` fresh trajectories of ``frames`` frames from the validation ``seed``: stored
    observations [n, frames, *stored] and states [n, frames, S], held out like the test set."""
    return dataset.generate(n, frames, seed, "validation")
