"""What a planner is given and what it returns: the one contract between planners and models.

A planner never sees a model or an environment: it gets a :class:`PlanningProblem` -- a cost
of a batch of action sequences and the action bounds -- and returns the sequence it chose. So
one planner serves the learned world model, the true simulator (the ceiling) and a toy problem
in a test alike.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

import attrs
import torch

#: cost of candidate action sequences [S, horizon, A] -> [S] (lower is better)
Cost = Callable[[torch.Tensor], torch.Tensor]


@attrs.frozen
class PlanningProblem:
    """Minimise ``cost`` over action sequences within ``low`` .. ``high`` (each [A]).

    ``generator`` draws the planner's samples (seeded by the caller, so plans reproduce).
    ``cost`` evaluates a whole batch of candidates at once and is differentiable where the
    model is, for gradient-based planners.
    """

    cost: Cost
    low: torch.Tensor
    high: torch.Tensor
    generator: torch.Generator

    @property
    def action_dim(self) -> int:
        return int(self.low.numel())

    @property
    def device(self) -> torch.device:
        return self.low.device

    def clip(self, actions: torch.Tensor) -> torch.Tensor:
        """Actions [..., A] moved inside the bounds."""
        return torch.maximum(torch.minimum(actions, self.high), self.low)


@runtime_checkable
class Planner(Protocol):
    """Chooses ``horizon`` actions of least cost; built by a ``register_planners`` factory.

    ``plan(problem, init)`` returns actions [horizon, A] within the bounds; ``init`` [horizon, A]
    is a warm start (the previous plan shifted by one step, under a receding horizon) or None.
    """

    horizon: int

    def plan(self, problem: PlanningProblem, init: torch.Tensor | None = None) -> torch.Tensor: ...


def shifted(plan: torch.Tensor, steps: int = 1) -> torch.Tensor:
    """The warm start of the next plan: ``plan`` [H, A] advanced ``steps`` steps (at most
    H - 1), its last action repeated in their place."""
    steps = min(steps, len(plan) - 1)
    if steps < 1:
        return plan.clone()
    return torch.cat([plan[steps:], plan[-1:].expand(steps, -1)])
