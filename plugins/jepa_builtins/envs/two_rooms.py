"""``two_rooms``: a point agent in a square arena split by a wall with one door.

The arena is ``[-1, 1]^2``; a vertical wall of ``wall_width`` stands at ``x = 0`` with a door of
``door_width`` centred at ``y = door_center``. An action in ``[-1, 1]^2`` moves the agent by
``max_step`` times it; a move that would enter the wall stops the agent where it meets the wall,
and the arena's edges clip it. The state is the position, observed as coordinates. The same
dynamics run vectorised in :meth:`TwoRooms.simulate`, so a planner can use the true simulator as
its model (the ceiling a learned world model is compared with). A planning task puts the start
in one room and the goal in the other, so reaching it means finding the door, as in PLDM's and
eb_jepa's Two Rooms.
"""

from __future__ import annotations

from typing import Any

import attrs
import gymnasium
import numpy as np
from attrs.validators import in_
from gymnasium import spaces

from jepa_framework.core.validators import between, count, positive

#: how far inside its room a task's start and goal keep from the walls and edges
TASK_MARGIN = 0.15
OBSERVATIONS = ("coordinates",)
#: each pixel of a frame averages SUPERSAMPLE x SUPERSAMPLE drawn ones (anti-aliasing)
SUPERSAMPLE = 8


@attrs.frozen
class TwoRoomsParams:
    """Geometry and dynamics of the arena (units: the arena is [-1, 1]^2)."""

    # displacement of a full action (|a| = 1 per axis)
    max_step: float = attrs.field(default=0.1, validator=positive(1.0))
    # thickness of the wall between the rooms
    wall_width: float = attrs.field(default=0.1, validator=between(0.0, 0.5))
    # opening of the door in the wall
    door_width: float = attrs.field(default=0.4, validator=positive(2.0))
    # height of the door's centre
    door_center: float = attrs.field(default=0.0, validator=between(-0.8, 0.8))
    # a planning episode succeeds when it ends this close to the goal
    success_radius: float = attrs.field(default=0.1, validator=positive(2.0))
    # what an observation is: coordinates (x, y) of the agent
    observation: str = attrs.field(default="coordinates", validator=in_(OBSERVATIONS))
    # pixels per side of the rendered top-down frame
    image_size: int = attrs.field(default=64, validator=count(16, 64))


class TwoRooms(gymnasium.Env):
    """The arena as a ``gymnasium.Env`` (reward-free: the reward is always 0)."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}
    state_names = ("x", "y")

    def __init__(self, params: TwoRoomsParams | None = None) -> None:
        self.params = params or TwoRoomsParams()
        self.render_mode = "rgb_array"
        self.action_space = spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        self.observation_space = spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        self.success_radius = self.params.success_radius
        self._position = np.zeros(2)
        self._goal: np.ndarray | None = None
        half, door = self.params.wall_width / 2, self.params.door_width / 2
        low, high = self.params.door_center - door, self.params.door_center + door
        #: the wall's two blocks as (x0, y0, x1, y1), above and below the door; they reach past
        #: the arena's edges, so no move along an edge slips round the wall's end
        self.walls = np.array([[-half, high, half, 2.0], [-half, -2.0, half, low]])

    # --- gymnasium -------------------------------------------------------------------------

    @property
    def state(self) -> np.ndarray:
        return self._position.astype(np.float32)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """A uniform free position, or ``options["state"]``; ``options["goal"]`` is drawn."""
        super().reset(seed=seed)
        options = options or {}
        if "state" in options:
            self._position = self._free(options["state"], "state")
        else:
            self._position = self._sample_free(self.np_random)
        self._goal = self._free(options["goal"], "goal") if "goal" in options else None
        return self._observe(), {"state": self.state}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        moves = np.asarray(action, dtype=np.float64).reshape(1, 1, 2)
        self._position = self._rollout(self._position[None], moves)[0, 0]
        return self._observe(), 0.0, False, False, {"state": self.state}

    def render(self) -> np.ndarray:
        """A top-down uint8 frame [S, S, 3]: walls grey, the goal green, the agent red.

        Drawn at ``SUPERSAMPLE`` times the size and averaged down (anti-aliased, as a camera
        integrates light over each pixel), so the agent's position within a pixel shows in
        the intensities. Drawn straight at 32 px, every position within about a pixel (0.065)
        gave the same frame, and a planner on those frames wandered within it around the goal,
        ending outside the 0.1 success radius.
        """
        from PIL import Image, ImageDraw

        size = self.params.image_size
        big = size * SUPERSAMPLE
        image = Image.new("RGB", (big, big), (255, 255, 255))
        draw = ImageDraw.Draw(image)

        def px(x: float, y: float) -> tuple[float, float]:
            return ((x + 1) / 2 * big, (1 - y) / 2 * big)

        for x0, y0, x1, y1 in self.walls:
            (a, b), (c, d) = px(x0, y1), px(x1, y0)
            draw.rectangle([a, b, c, d], fill=(90, 90, 90))
        dot = max(1.5, size / 40) * SUPERSAMPLE
        for point, colour in ((self._goal, (0, 160, 0)), (self._position, (220, 0, 0))):
            if point is not None:
                u, v = px(*point)
                draw.ellipse([u - dot, v - dot, u + dot, v + dot], fill=colour)
        return np.asarray(image.resize((size, size), Image.Resampling.BOX))

    # --- planning tasks ----------------------------------------------------------------------

    def sample_task(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """A start in one room and a goal in the other, both clear of walls and edges."""
        side = rng.choice([-1.0, 1.0])
        lo, hi = self.params.wall_width / 2 + TASK_MARGIN, 1.0 - TASK_MARGIN
        start = np.array([side * rng.uniform(lo, hi), rng.uniform(-hi, hi)])
        goal = np.array([-side * rng.uniform(lo, hi), rng.uniform(-hi, hi)])
        return start.astype(np.float32), goal.astype(np.float32)

    def distance(self, state: Any, goal: Any) -> float:
        return float(np.linalg.norm(np.asarray(state, float) - np.asarray(goal, float)))

    def simulate(self, states: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """Positions [S, 2] driven by actions [S, H, 2] -> positions after each step [S, H, 2]."""
        return self._rollout(states, actions).astype(np.float32)

    def _rollout(self, states: np.ndarray, actions: np.ndarray) -> np.ndarray:
        p = np.asarray(states, dtype=np.float64).reshape(-1, 2).copy()
        moves = np.clip(np.asarray(actions, dtype=np.float64), -1.0, 1.0) * self.params.max_step
        out = np.empty_like(moves)
        for k in range(moves.shape[1]):
            d = moves[:, k]
            t = np.min([_entry_time(p, d, wall) for wall in self.walls], axis=0)
            p = np.clip(p + t[:, None] * d, -1.0, 1.0)
            out[:, k] = p
        return out

    # --- geometry ----------------------------------------------------------------------------

    def _blocked(self, point: np.ndarray) -> bool:
        x, y = point
        return bool(
            any(x0 <= x <= x1 and y0 <= y <= y1 for x0, y0, x1, y1 in self.walls)
            or np.any(np.abs(point) > 1.0)
        )

    def _free(self, value: Any, what: str) -> np.ndarray:
        point = np.asarray(value, dtype=np.float64).reshape(-1)
        if point.shape != (2,) or not np.all(np.isfinite(point)) or self._blocked(point):
            raise ValueError(
                f"two_rooms: {what} {value!r} is not a free position (x, y) in [-1, 1]^2 "
                "outside the wall"
            )
        return point

    def _sample_free(self, rng: np.random.Generator) -> np.ndarray:
        while True:
            point = rng.uniform(-1.0, 1.0, 2)
            if not self._blocked(point):
                return point

    def _observe(self) -> np.ndarray:
        return self._position.astype(np.float32)


#: how far short of a wall a blocked move stops (well above float32 resolution, so a stored
#: position never lands inside the wall)
STANDOFF = 1e-6


def _entry_time(p: np.ndarray, d: np.ndarray, wall: np.ndarray) -> np.ndarray:
    """Fraction [S] of each move p -> p + d made before entering the open box ``wall`` (1 where
    the move never enters it): the slab method on the box's interior only, so an agent resting
    on the wall may slide along it or leave it. A blocked move stops :data:`STANDOFF` short."""
    t_in, t_out = np.zeros(len(p)), np.ones(len(p))
    for axis in (0, 1):
        lo, hi = wall[axis], wall[axis + 2]
        moving = np.abs(d[:, axis]) > 1e-12
        with np.errstate(divide="ignore", invalid="ignore"):
            a = (lo - p[:, axis]) / d[:, axis]
            b = (hi - p[:, axis]) / d[:, axis]
        inside = (p[:, axis] > lo) & (p[:, axis] < hi)
        near = np.where(moving, np.minimum(a, b), np.where(inside, -np.inf, np.inf))
        far = np.where(moving, np.maximum(a, b), np.where(inside, np.inf, -np.inf))
        t_in, t_out = np.maximum(t_in, near), np.minimum(t_out, far)
    hits = (t_in < t_out) & (t_in < 1.0)
    length = np.maximum(np.linalg.norm(d, axis=1), 1e-12)
    return np.where(hits, np.maximum(t_in - STANDOFF / length, 0.0), 1.0)
