"""Closed-loop episodes: a policy acts in the real environment toward a goal, step by step.

Every method is scored on the same held-out start/goal pairs (drawn from the environment's
``sample_task`` with the plan seed). An episode runs ``max_steps`` steps; it succeeds when its
final state is within the environment's ``success_radius`` of the goal, or, for an
environment with its own rule (``succeeded(states, goal)``, e.g. a swing-up held upright over
the episode's last seconds), when that rule says so. The seconds a policy
spends choosing each action are measured, so a planner's cost per step is on record beside
its success.
"""

from __future__ import annotations

import time
from typing import Any

import attrs
import numpy as np

from jepa_framework.datasets.environments import state_of
from jepa_framework.planning.policies import Policy


@attrs.frozen
class Task:
    """One held-out episode: where the agent starts and the state it must reach."""

    start: np.ndarray
    goal: np.ndarray


@attrs.frozen
class Episode:
    task: Task
    final_distance: float
    success: bool
    seconds_per_step: float
    states: np.ndarray  # [max_steps + 1, S], the start included


def draw_tasks(env: Any, n: int, seed: int) -> list[Task]:
    """``n`` start/goal pairs from the environment's task distribution, from ``seed``."""
    rng = np.random.default_rng(seed)
    return [Task(*(np.asarray(s, np.float32) for s in env.sample_task(rng))) for _ in range(n)]


def observe(env: Any, state: np.ndarray, seed: int) -> Any:
    """The observation the environment gives at ``state`` (it is left there)."""
    observation, _ = env.reset(seed=seed, options={"state": state})
    return observation


def run_episode(env: Any, policy: Policy, task: Task, max_steps: int, seed: int) -> Episode:
    """Reset at the task's start, let ``policy`` act ``max_steps`` times, score the end."""
    goal_observation = observe(env, task.goal, seed)
    observation = observe(env, task.start, seed)
    policy.reset(goal_observation, task.goal)
    states, thinking = [state_of(env)], 0.0
    for _ in range(max_steps):
        tic = time.perf_counter()
        action = policy.act(observation, state_of(env))
        thinking += time.perf_counter() - tic
        observation, _, terminated, truncated, _ = env.step(action)
        states.append(state_of(env))
        if terminated or truncated:
            break
    distance = float(env.distance(states[-1], task.goal))
    rule = getattr(env, "succeeded", None)
    success = bool(rule(np.stack(states), task.goal)) if callable(rule) else None
    return Episode(
        task,
        distance,
        distance < float(env.success_radius) if success is None else success,
        thinking / max(1, len(states) - 1),
        np.stack(states),
    )


def summarise(episodes: list[Episode]) -> dict[str, Any]:
    """Success rate, final distances and planning time of one method's episodes."""
    distances = np.array([e.final_distance for e in episodes])
    return {
        "success_rate": float(np.mean([e.success for e in episodes])),
        "successes": int(sum(e.success for e in episodes)),
        "final_distance_mean": float(distances.mean()),
        "final_distance_median": float(np.median(distances)),
        "seconds_per_step": float(np.mean([e.seconds_per_step for e in episodes])),
        "episodes": [
            {
                "start": e.task.start.tolist(),
                "goal": e.task.goal.tolist(),
                # where the agent stopped: a miss far from the goal says where it got stuck
                "final_state": e.states[-1].tolist(),
                "final_distance": e.final_distance,
                "success": e.success,
            }
            for e in episodes
        ],
    }
