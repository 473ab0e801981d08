"""Environments by registry name: a ``gymnasium.Env`` built from a recipe's ``env`` spec.

A dataset that collects trajectories (``env_rollouts``) and the closed-loop planner both build
their environment here, so both get the same checks: a continuous (``Box``) action space, an
``rgb_array`` renderer, and the true state as ``env.state``. What breaks them is a
:class:`~jepa_framework.core.errors.PluginError` naming the environment and its plugin, raised
before any trajectory is collected.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from jepa_framework.core.errors import JepaError, PluginError
from jepa_framework.datasets.actions import ActionSpace

#: the methods and attributes every environment has (gymnasium's, plus ``state``)
REQUIRED = ("reset", "step", "render", "action_space", "observation_space")
#: what closed-loop planning also asks of an environment (docs/how-to/plan.md)
TASK = ("sample_task", "distance", "success_radius")


def make_environment(spec: Any, where: str = "env") -> Any:
    """Build the environment ``spec`` names (an EnvironmentSpec) and check its contract.

    ``where`` is the recipe key the spec came from, named in every error.
    """
    from jepa_framework.plugin.host import host

    component = host().registry("environments").get(spec.name)
    who = f"environment '{spec.name}' (plugin '{component.plugin}', {where}.name)"
    try:
        env = component.factory(spec.params)
    except JepaError:
        raise
    except Exception as exc:  # a plugin's factory may fail in any way
        raise PluginError(
            f"{who} could not be built: {type(exc).__name__}: {exc}. Check its options under "
            f"{where}."
        ) from exc
    check_environment(env, who)
    return env


def check_environment(env: Any, who: str) -> None:
    """The contract of a built environment (see :data:`REQUIRED`)."""
    missing = [name for name in REQUIRED if not hasattr(env, name)]
    if missing:
        raise PluginError(
            f"{who} is not a gymnasium.Env: it lacks {', '.join(missing)}; an environment "
            "factory must return a gymnasium.Env"
        )
    space = env.action_space
    low, high = getattr(space, "low", None), getattr(space, "high", None)
    if low is None or high is None or not np.all(np.isfinite(low)) or not np.all(np.isfinite(high)):
        raise PluginError(
            f"{who} has action space {space}; actions must be continuous and bounded "
            "(a gymnasium.spaces.Box with finite low and high), as planners sample within them"
        )
    if getattr(env, "render_mode", None) != "rgb_array":
        raise PluginError(
            f"{who} renders as {getattr(env, 'render_mode', None)!r}; build it with "
            "render_mode='rgb_array' so its frames can be observed and filmed"
        )
    if not hasattr(env, "state"):
        raise PluginError(
            f"{who} has no `state` attribute: an environment exposes its true state as "
            "env.state (an array), which datasets store as ground truth"
        )


def action_space_of(env: Any) -> ActionSpace:
    """The environment's action bounds as the data layer describes them."""
    return ActionSpace.of_box(env.action_space)


def state_of(env: Any) -> np.ndarray:
    """The true state of ``env`` as a float32 vector."""
    return np.asarray(env.state, dtype=np.float32).reshape(-1)


def missing_task(env: Any) -> list[str]:
    """What of :data:`TASK` the environment lacks (empty: it can be planned in)."""
    return [name for name in TASK if not hasattr(env, name)]
