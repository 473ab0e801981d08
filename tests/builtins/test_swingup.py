"""``pendulum_swingup``: Pendulum-v1's own dynamics, its batched copy, and the held-upright rule."""

from __future__ import annotations

import math

import numpy as np
import pytest
from jepa_builtins.envs.swingup import PendulumSwingup, SwingupParams

from jepa_framework.planning.problem import shifted


def test_the_batched_simulator_follows_gymnasium_step_for_step():
    env = PendulumSwingup()
    start, goal = env.sample_task(np.random.default_rng(0))
    assert abs(abs(start[0]) - math.pi) <= 0.3 and np.array_equal(goal, [0.0, 0.0])
    env.reset(seed=0, options={"state": start})
    torques = np.random.default_rng(1).uniform(-2, 2, (1, 40, 1)).astype(np.float32)
    simulated = env.simulate(env.state[None], torques)[0]
    for t in range(40):
        env.step(torques[0, t])
        np.testing.assert_allclose(simulated[t], env.state, atol=1e-4)
    assert env.render().shape == (64, 64, 3)


def test_success_needs_the_pendulum_upright_over_the_last_seconds():
    env = PendulumSwingup(SwingupParams(upright_degrees=30.0, hold_seconds=2.0))
    held = np.zeros((200, 2))
    held[:150, 0] = math.pi  # down for 7.5 s, then upright for the last 2.5 s
    assert env.succeeded(held, np.zeros(2))
    passing = held.copy()
    passing[-30, 0] = math.radians(40)  # one frame out of the band 1.5 s before the end
    assert not passing[-1, 0] and not env.succeeded(passing, np.zeros(2))
    assert env.distance([math.pi - 0.1, 0.0], [0.0, 0.0]) == pytest.approx(math.pi - 0.1)
    assert env.distance([-math.pi + 0.1, 0.0], [math.pi - 0.1, 0.0]) == pytest.approx(0.2)


def test_a_plan_executed_for_several_steps_warm_starts_from_the_rest():
    import torch

    plan = torch.arange(5.0)[:, None]
    assert shifted(plan, 2).flatten().tolist() == [2.0, 3.0, 4.0, 4.0, 4.0]
    assert shifted(plan).flatten().tolist() == [1.0, 2.0, 3.0, 4.0, 4.0]


def test_the_simulator_cost_counts_speed_at_the_declared_goal_weight():
    import torch

    from jepa_framework.core.errors import PluginError
    from jepa_framework.planning.costs import SimulatorGoalCost

    env = PendulumSwingup(SwingupParams(speed_weight=0.1))
    cost = SimulatorGoalCost(env, np.zeros(2, np.float32), torch.device("cpu"))
    path = env.simulate(np.array([[0.0, 8.0]], np.float32), np.zeros((1, 1, 1), np.float32))
    cost.start_from(np.array([0.0, 8.0], np.float32))
    theta, speed = path[0, 0]
    expected = theta**2 + (0.1 * speed) ** 2  # speed counts a tenth of the angle
    assert cost(torch.zeros(1, 1, 1)).item() == pytest.approx(expected, rel=1e-5)
    env.state_weights = (1.0,)  # one weight for a two-dimensional state
    with pytest.raises(PluginError, match="state_weights"):
        SimulatorGoalCost(env, np.zeros(2, np.float32), torch.device("cpu"))
