"""``env_frames``: reward-free trajectories of an environment, observed as its rendered frames.

The same exploring agent and collection as ``env_rollouts`` (the same options), but what the
agent sees is ``env.render()``: uint8 frames [S, S, 3] at the environment's own ``image_size``,
stored as bytes and made float [3, S, S] in [0, 1] per batch. The true state and the actions
are stored beside them as in ``env_rollouts``. Planning sees the same frames: the
environment this dataset hands `jepa plan` is observed through :class:`FramesObserved` too,
so the goal is a frame of the agent standing at the goal.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import torch
from gymnasium import spaces

from jepa_builtins.datasets.env_rollouts import EnvironmentCollection, EnvRolloutsParams
from jepa_framework.core.errors import PluginError
from jepa_framework.datasets.base import ImageDataset


class FramesObserved(gymnasium.Wrapper):
    """An environment whose observation is its rendered frame; its state, planning task and
    simulator are the wrapped environment's.

    The goal weights of the wrapped environment's observations do not apply to frames, so
    ``observation_weights`` is None here (every pixel counts alike); ``state_weights`` stay.
    """

    observation_weights = None

    def __init__(self, env: gymnasium.Env) -> None:
        super().__init__(env)
        env.reset(seed=0)
        frame = np.asarray(env.render())
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[-1] != 3:
            raise PluginError(
                f"env_frames observes rendered frames, and {type(env.unwrapped).__name__}'s "
                f"render() returned {frame.dtype} {list(frame.shape)}; it must return uint8 "
                "RGB [S, S, 3] (render_mode='rgb_array')"
            )
        self.observation_space = spaces.Box(0, 255, frame.shape, np.uint8)

    def reset(self, **kwargs: Any) -> Any:
        _, info = self.env.reset(**kwargs)
        return np.array(self.env.render()), info  # a writable copy

    def step(self, action: Any) -> Any:
        _, reward, terminated, truncated, info = self.env.step(action)
        return np.array(self.env.render()), reward, terminated, truncated, info

    def __getattr__(self, name: str) -> Any:
        """The state, task and simulator of the wrapped environment (gymnasium 1.x wrappers
        forward none of them)."""
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.env, name)


class EnvFramesDataset(EnvironmentCollection, ImageDataset):
    """Trajectories of an exploring agent as frames, with true states and the actions taken."""

    params: EnvRolloutsParams

    def __init__(self, params: EnvRolloutsParams, cache_dir: Path | None = None) -> None:
        self._setup(params)
        ImageDataset.__init__(self, params, cache_dir)

    def observed(self, env: Any) -> Any:
        return FramesObserved(env)

    @property
    def obs_shape(self) -> tuple[int, ...]:
        size, _, channels = self._env.observation_space.shape
        return (channels, size, size)

    def to_float(self, stored: torch.Tensor) -> torch.Tensor:
        """Frames uint8 [..., S, S, 3] -> float32 [..., 3, S, S] in [0, 1]."""
        return stored.movedim(-1, -3).float() / 255.0
