"""Costs of action sequences: the latent distance to a goal, or the true distance (the ceiling).

The world-model cost rolls every candidate out through the trained predictor from the current
latent and scores its last latent's squared distance to the goal observation's latent: a goal
is reached in latent space, with no reward and no decoder. The simulator cost does the same
with the environment's own vectorised dynamics, so the gap between the two is the model's.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from jepa_framework.datasets.base import DynamicsDataset
from jepa_framework.models.jepa import JEPA


def context_window(frames: list[torch.Tensor], history: int) -> torch.Tensor:
    """The last ``history`` float frames as a window [1, H, *obs], the first repeated when
    fewer have been seen (an episode's start)."""
    recent = frames[-history:]
    recent = [recent[0]] * (history - len(recent)) + recent
    return torch.stack(recent)[None]


def as_float(dataset: DynamicsDataset, observation: Any) -> torch.Tensor:
    """One raw observation (as the environment or the dataset stores it) -> float [*obs]."""
    stored = torch.as_tensor(np.asarray(observation))
    if stored.dtype == torch.float64:
        stored = stored.float()
    return dataset.to_float(stored)


def goal_distance(path: torch.Tensor, goal: torch.Tensor, path_weight: float) -> torch.Tensor:
    """Cost of predicted paths [H, S, D] toward ``goal`` [1, D]: the last point's squared
    distance, plus ``path_weight`` times the mean over the path's points.

    The terminal term alone is indifferent to *when* the goal is reached, so under a receding
    horizon the first action -- the one executed -- is arbitrary and the agent dawdles; the
    path term breaks that tie in favour of getting there early.
    """
    squared = (path.float() - goal).pow(2).sum(-1)  # [H, S]
    return squared[-1] + path_weight * squared.mean(0)


class LatentGoalCost:
    """:func:`goal_distance` between predicted latents and the goal's latent, per candidate.

    The goal is encoded like the agent's own observations, by the online encoder, from a window
    holding the goal observation ``history`` times (as if the agent stood still there), so the
    latent the agent would have at the goal costs nothing. (The target encoder, which the
    predictions were trained to match, is an EMA snapshot frozen as training ends; measured on
    two_rooms, goals encoded by it were reached less precisely: 68 % against 80 % success on
    the same 25 episodes.)
    """

    def __init__(
        self, model: JEPA, goal: torch.Tensor, device: torch.device, path_weight: float = 0.0
    ) -> None:
        self.model, self.device, self.path_weight = model, device, path_weight
        window = goal[None].expand(model.history, *goal.shape)[None].to(device)
        with torch.no_grad():
            self.goal = model.encode(window).float()  # [1, D]
        self.z = self.goal

    @torch.no_grad()
    def start_from(self, context: torch.Tensor) -> None:
        """Plan from the latent of this context window [1, H, *obs]."""
        self.z = self.model.encode(context.to(self.device)).float()

    def __call__(self, actions: torch.Tensor) -> torch.Tensor:
        z = self.z.expand(len(actions), -1)
        latents = self.model.rollout(z, actions.shape[1], actions)  # [H, S, D]
        return goal_distance(latents, self.goal, self.path_weight)


class SimulatorGoalCost:
    """:func:`goal_distance` between simulated true states and the goal state."""

    def __init__(
        self, env: Any, goal: np.ndarray, device: torch.device, path_weight: float = 0.0
    ) -> None:
        self.env, self.device, self.path_weight = env, device, path_weight
        self.goal = torch.as_tensor(np.asarray(goal, dtype=np.float32), device=device)
        self.state = np.zeros_like(np.asarray(goal, dtype=np.float32))

    def start_from(self, state: np.ndarray) -> None:
        self.state = np.asarray(state, dtype=np.float32)

    def __call__(self, actions: torch.Tensor) -> torch.Tensor:
        starts = np.repeat(self.state[None], len(actions), axis=0)
        path = self.env.simulate(starts, actions.detach().cpu().numpy())  # [S, H, s]
        path = torch.as_tensor(np.asarray(path, dtype=np.float32), device=self.device)
        return goal_distance(path.movedim(1, 0), self.goal[None], self.path_weight)
