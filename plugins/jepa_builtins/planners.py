"""Built-in planners: ``cem`` (the cross-entropy method) and ``mppi`` (model-predictive path
integral control), sampling-based, every candidate of an iteration rolled out in one batch, and
``gradient``: gradient descent on the action sequences themselves through the differentiable
world model, from a batch of restarts.

Both keep a Gaussian over action sequences [horizon, A], centred on the warm start (the last
plan shifted one step) or the middle of the bounds, clip every sample to the bounds and score
the batch with the problem's cost. CEM refits the Gaussian to the ``elites`` best samples; MPPI
moves its mean to the exponentially cost-weighted average of all samples. CEM returns its final
mean or the best sequence it has seen, whichever costs less, so more iterations never make its
plan worse. From a warm start both may take fewer iterations (``warm_iterations``), which cuts
the planning time per step under a receding horizon but can cost success (on
``two_rooms_image`` 3 instead of 10 lost episodes, so no shipped recipe uses it). The gradient
planner takes Adam steps on every restart's control points, projected back into the bounds
after each step, and returns the best sequence it has seen; it needs a cost with gradients (the
world model's), not the simulator's.
"""

from __future__ import annotations

import attrs
import torch

from jepa_framework import hookimpl
from jepa_framework.core.errors import PluginError
from jepa_framework.core.validators import between, count, positive
from jepa_framework.planning.problem import PlanningProblem


@attrs.frozen
class SamplingParams:
    """What every sampling planner shares: how far ahead, how the sequence is parametrised,
    how many candidates a batch holds."""

    # actions planned ahead (the receding horizon replans every step)
    horizon: int = attrs.field(default=30, validator=count(1, 10_000))
    # control points the sequence is interpolated between (0: every step is free); few knots
    # make a long detour (through a door) a low-dimensional search
    knots: int = attrs.field(default=0, validator=count(0, 10_000))
    # candidate action sequences per iteration, rolled out in one batch
    samples: int = attrs.field(default=300, validator=count(2, 1_000_000))


@attrs.frozen
class CEMParams(SamplingParams):
    """Sampling budget and Gaussian of the cross-entropy method."""

    # refits of the Gaussian per planning step
    iterations: int = attrs.field(default=6, validator=count(1, 1000))
    # refits when the plan starts from the previous one (receding horizon; 0: iterations)
    warm_iterations: int = attrs.field(default=0, validator=count(0, 1000))
    # best samples the Gaussian is refitted to
    elites: int = attrs.field(default=30, validator=count(1, 1_000_000))
    # initial standard deviation, as a fraction of half the action range
    init_std: float = attrs.field(default=1.0, validator=positive(100.0))
    # standard deviation never shrinks below this fraction of half the range
    min_std: float = attrs.field(default=0.05, validator=between(0.0, 100.0))
    # weight of the previous Gaussian in each refit (0: the elites alone)
    momentum: float = attrs.field(default=0.1, validator=between(0.0, 0.999))


@attrs.frozen
class MPPIParams(SamplingParams):
    """Sampling budget, noise and temperature of MPPI."""

    # weighted updates of the mean per planning step
    iterations: int = attrs.field(default=6, validator=count(1, 1000))
    # updates when the plan starts from the previous one (receding horizon; 0: iterations)
    warm_iterations: int = attrs.field(default=0, validator=count(0, 1000))
    # standard deviation of the noise, as a fraction of half the action range
    noise: float = attrs.field(default=0.5, validator=positive(100.0))
    # temperature of the weights, in standard deviations of the batch's costs (low: greedy)
    temperature: float = attrs.field(default=0.1, validator=positive(1e6))


@attrs.frozen
class GradientParams:
    """Restarts, steps and step size of gradient descent on the action sequence."""

    # actions planned ahead (the receding horizon replans every step)
    horizon: int = attrs.field(default=30, validator=count(1, 10_000))
    # control points the sequence is interpolated between (0: every step is free)
    knots: int = attrs.field(default=0, validator=count(0, 10_000))
    # restarts descended together in one batch (the first from the warm start itself)
    samples: int = attrs.field(default=16, validator=count(1, 1_000_000))
    # Adam steps per planning step
    iterations: int = attrs.field(default=30, validator=count(1, 100_000))
    # Adam's step size, as a fraction of half the action range
    lr: float = attrs.field(default=0.1, validator=positive(100.0))
    # spread of the restarts around the warm start, as a fraction of half the action range
    init_std: float = attrs.field(default=0.5, validator=between(0.0, 100.0))


class Knots:
    """Action sequences [horizon, A] as linear interpolation between ``knots`` control points
    [K, A] (``knots`` 0 or >= horizon: every step is its own control point)."""

    def __init__(self, horizon: int, knots: int) -> None:
        self.horizon = horizon
        k = horizon if knots <= 0 or knots >= horizon else max(2, knots)
        if k == horizon:
            self.basis = torch.eye(horizon)
        else:  # hat functions: step t lies between two knots
            where = torch.linspace(0, k - 1, horizon)
            left = where.floor().clamp(max=k - 2).long()
            frac = where - left
            self.basis = torch.zeros(horizon, k)
            self.basis[torch.arange(horizon), left] = 1 - frac
            self.basis[torch.arange(horizon), left + 1] = frac
        self.pinv = torch.linalg.pinv(self.basis)

    @property
    def count(self) -> int:
        return self.basis.shape[1]

    def expand(self, points: torch.Tensor) -> torch.Tensor:
        """Control points [..., K, A] -> actions [..., horizon, A]."""
        return self.basis.to(points.device) @ points

    def project(self, actions: torch.Tensor) -> torch.Tensor:
        """Actions [horizon, A] -> the control points that interpolate them best [K, A]."""
        return self.pinv.to(actions.device) @ actions


def _start(problem: PlanningProblem, knots: Knots, init: torch.Tensor | None) -> torch.Tensor:
    """The initial mean over control points [K, A]: the warm start, or the bounds' middle."""
    if init is not None:
        return problem.clip(knots.project(init.to(problem.device).float()))
    middle = (problem.low + problem.high) / 2
    return middle.expand(knots.count, -1).clone()


def _iterations(params: CEMParams | MPPIParams, init: torch.Tensor | None) -> int:
    """How many iterations this plan gets: ``warm_iterations`` from a warm start, where set."""
    return (
        params.warm_iterations if init is not None and params.warm_iterations else params.iterations
    )


def _noise(problem: PlanningProblem, samples: int, points: int) -> torch.Tensor:
    shape = (samples, points, problem.action_dim)
    noise = torch.randn(shape, generator=problem.generator, device="cpu")
    return noise.to(problem.device)


class CEM:
    """The cross-entropy method over action sequences."""

    def __init__(self, params: CEMParams) -> None:
        self.params = params
        self.horizon = params.horizon
        self.knots = Knots(params.horizon, params.knots)

    @torch.no_grad()
    def plan(self, problem: PlanningProblem, init: torch.Tensor | None = None) -> torch.Tensor:
        p, knots = self.params, self.knots
        half = (problem.high - problem.low) / 2
        mean = _start(problem, knots, init)
        std = (half * p.init_std).expand_as(mean).clone()
        floor = half * p.min_std
        best, best_cost = knots.expand(mean), float("inf")
        elites = min(p.elites, p.samples)
        for _ in range(_iterations(p, init)):
            points = problem.clip(mean + std * _noise(problem, p.samples, knots.count))
            points[0] = mean  # the current mean competes too
            samples = problem.clip(knots.expand(points))
            costs = problem.cost(samples)
            order = torch.argsort(costs)[:elites]
            if float(costs[order[0]]) < best_cost:
                best, best_cost = samples[order[0]].clone(), float(costs[order[0]])
            chosen = points[order]
            mean = p.momentum * mean + (1 - p.momentum) * chosen.mean(0)
            spread = chosen.std(0) if elites > 1 else torch.zeros_like(std)
            std = torch.maximum(p.momentum * std + (1 - p.momentum) * spread, floor)
        final = problem.clip(knots.expand(mean))  # the elites' average: the noise averaged out
        return final if float(problem.cost(final[None])[0]) <= best_cost else best


class MPPI:
    """Model-predictive path integral control: a cost-weighted average of noisy samples."""

    def __init__(self, params: MPPIParams) -> None:
        self.params = params
        self.horizon = params.horizon
        self.knots = Knots(params.horizon, params.knots)

    @torch.no_grad()
    def plan(self, problem: PlanningProblem, init: torch.Tensor | None = None) -> torch.Tensor:
        p, knots = self.params, self.knots
        half = (problem.high - problem.low) / 2
        mean = _start(problem, knots, init)
        for _ in range(_iterations(p, init)):
            noise = half * p.noise * _noise(problem, p.samples, knots.count)
            points = problem.clip(mean + noise)
            points[0] = mean
            costs = problem.cost(problem.clip(knots.expand(points)))
            scale = p.temperature * (costs.std() + 1e-8)
            weights = torch.softmax(-(costs - costs.min()) / scale, dim=0)
            mean = problem.clip((weights[:, None, None] * points).sum(0))
        return problem.clip(knots.expand(mean))


class GradientPlanner:
    """Gradient descent (Adam) on action sequences through a differentiable cost."""

    #: plans only with a cost that has gradients (the world model's, not the simulator's)
    needs_gradient = True

    def __init__(self, params: GradientParams) -> None:
        self.params = params
        self.horizon = params.horizon
        self.knots = Knots(params.horizon, params.knots)

    def plan(self, problem: PlanningProblem, init: torch.Tensor | None = None) -> torch.Tensor:
        p, knots = self.params, self.knots
        half = (problem.high - problem.low) / 2
        mean = _start(problem, knots, init)
        with torch.no_grad():
            points = problem.clip(
                mean + half * p.init_std * _noise(problem, p.samples, knots.count)
            )
            points[0] = mean
        points.requires_grad_(True)
        optimizer = torch.optim.Adam([points], lr=float(half.mean()) * p.lr)
        best, best_cost = knots.expand(mean), float("inf")
        for step in range(p.iterations + 1):  # the last pass only scores the final step
            with torch.enable_grad():
                costs = problem.cost(problem.clip(knots.expand(points)))
                if not costs.requires_grad:
                    raise PluginError(
                        "planner 'gradient' (plan.planner.name) descends the gradient of the "
                        "cost, and this cost has none (the true simulator's, or a model "
                        "without gradients); plan with plan.planner.name=cem or mppi instead."
                    )
                (grad,) = torch.autograd.grad(costs.sum(), points)  # the actions' alone
            with torch.no_grad():
                i = int(torch.argmin(costs))
                if float(costs[i]) < best_cost:
                    best = problem.clip(knots.expand(points[i])).detach().clone()
                    best_cost = float(costs[i])
                if step == p.iterations:
                    break
                points.grad = grad
                optimizer.step()
                points.copy_(problem.clip(points))
        return best


def build_cem(params: CEMParams) -> CEM:
    """Cross-entropy method: sample, keep the elites, refit a Gaussian, repeat."""
    return CEM(params)


def build_mppi(params: MPPIParams) -> MPPI:
    """MPPI: move the mean to the exponentially cost-weighted average of noisy samples."""
    return MPPI(params)


def build_gradient(params: GradientParams) -> GradientPlanner:
    """Gradient descent on the action sequence through the world model, from restarts."""
    return GradientPlanner(params)


@hookimpl
def register_planners(register) -> None:
    register("cem", build_cem, params=CEMParams)
    register("mppi", build_mppi, params=MPPIParams)
    register("gradient", build_gradient, params=GradientParams)
