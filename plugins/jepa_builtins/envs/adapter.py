"""``gymnasium``: any environment of gymnasium's registry by id (``{name: gymnasium, id:
Pendulum-v1}``), rendering ``rgb_array`` frames and exposing its true state.

The true state is the unwrapped environment's ``state`` where it keeps one (the classic-control
tasks do: Pendulum's angle and velocity), else the latest observation. ``reset(options={"state":
s})`` puts an environment with a ``state`` there. The id is checked when the recipe is read, so
a misspelt one is a recipe problem naming ``env.id``, before any work.
"""

from __future__ import annotations

import difflib
from typing import Any

import attrs
import gymnasium
import numpy as np

from jepa_framework.core.validators import count


def _registered(_instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"must be a gymnasium environment id such as Pendulum-v1, got {value!r}")
    try:
        gymnasium.spec(value)
    except gymnasium.error.Error:
        known = sorted(gymnasium.registry)
        close = difflib.get_close_matches(value, known, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ValueError(
            f'unknown gymnasium environment id {value!r}{hint}; `python -c "import gymnasium; '
            f'gymnasium.pprint_registry()"` lists the registered ids'
        ) from None


@attrs.frozen
class GymnasiumParams:
    """Which registered gymnasium environment to build."""

    # a registered gymnasium id, e.g. Pendulum-v1
    id: str = attrs.field(default="Pendulum-v1", validator=_registered)
    # steps before gymnasium truncates an episode; 0: the id's own limit
    max_episode_steps: int = attrs.field(default=0, validator=count(0, 1_000_000))


class GymnasiumAdapter(gymnasium.Wrapper):
    """A registered environment with ``state``, ``state_names`` and settable starts."""

    def __init__(self, env: gymnasium.Env) -> None:
        super().__init__(env)
        self._last: np.ndarray | None = None
        self.reset(seed=0)  # some environments (Pendulum) keep a state only once reset
        self.state_names = tuple(f"s{i}" for i in range(len(self.state)))

    def _has_state(self) -> bool:
        return getattr(self.env.unwrapped, "state", None) is not None

    def _true_state(self) -> Any:
        return self.env.unwrapped.state

    @property
    def state(self) -> np.ndarray:
        if self._has_state():
            return np.asarray(self._true_state(), dtype=np.float32).reshape(-1)
        if self._last is None:
            raise RuntimeError("the environment was not reset yet, so it has no state")
        return np.asarray(self._last, dtype=np.float32).reshape(-1)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        options = dict(options or {})
        start = options.pop("state", None)
        obs, info = self.env.reset(seed=seed, options=options or None)
        if start is not None:
            if not self._has_state():
                raise ValueError(
                    f"{self.env.spec.id if self.env.spec else 'this environment'} keeps no "
                    "state to set; it cannot start at a given state"
                )
            self.env.unwrapped.state = np.asarray(start, dtype=np.float64).copy()
            obs = self._observation()
        self._last = np.asarray(obs)
        return obs, info

    def step(self, action: Any) -> Any:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._last = np.asarray(obs)
        return obs, reward, terminated, truncated, info

    def _observation(self) -> Any:
        get = getattr(self.env.unwrapped, "_get_obs", None)
        if get is None:
            raise ValueError("this environment cannot observe a state it was set to")
        return get()


def make_gymnasium(params: GymnasiumParams) -> GymnasiumAdapter:
    """A gymnasium environment by id, rendering rgb_array frames."""
    kwargs: dict[str, Any] = {"render_mode": "rgb_array"}
    if params.max_episode_steps:
        kwargs["max_episode_steps"] = params.max_episode_steps
    return GymnasiumAdapter(gymnasium.make(params.id, **kwargs))
