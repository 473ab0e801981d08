"""The planners on problems whose optimum is known: a quadratic cost of a linear latent model."""

from __future__ import annotations

import pytest
import torch
from jepa_builtins.planners import (
    CEM,
    MPPI,
    CEMParams,
    GradientParams,
    GradientPlanner,
    Knots,
    MPPIParams,
)
from torch import nn

from jepa_framework.core.errors import PluginError
from jepa_framework.models.jepa import JEPA
from jepa_framework.planning.costs import LatentGoalCost
from jepa_framework.planning.problem import PlanningProblem, shifted

H, PENALTY = 4, 0.1
B = 0.5  # z_t+1 = z_t + B a_t


def quadratic(goal: torch.Tensor):
    """||z_H - goal||^2 + PENALTY ||a||^2 from z_0 = 0: optimum a_t = B H goal / (B^2 H^2 +
    PENALTY) at every step (unique, by symmetry and convexity)."""

    def cost(actions: torch.Tensor) -> torch.Tensor:
        end = B * actions.sum(1)
        return (end - goal).pow(2).sum(-1) + PENALTY * actions.pow(2).sum((1, 2))

    return cost


def problem(cost, seed: int = 0) -> PlanningProblem:
    low, high = -torch.ones(2), torch.ones(2)
    return PlanningProblem(cost, low, high, torch.Generator().manual_seed(seed))


def optimum(goal: torch.Tensor) -> torch.Tensor:
    return (B * H * goal / (B**2 * H**2 + PENALTY)).expand(H, 2)


@pytest.mark.parametrize(
    "planner",
    [
        CEM(CEMParams(horizon=H, samples=400, iterations=12, elites=40, min_std=0.0)),
        MPPI(MPPIParams(horizon=H, samples=400, iterations=30, noise=0.1, temperature=0.05)),
        GradientPlanner(GradientParams(horizon=H, samples=4, iterations=200, lr=0.05)),
    ],
    ids=["cem", "mppi", "gradient"],
)
def test_the_planner_finds_the_optimum_of_a_known_quadratic(planner):
    goal = torch.tensor([1.0, -0.6])
    plan = planner.plan(problem(quadratic(goal)))
    assert plan.shape == (H, 2)
    torch.testing.assert_close(plan, optimum(goal), atol=0.05, rtol=0)


def test_cem_respects_the_bounds_when_the_optimum_lies_outside():
    far = quadratic(torch.tensor([9.0, -9.0]))
    plan = CEM(CEMParams(horizon=H, samples=200, iterations=20, min_std=0.0)).plan(problem(far))
    assert bool((plan.abs() <= 1).all())
    torch.testing.assert_close(plan, torch.tensor([1.0, -1.0]).expand(H, 2), atol=0.02, rtol=0)


def test_a_warm_start_is_kept_when_it_is_already_optimal():
    goal = torch.tensor([0.4, 0.2])
    best = optimum(goal)
    plan = CEM(CEMParams(horizon=H, samples=50, iterations=1)).plan(problem(quadratic(goal)), best)
    assert float(quadratic(goal)(plan[None])) <= float(quadratic(goal)(best[None])) + 1e-9
    assert torch.equal(shifted(best), best)  # constant plans shift into themselves


@pytest.mark.parametrize("kind", ["cem", "mppi"])
def test_a_warm_start_takes_warm_iterations_and_a_cold_one_iterations(kind):
    calls: list[int] = []
    goal = torch.tensor([0.4, 0.2])

    def counted(actions: torch.Tensor) -> torch.Tensor:
        calls.append(len(actions))
        return quadratic(goal)(actions)

    if kind == "cem":
        planner = CEM(CEMParams(horizon=H, samples=20, iterations=7, warm_iterations=2))
    else:
        planner = MPPI(MPPIParams(horizon=H, samples=20, iterations=7, warm_iterations=2))
    cold = planner.plan(problem(counted))
    batches = sum(n == 20 for n in calls)
    calls.clear()
    planner.plan(problem(counted), cold)
    assert (batches, sum(n == 20 for n in calls)) == (7, 2)


class LinearActions(nn.Module):
    """z_t+1 = z_t + B a_t: an action-conditioned predictor the planner must invert."""

    action_dim = 2

    def forward(self, z: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        return z + B * actions


def test_cem_reaches_a_goal_latent_through_a_world_model():
    encoder = nn.Flatten()  # windows [B, 1, 2] -> latents [B, 2]: the position itself
    model = JEPA(encoder, LinearActions(), "online", history=1).eval()
    cost = LatentGoalCost(model, torch.tensor([0.9, -0.7]), torch.device("cpu"))
    cost.start_from(torch.tensor([[[-0.3, 0.2]]]))
    plan = CEM(CEMParams(horizon=6, samples=300, iterations=8)).plan(problem(cost))
    end = torch.tensor([-0.3, 0.2]) + B * plan.sum(0)
    torch.testing.assert_close(end, torch.tensor([0.9, -0.7]), atol=0.03, rtol=0)


def test_the_gradient_planner_stays_in_bounds_and_reaches_a_goal_through_a_world_model():
    encoder = nn.Flatten()
    model = JEPA(encoder, LinearActions(), "online", history=1).eval()
    cost = LatentGoalCost(model, torch.tensor([0.9, -0.7]), torch.device("cpu"))
    cost.start_from(torch.tensor([[[-0.3, 0.2]]]))
    params = GradientParams(horizon=6, samples=8, iterations=100, knots=3)
    plan = GradientPlanner(params).plan(problem(cost))
    assert plan.shape == (6, 2) and bool((plan.abs() <= 1).all())
    end = torch.tensor([-0.3, 0.2]) + B * plan.sum(0)
    torch.testing.assert_close(end, torch.tensor([0.9, -0.7]), atol=0.03, rtol=0)
    # the world model's weights get no gradient: only the actions are descended
    assert all(p.grad is None for p in model.parameters())


def test_the_gradient_planner_refuses_a_cost_without_gradients():
    def numpy_cost(actions: torch.Tensor) -> torch.Tensor:
        return torch.as_tensor(actions.detach().numpy().sum((1, 2)))

    with pytest.raises(PluginError, match="plan.planner.name=cem or mppi"):
        GradientPlanner(GradientParams(horizon=H)).plan(problem(numpy_cost))


def test_knots_interpolate_and_project_back():
    knots = Knots(horizon=10, knots=3)
    points = torch.tensor([[0.0, 1.0], [1.0, 0.0], [0.5, 0.5]])
    actions = knots.expand(points)
    assert actions.shape == (10, 2)
    torch.testing.assert_close(actions[0], points[0])
    torch.testing.assert_close(actions[-1], points[-1])
    torch.testing.assert_close(knots.project(actions), points, atol=1e-5, rtol=0)
    assert Knots(horizon=5, knots=0).count == 5


def test_the_observation_cost_scores_decoded_predictions_with_the_declared_weights():
    """Latents = 2 x position, decoded back by halving: the decoded cost of a plan is its end
    position's weighted squared distance to the goal observation, whatever the latent scale."""
    import numpy as np

    from jepa_framework.planning.costs import ObservationGoalCost

    class Doubling(nn.Module):
        def forward(self, windows: torch.Tensor) -> torch.Tensor:
            return 2 * windows.flatten(1)

    model = JEPA(Doubling(), LinearActions(), "online", history=1).eval()
    weights = np.array([1.0, 0.1], np.float32)  # the second value counts a tenth
    goal = torch.tensor([0.9, -0.7])
    cost = ObservationGoalCost(model, HalfDecoder(), goal, weights, torch.device("cpu"))
    cost.start_from(torch.tensor([[[-0.3, 0.2]]]))
    actions = torch.tensor([[[1.0, 1.0]], [[0.0, -1.0]]])  # two one-step plans
    # latent 2 p + B a, decoded p + B a / 2
    end = torch.tensor([-0.3, 0.2]) + B / 2 * actions[:, 0]
    expected = ((end - goal) * torch.from_numpy(weights)).pow(2).sum(-1)
    torch.testing.assert_close(cost(actions), expected)
    plan = CEM(CEMParams(horizon=6, samples=300, iterations=8)).plan(problem(cost))
    reached = torch.tensor([-0.3, 0.2]) + B / 2 * plan.sum(0)
    assert abs(reached[0] - 0.9) < 0.05  # the weighted-down value matters less


class HalfDecoder(nn.Module):
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z / 2
