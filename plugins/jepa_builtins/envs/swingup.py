"""``pendulum_swingup``: gymnasium's ``Pendulum-v1`` with a planning task, swing up and hold.

The environment is the generic adapter's ``Pendulum-v1`` (torque-limited: ``max_torque`` 2 cannot
lift the pendulum straight up, so it has to pump energy), with what planning needs on top:

- the true state ``(theta, theta_dot)``, ``theta`` wrapped to [-pi, pi) with 0 upright;
- tasks that start hanging down (``theta`` within ``start_spread`` of pi, a small velocity) with
  the upright rest state as the goal;
- ``state_weights`` and ``observation_weights``: the speed counts ``speed_weight`` (0.1) of the
  angle in a planner's goal distance, on the true state and on observations, since the way up
  passes through high speeds;
- success as DeepMind Control's swing-up counts it: upright within ``upright_degrees`` over the
  last ``hold_seconds`` of the episode (:meth:`PendulumSwingup.succeeded`), not merely at its
  end; the distance to the goal is the wrapped angle;
- the same dynamics vectorised in :meth:`PendulumSwingup.simulate` (the true-model ceiling);
- frames drawn with PIL (gymnasium's own renderer needs pygame, which is not a dependency).
"""

from __future__ import annotations

import math
from typing import Any

import attrs
import gymnasium
import numpy as np

from jepa_builtins.envs.adapter import GymnasiumAdapter
from jepa_framework.core.validators import between, count, positive


@attrs.frozen
class SwingupParams:
    """The task on top of Pendulum-v1 (its dynamics are gymnasium's)."""

    # steps before the episode is truncated (gymnasium's 200 at dt 0.05: 10 s)
    max_episode_steps: int = attrs.field(default=200, validator=count(1, 100_000))
    # success: the angle stays within this many degrees of upright ...
    upright_degrees: float = attrs.field(default=30.0, validator=positive(180.0))
    # ... over this many seconds at the end of the episode
    hold_seconds: float = attrs.field(default=2.0, validator=between(0.0, 1000.0))
    # a task starts within this many radians of hanging straight down
    start_spread: float = attrs.field(default=0.3, validator=between(0.0, math.pi))
    # weight of the angular speed against the angle in the goal distance a planner minimises:
    # pumping energy passes through speeds up to 8 rad/s, and at weight 1 hanging still is every
    # planner's cheapest plan, the true simulator's included (benchmarks/bench_swingup_cost.py)
    speed_weight: float = attrs.field(default=0.1, validator=between(0.0, 10.0))
    # pixels per side of a rendered frame
    image_size: int = attrs.field(default=64, validator=count(16, 256))


def wrap(theta: Any) -> np.ndarray:
    """Angles to [-pi, pi)."""
    return (np.asarray(theta, dtype=np.float64) + np.pi) % (2 * np.pi) - np.pi


class PendulumSwingup(GymnasiumAdapter):
    """Pendulum-v1 through the adapter, with a swing-up planning task."""

    state_names = ("theta", "theta_dot")

    def __init__(self, params: SwingupParams | None = None) -> None:
        self.params = params or SwingupParams()
        env = gymnasium.make(
            "Pendulum-v1", render_mode="rgb_array", max_episode_steps=self.params.max_episode_steps
        )
        super().__init__(env)
        self.state_names = PendulumSwingup.state_names
        self.success_radius = math.radians(self.params.upright_degrees)
        self.success_rule = (
            f"within {self.params.upright_degrees:g} degrees of upright over the last "
            f"{self.params.hold_seconds:g} s"
        )
        pendulum = self.env.unwrapped
        self._dt, self._g, self._m, self._l = pendulum.dt, pendulum.g, pendulum.m, pendulum.l
        self._max_speed, self._max_torque = pendulum.max_speed, pendulum.max_torque
        # the goal distance's weights of (theta, theta_dot) and of (cos, sin, theta_dot)
        self.state_weights = (1.0, self.params.speed_weight)
        self.observation_weights = (1.0, 1.0, self.params.speed_weight)

    @property
    def state(self) -> np.ndarray:
        theta, speed = np.asarray(self.env.unwrapped.state, dtype=np.float64)
        return np.array([wrap(theta), speed], dtype=np.float32)

    def render(self) -> np.ndarray:
        """A uint8 frame [S, S, 3]: the rod from the pivot, the bob at its end."""
        from PIL import Image, ImageDraw

        size = self.params.image_size
        image = Image.new("RGB", (size, size), (255, 255, 255))
        draw = ImageDraw.Draw(image)
        theta = float(self.state[0])
        centre, reach = (size - 1) / 2, 0.4 * size
        tip = (centre + reach * math.sin(theta), centre - reach * math.cos(theta))
        draw.line([(centre, centre), tip], fill=(200, 60, 40), width=max(2, size // 16))
        dot = max(1.5, size / 20)
        draw.ellipse([tip[0] - dot, tip[1] - dot, tip[0] + dot, tip[1] + dot], fill=(40, 40, 40))
        return np.asarray(image)

    # --- planning tasks ----------------------------------------------------------------------

    def sample_task(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Hanging down (within ``start_spread``), slowly moving; the goal: upright at rest."""
        spread = self.params.start_spread
        start = np.array([wrap(np.pi + rng.uniform(-spread, spread)), rng.uniform(-0.2, 0.2)])
        return start.astype(np.float32), np.zeros(2, np.float32)

    def distance(self, state: Any, goal: Any) -> float:
        """The angle between the pendulum and the goal's, in radians."""
        return float(abs(wrap(np.asarray(state, float)[0] - np.asarray(goal, float)[0])))

    def succeeded(self, states: np.ndarray, goal: Any) -> bool:
        """Upright within the radius at every step of the last ``hold_seconds``."""
        steps = max(1, round(self.params.hold_seconds / self._dt))
        held = np.asarray(states, float)[-steps:]
        return len(states) > steps and bool(
            all(self.distance(s, goal) < self.success_radius for s in held)
        )

    def simulate(self, states: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """States [S, 2] driven by torques [S, H, 1] -> the states after each step [S, H, 2],
        gymnasium's Pendulum-v1 update vectorised."""
        theta, speed = (np.asarray(states, np.float64)[:, i].copy() for i in (0, 1))
        torques = np.clip(
            np.asarray(actions, np.float64)[..., 0], -self._max_torque, self._max_torque
        )
        out = np.empty((*torques.shape, 2), np.float32)
        g, m, length, dt = self._g, self._m, self._l, self._dt
        for t in range(torques.shape[1]):
            speed = (
                speed
                + (3 * g / (2 * length) * np.sin(theta) + 3.0 / (m * length**2) * torques[:, t])
                * dt
            )
            speed = np.clip(speed, -self._max_speed, self._max_speed)
            theta = theta + speed * dt
            out[:, t, 0], out[:, t, 1] = wrap(theta), speed
        return out
