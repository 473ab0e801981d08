"""Costs of action sequences: the latent distance to a goal, or the true distance (the ceiling).

The world-model cost rolls every candidate out through the trained predictor from the current
latent and scores its last latent's squared distance to the goal observation's latent: a goal
is reached in latent space, with no reward and no decoder (``plan.cost: latent``). With
``plan.cost: observation`` the same rollout is decoded and scored against the goal observation,
each value weighted as the environment says (its ``observation_weights``). The simulator cost
scores the environment's own vectorised dynamics on the true state (weighted by its
``state_weights``), so the gap between the two is the model's.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from jepa_framework.core.errors import PluginError
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


def goal_weights(env: Any, kind: str, size: int) -> np.ndarray:
    """The environment's per-dimension weights in the goal distance of its ``kind`` ("state":
    ``env.state_weights``, "observation": ``env.observation_weights``), ones where it declares
    none, checked against the ``size`` of what they weigh."""
    declared = getattr(env, f"{kind}_weights", None)
    if declared is None:
        return np.ones(size, np.float32)
    weights = np.asarray(declared, dtype=np.float32).reshape(-1)
    if len(weights) != size or not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise PluginError(
            f"environment {type(env).__name__} declares {kind}_weights {weights.tolist()}, but "
            f"its {kind} has {size} values: {kind}_weights needs one finite weight >= 0 per "
            f"{kind} value"
        )
    return weights


class ObservationGoalCost(LatentGoalCost):
    """:func:`goal_distance` between the predicted latents *decoded* into observations and the
    goal observation, each observation value scaled by the environment's weights.

    The dynamics are still the world model's latent rollout; only the score reads it back
    through the run's decoder (fitted on the frozen latents after training). Where a latent
    distance misjudges progress, this cost does not: on pendulum_swingup the latent distance to
    the upright goal ranks hanging still above half-way up (VICReg's decorrelated dimensions
    fold the circle of angles), and planning on it keeps the pendulum down, where the decoded
    cost swings it up (benchmarks/bench_swingup_cost.py).
    """

    def __init__(
        self,
        model: JEPA,
        decoder: torch.nn.Module,
        goal: torch.Tensor,
        weights: np.ndarray,
        device: torch.device,
        path_weight: float = 0.0,
    ) -> None:
        super().__init__(model, goal, device, path_weight)
        self.decoder = decoder
        self.weights = torch.as_tensor(weights, device=device)
        self.goal_observation = goal.to(device).float().reshape(1, -1) * self.weights

    def __call__(self, actions: torch.Tensor) -> torch.Tensor:
        z = self.z.expand(len(actions), -1)
        latents = self.model.rollout(z, actions.shape[1], actions)  # [H, S, D]
        decoded = self.decoder(latents.flatten(0, 1)).float()
        decoded = decoded.reshape(*latents.shape[:2], -1) * self.weights
        return goal_distance(decoded, self.goal_observation, self.path_weight)


class SimulatorGoalCost:
    """:func:`goal_distance` between simulated true states and the goal state, each state
    value scaled by the environment's :func:`goal_weights` (``state_weights``).

    The weights say what reaching the goal means: a swing-up has to pass through high speeds
    to get upright, and a distance that counts speed like angle makes hanging still the
    cheapest plan (measured: every planner then kept the pendulum down).
    """

    def __init__(
        self, env: Any, goal: np.ndarray, device: torch.device, path_weight: float = 0.0
    ) -> None:
        self.env, self.device, self.path_weight = env, device, path_weight
        goal = np.asarray(goal, dtype=np.float32)
        weights = goal_weights(env, "state", len(goal))
        self.weights = torch.as_tensor(weights, device=device)
        self.goal = torch.as_tensor(goal, device=device) * self.weights
        self.state = np.zeros_like(goal)

    def start_from(self, state: np.ndarray) -> None:
        self.state = np.asarray(state, dtype=np.float32)

    def __call__(self, actions: torch.Tensor) -> torch.Tensor:
        starts = np.repeat(self.state[None], len(actions), axis=0)
        path = self.env.simulate(starts, actions.detach().cpu().numpy())  # [S, H, s]
        path = torch.as_tensor(np.asarray(path, dtype=np.float32), device=self.device)
        return goal_distance(path.movedim(1, 0) * self.weights, self.goal[None], self.path_weight)
