"""The one optimisation procedure of the framework: AdamW, warmup-cosine schedule, clipping.

Phase 1 (JEPA), phase 2 (decoder) and the supervised residual-MLP baseline all step through
:class:`Optimisation`, so "the same budget" means the same code, not a copy of it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import attrs
import torch
from torch import nn

from jepa_framework.pipeline.schedules import warmup_cosine


@attrs.frozen
class StepPlan:
    """How many optimizer steps a phase takes: ``epochs`` x ``steps_per_epoch``, warmup first."""

    epochs: int
    steps_per_epoch: int
    warmup_steps: int

    @property
    def total_steps(self) -> int:
        return self.epochs * self.steps_per_epoch

    @classmethod
    def for_epochs(
        cls, epochs: int, samples: int, batch_size: int, warmup_epochs: float
    ) -> StepPlan:
        """One epoch visits each of ``samples`` once in batches of ``batch_size``."""
        per_epoch = math.ceil(samples / batch_size)
        return cls(epochs, per_epoch, round(warmup_epochs * per_epoch))


class Optimisation:
    """AdamW with a linear-warmup cosine schedule over a :class:`StepPlan`, and norm clipping."""

    def __init__(
        self,
        params: Iterable[nn.Parameter],
        plan: StepPlan,
        lr: float,
        weight_decay: float,
        grad_clip: float,
    ) -> None:
        self.params = list(params)
        self.plan = plan
        self.grad_clip = grad_clip
        self.optimizer = torch.optim.AdamW(self.params, lr=lr, weight_decay=weight_decay)
        total, warmup = plan.total_steps, plan.warmup_steps
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda s: warmup_cosine(s, total, warmup)
        )

    def step(self, loss: torch.Tensor) -> None:
        """Backpropagate ``loss``, clip the gradient norm (unless 0), update, advance the lr."""
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.grad_clip > 0:
            nn.utils.clip_grad_norm_(self.params, self.grad_clip)
        self.optimizer.step()
        self.scheduler.step()

    @property
    def lr(self) -> float:
        return self.scheduler.get_last_lr()[0]

    def state_dict(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
