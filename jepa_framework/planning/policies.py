"""Closed-loop policies: each step they see the observation (and the true state) and act.

:class:`PlanningPolicy` replans every ``replan_every`` steps (receding horizon): it asks the
planner for a whole sequence, executes its first ``replan_every`` actions one step at a time
and keeps the rest as the next plan's warm start. With a
:class:`~jepa_framework.planning.costs.LatentGoalCost` it plans in the world model's latent
space; with a :class:`~jepa_framework.planning.costs.SimulatorGoalCost` in the true simulator.
:class:`RandomPolicy` is the floor every planner is compared with.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import torch

from jepa_framework.datasets.actions import ActionSpace
from jepa_framework.datasets.base import DynamicsDataset
from jepa_framework.planning.costs import (
    LatentGoalCost,
    ObservationGoalCost,
    SimulatorGoalCost,
    as_float,
    context_window,
)
from jepa_framework.planning.problem import Planner, PlanningProblem, shifted


class Policy(Protocol):
    """Starts an episode toward a goal, then maps each observation (and state) to an action."""

    def reset(self, goal_observation: Any, goal_state: np.ndarray) -> None: ...

    def act(self, observation: Any, state: np.ndarray) -> np.ndarray: ...


class RandomPolicy:
    """Uniform actions within the bounds, ignoring the goal."""

    def __init__(self, space: ActionSpace, rng: np.random.Generator) -> None:
        self.space, self.rng = space, rng

    def reset(self, goal_observation: Any, goal_state: np.ndarray) -> None:
        pass

    def act(self, observation: Any, state: np.ndarray) -> np.ndarray:
        return self.rng.uniform(self.space.low, self.space.high).astype(np.float32)


class PlanningPolicy:
    """A planner under a receding horizon, in the world model (``env`` None) or the simulator.

    ``model`` and ``dataset`` turn observations into latents; with ``decoder`` (and the
    ``observation_weights`` of the goal distance) the predicted latents are scored decoded,
    against the goal observation (``plan.cost: observation``). With ``env`` the planner scores
    candidates with the environment's own ``simulate`` instead (the true-model ceiling).
    """

    def __init__(
        self,
        planner: Planner,
        space: ActionSpace,
        generator: torch.Generator,
        device: torch.device,
        model: Any = None,
        dataset: DynamicsDataset | None = None,
        env: Any = None,
        path_weight: float = 0.0,
        replan_every: int = 1,
        decoder: torch.nn.Module | None = None,
        observation_weights: np.ndarray | None = None,
    ) -> None:
        self.planner, self.generator, self.device = planner, generator, device
        self.decoder, self.observation_weights = decoder, observation_weights
        self.path_weight, self.replan_every = path_weight, replan_every
        self.queue: list[torch.Tensor] = []
        self.model, self.dataset, self.env = model, dataset, env
        self.low, self.high = space.bounds(device)
        self.cost: LatentGoalCost | SimulatorGoalCost | None = None
        self.frames: list[torch.Tensor] = []
        self.warm: torch.Tensor | None = None

    def reset(self, goal_observation: Any, goal_state: np.ndarray) -> None:
        self.frames, self.warm, self.queue = [], None, []
        if self.env is not None:
            self.cost = SimulatorGoalCost(self.env, goal_state, self.device, self.path_weight)
        elif self.decoder is not None:
            goal = as_float(self.dataset, goal_observation)
            weights = self.observation_weights
            if weights is None:
                weights = np.ones(goal.numel(), np.float32)
            self.cost = ObservationGoalCost(
                self.model, self.decoder, goal, weights, self.device, self.path_weight
            )
        else:
            goal = as_float(self.dataset, goal_observation)
            self.cost = LatentGoalCost(self.model, goal, self.device, self.path_weight)

    def act(self, observation: Any, state: np.ndarray) -> np.ndarray:
        if not self.queue:
            plan = self.plan(observation, state)
            self.queue = list(plan[: self.replan_every])
            self.warm = shifted(plan, len(self.queue))
        elif not isinstance(self.cost, SimulatorGoalCost):  # the context keeps every frame
            self.frames.append(as_float(self.dataset, observation))
        return self.queue.pop(0).cpu().numpy().astype(np.float32)

    def plan(self, observation: Any, state: np.ndarray | None = None) -> torch.Tensor:
        """The whole planned sequence [horizon, A] from here; remembers it as the warm start."""
        assert self.cost is not None, "reset the policy with a goal first"
        if isinstance(self.cost, SimulatorGoalCost):
            self.cost.start_from(state)
        else:
            self.frames.append(as_float(self.dataset, observation))
            self.cost.start_from(context_window(self.frames, self.model.history))
        problem = PlanningProblem(self.cost, self.low, self.high, self.generator)
        plan = self.planner.plan(problem, self.warm)
        self.warm = shifted(plan)
        return plan
