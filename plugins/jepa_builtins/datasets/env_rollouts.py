"""``env_rollouts``: reward-free trajectories collected from any registered environment.

An exploration policy drives the environment named by ``env`` (``{name: two_rooms}``,
``{name: gymnasium, id: Pendulum-v1}``): ``uniform`` draws each action uniformly within the
bounds; ``correlated`` follows an AR(1) process (coefficient ``correlation``), so the agent keeps
a heading for several steps and wanders further than a random walk does (it reaches the door of
``two_rooms`` far more often). Observations, true states and actions go through the dataset
cache like any dataset's, each trajectory from its own episode reset with a seed drawn from the
chunk's generator, so the data of a seed is the same everywhere.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

import attrs
import numpy as np
from attrs.validators import in_

from jepa_builtins.envs.two_rooms import TwoRoomsParams
from jepa_framework.config.recipe import EnvironmentSpec
from jepa_framework.core.errors import PluginError
from jepa_framework.core.provenance import code_identity
from jepa_framework.core.validators import between
from jepa_framework.datasets.actions import ActionSpace
from jepa_framework.datasets.base import DatasetParams, Trajectories, VectorDataset
from jepa_framework.datasets.environments import action_space_of, make_environment, state_of

POLICIES = ("uniform", "correlated")


@attrs.frozen
class EnvRolloutsParams(DatasetParams):
    """Which environment to collect from, and how the exploring agent acts."""

    # the environment and its options (`jepa list environments`)
    env: EnvironmentSpec = attrs.field(
        factory=lambda: EnvironmentSpec(name="two_rooms", params=TwoRoomsParams())
    )
    # exploration policy: uniform (independent actions) | correlated (AR(1) noise)
    policy: str = attrs.field(default="correlated", validator=in_(POLICIES))
    # AR(1) coefficient of the correlated policy (0: independent, near 1: long straight runs)
    correlation: float = attrs.field(default=0.8, validator=between(0.0, 0.999))


class EnvironmentCollection:
    """What every dataset collected from an environment shares: the environment, its action
    space and state names, the exploration policy, and the collection loop. A subclass says
    what an observation is (:meth:`observed`: the environment as the agent sees it)."""

    params: EnvRolloutsParams
    state_names: tuple[str, ...]

    def observed(self, env: Any) -> Any:
        """The environment as the dataset observes it (the default: as it is)."""
        return env

    def _setup(self, params: EnvRolloutsParams) -> None:
        self._env = self.observed(make_environment(params.env, "data.dataset.env"))
        names = tuple(getattr(self._env, "state_names", ()))
        if not names:  # an environment that names nothing: s0, s1, ... of its state
            self._env.reset(seed=0)
            names = tuple(f"s{i}" for i in range(len(state_of(self._env))))
        self.state_names = names
        self._actions = action_space_of(self._env)

    @property
    def action_space(self) -> ActionSpace:
        return self._actions

    def environment(self) -> Any:
        """A fresh environment like the one the data was collected from, observed alike."""
        return self.observed(make_environment(self.params.env, "data.dataset.env"))

    def cache_key(self) -> str:
        """The dataset's key, plus the code of the environment (an edited env is new data)."""
        env_code = code_identity(type(self._env.unwrapped))
        payload = json.dumps([super().cache_key(), env_code]).encode()  # type: ignore[misc]
        return hashlib.sha256(payload).hexdigest()[:20]

    def simulate(self, n: int, steps: int, rng: np.random.Generator) -> Trajectories:
        """``n`` episodes of ``steps`` frames; row t of actions leads from frame t to t + 1."""
        env, width = self._env, self._actions.dim
        actions = self._policy(n, steps, rng)
        actions[:, -1] = 0.0  # the last frame has no next one: padding
        space = env.observation_space
        dtype = np.uint8 if space.dtype == np.uint8 else np.float32  # frames stay bytes
        observations = np.empty((n, steps, *tuple(space.shape)), dtype)
        states = np.empty((n, steps, len(self.state_names)), np.float32)
        seeds = rng.integers(0, 2**31 - 1, n)
        for i in range(n):
            obs, _ = env.reset(seed=int(seeds[i]))
            for t in range(steps):
                observations[i, t] = obs
                states[i, t] = state_of(env)
                if t == steps - 1:
                    break
                obs, _, terminated, truncated, _ = env.step(actions[i, t].reshape(width))
                if terminated or truncated:
                    raise PluginError(
                        f"environment '{self.params.env.name}' (data.dataset.env) ended its "
                        f"episode after {t + 1} steps, before the {steps} frames of a trajectory; "
                        "lower data.dataset.sequence_length or raise the environment's episode "
                        "limit (env.max_episode_steps for gymnasium)"
                    )
        return Trajectories(observations, states, actions.astype(np.float32))

    def _policy(self, n: int, steps: int, rng: np.random.Generator) -> np.ndarray:
        """Exploration actions [n, steps, A] within the bounds."""
        low = np.asarray(self._actions.low, dtype=np.float64)
        high = np.asarray(self._actions.high, dtype=np.float64)
        if self.params.policy == "uniform":
            unit = rng.uniform(-1.0, 1.0, (n, steps, len(low)))
        else:  # an AR(1) process of unit variance, squashed into [-1, 1]
            rho = self.params.correlation
            noise = rng.standard_normal((n, steps, len(low)))
            x = np.empty_like(noise)
            x[:, 0] = noise[:, 0]
            for t in range(1, steps):
                x[:, t] = rho * x[:, t - 1] + math.sqrt(1 - rho**2) * noise[:, t]
            unit = np.clip(x, -1.0, 1.0)
        return (low + (unit + 1.0) / 2.0 * (high - low)).astype(np.float32)


class EnvRolloutsDataset(EnvironmentCollection, VectorDataset):
    """Trajectories of an exploring agent: coordinates, true states and the actions taken."""

    def __init__(self, params: EnvRolloutsParams, cache_dir: Path | None = None) -> None:
        self._setup(params)
        shape = tuple(self._env.observation_space.shape or ())
        if len(shape) != 1:
            raise PluginError(
                f"env_rollouts collects vector observations, and environment "
                f"'{params.env.name}' (data.dataset.env) observes arrays of shape {list(shape)}; "
                "collect its rendered frames with the env_frames dataset instead"
            )
        VectorDataset.__init__(self, params, cache_dir)
