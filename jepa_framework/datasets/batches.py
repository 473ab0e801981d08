"""Training clips drawn from the dataset by index (no per-sample Python), in RAM or mapped."""

from __future__ import annotations

import math
from collections.abc import Iterator

import attrs
import torch

from jepa_framework.core.errors import TrainingError
from jepa_framework.datasets.base import DynamicsDataset
from jepa_framework.datasets.windows import gather_windows

#: what a clip loader yields: clips [B, L, *obs], or (clips, actions [B, L, A])
Batch = torch.Tensor | tuple[torch.Tensor, torch.Tensor]


def rank_share(
    traj: torch.Tensor, starts: torch.Tensor, rank: int, world_size: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """This rank's equal slice of a global batch (a remainder that cannot split evenly is
    dropped, so batch statistics gathered over ranks stay well defined)."""
    if world_size == 1:
        return traj, starts
    per_rank = len(traj) // world_size
    window = slice(rank * per_rank, (rank + 1) * per_rank)
    return traj[window], starts[window]


@attrs.define
class Clips:
    """Random clips of ``length`` consecutive frames.

    One epoch visits every trajectory of ``indices`` once, each at a random start frame. Under
    torch.distributed every rank draws the same global batch (same generator seed) and keeps its
    own equal slice, so the ranks together see exactly what one process would.

    With ``with_actions`` (a dataset with actions, a predictor that takes them) every batch is
    ``(clips, actions)``: the actions [B, length, A] of the same frames, row t being the action
    between clip frame t and t+1.
    """

    dataset: DynamicsDataset
    indices: torch.Tensor
    length: int
    batch_size: int  # global batch, over all ranks
    device: torch.device
    generator: torch.Generator
    rank: int = 0
    world_size: int = 1
    with_actions: bool = False

    def __attrs_post_init__(self) -> None:
        if self.with_actions and self.dataset.actions is None:
            raise TrainingError(
                "training clips were asked to carry actions, but the dataset has none; choose "
                "a dataset with an action space (e.g. env_rollouts) or a predictor without "
                "actions."
            )
        if self.dataset.sequence_length < self.length:
            raise TrainingError(
                f"trajectories have {self.dataset.sequence_length} frames but a training clip "
                f"needs {self.length} (data.history + objective.rollout_steps); raise "
                f"data.dataset.sequence_length or lower them."
            )
        if self.batch_size < self.world_size:
            raise TrainingError(
                f"train.batch_size {self.batch_size} is smaller than the {self.world_size} "
                f"processes sharing it; raise it to at least {self.world_size}."
            )

    def __len__(self) -> int:
        return math.ceil(len(self.indices) / self.batch_size)

    def gather(self, traj: torch.Tensor, starts: torch.Tensor) -> torch.Tensor:
        """Float clips [B, length, *obs] for trajectories ``traj`` from frames ``starts``."""
        stored = gather_windows(self.dataset.observations, traj, starts, self.length)
        if self.device.type == "cuda":
            stored = stored.pin_memory().to(self.device, non_blocking=True)
        return self.dataset.to_float(stored)

    def gather_actions(self, traj: torch.Tensor, starts: torch.Tensor) -> torch.Tensor:
        """Float actions [B, length, A] of the same frames as :meth:`gather`'s clips."""
        assert self.dataset.actions is not None
        actions = gather_windows(self.dataset.actions, traj, starts, self.length).float()
        return actions.to(self.device, non_blocking=True)

    def batch(self, traj: torch.Tensor, starts: torch.Tensor) -> Batch:
        """Clips, or (clips, actions) with ``with_actions``."""
        clips = self.gather(traj, starts)
        return (clips, self.gather_actions(traj, starts)) if self.with_actions else clips

    def shard(self, traj: torch.Tensor, starts: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return rank_share(traj, starts, self.rank, self.world_size)

    def pairs(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """One epoch of this rank's (trajectory, start) pairs, batch by batch."""
        order = self.indices[torch.randperm(len(self.indices), generator=self.generator)]
        max_start = self.dataset.sequence_length - self.length
        for batch in order.split(self.batch_size):
            starts = torch.randint(0, max_start + 1, (len(batch),), generator=self.generator)
            traj, starts = self.shard(batch, starts)
            if len(traj):
                yield traj, starts

    def __iter__(self) -> Iterator[Batch]:
        for traj, starts in self.pairs():
            yield self.batch(traj, starts)

    def fixed_batch(self, size: int, seed: int) -> torch.Tensor:
        """The same clips every call (this rank's slice): per-epoch validation and diagnostics."""
        return self.gather(*self._fixed_pairs(size, seed))

    def fixed_actions(self, size: int, seed: int) -> torch.Tensor:
        """The actions of :meth:`fixed_batch`'s clips (same ``size`` and ``seed``)."""
        return self.gather_actions(*self._fixed_pairs(size, seed))

    def _fixed_pairs(self, size: int, seed: int) -> tuple[torch.Tensor, ...]:
        g = torch.Generator().manual_seed(seed)
        traj = self.indices[torch.randperm(len(self.indices), generator=g)[:size]]
        max_start = self.dataset.sequence_length - self.length
        starts = torch.randint(0, max_start + 1, (len(traj),), generator=g)
        return self.shard(traj, starts)
