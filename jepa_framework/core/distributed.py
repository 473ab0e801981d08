"""Multi-process training on the standard engine: torch.distributed, launched by torchrun.

torchrun sets RANK, LOCAL_RANK and WORLD_SIZE; without them everything runs as one process and
every helper here is a no-op.
"""

from __future__ import annotations

import os
from typing import Any

import attrs
import torch
import torch.distributed as dist
from torch import nn


@attrs.frozen
class Dist:
    """This process's place in the job."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    local_world_size: int = 1

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Only the main rank writes artifacts and talks to trackers."""
        return self.rank == 0


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def setup(device: torch.device) -> tuple[Dist, torch.device]:
    """Join the group torchrun prepared (NCCL on CUDA, gloo on CPU); pick this rank's GPU."""
    if not launched_by_torchrun():
        return Dist(), device
    info = Dist(
        rank=int(os.environ["RANK"]),
        local_rank=int(os.environ.get("LOCAL_RANK", 0)),
        world_size=int(os.environ["WORLD_SIZE"]),
        local_world_size=int(os.environ.get("LOCAL_WORLD_SIZE", os.environ["WORLD_SIZE"])),
    )
    if device.type == "cuda":
        device = torch.device("cuda", info.local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return info, device


def teardown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def wrap(module: nn.Module, info: Dist, device: torch.device) -> nn.Module:
    """DistributedDataParallel around ``module`` when distributed; the module itself otherwise."""
    if not info.enabled:
        return module
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(module, device_ids=ids)


def mean_across_ranks(value: torch.Tensor) -> torch.Tensor:
    """The mean of a (detached) tensor over all ranks, for logging the global-batch loss."""
    if not (dist.is_available() and dist.is_initialized()):
        return value
    value = value.detach().clone()
    dist.all_reduce(value, op=dist.ReduceOp.SUM)
    return value / dist.get_world_size()


def gather_rows(value: torch.Tensor) -> torch.Tensor:
    """Concatenate a detached [n, ...] tensor from every rank (diagnostics on the global batch)."""
    if not (dist.is_available() and dist.is_initialized()):
        return value
    shards = [torch.empty_like(value) for _ in range(dist.get_world_size())]
    dist.all_gather(shards, value.detach().contiguous())
    return torch.cat(shards)


def broadcast_object(obj: Any, info: Dist) -> Any:
    """The main rank's ``obj`` on every rank (e.g. the run directory it created)."""
    if not info.enabled:
        return obj
    holder = [obj]
    dist.broadcast_object_list(holder, src=0)
    return holder[0]


def barrier(info: Dist) -> None:
    if info.enabled:
        dist.barrier()
