"""The ``pendulum`` dataset: double pendulum bob positions, chaotic at high energy."""

from __future__ import annotations

import logging
import math
from typing import Any

import attrs
import numpy as np
import torch
from attrs.validators import in_

from jepa_builtins.datasets.double_pendulum import energy, integrate, positions, sample_initial
from jepa_framework.core.validators import between, count, positive
from jepa_framework.datasets.base import DatasetParams, Trajectories, VectorDataset

PENDULUM_STATE_NAMES = ("theta1", "theta2", "omega1", "omega2")
PENDULUM_PROBE_NAMES = ("sin_theta1", "cos_theta1", "sin_theta2", "cos_theta2", "omega1", "omega2")
#: Lyapunov time of each band of starting energy in seconds: 1 / the median largest Lyapunov
#: exponent of its starts, measured by Benettin's method in benchmarks/bench_predictability.py
#: (1.25, 1.12 and 0.49 per second over 600 starts drawn as ``start: uniform_2pi``, 60 s each:
#: 16.0, 17.9 and 40.7 frames of 0.05 s). E <= 0 mixes regular and chaotic orbits (quartiles
#: 0.15-0.73 per second), so its median is a band average, not a property of every start.
BAND_LYAPUNOV_S: dict[str, float | None] = {"E>10": 0.80, "0<E<=10": 0.89, "E<=0": 2.03}
#: Lyapunov time of high-energy (E > 10 J) starts, in seconds
LYAPUNOV_TIME_S = BAND_LYAPUNOV_S["E>10"]
#: energy bands of the starting state, the chaotic one (the headline) first
HEADLINE_BAND = "E>10"
#: how starting states are drawn (docs/evaluation.md gives the energy mix of each)
START_DISTRIBUTIONS = ("box", "uniform_2pi")
#: former names of start distributions -> today's (a recipe that uses one still works, warned)
START_ALIASES = {"prototype": "uniform_2pi"}
ROD_COLOUR = (200, 200, 200)
log = logging.getLogger(__name__)


def _current_start(name: Any) -> Any:
    """Today's name of a start distribution; a former name is accepted once with a warning."""
    if name in START_ALIASES:
        new = START_ALIASES[name]
        if name not in _WARNED:
            _WARNED.add(name)
            log.warning("data.dataset.start: %r is now called %r; use the new name", name, new)
        return new
    return name


_WARNED: set[str] = set()


@attrs.frozen
class PendulumParams(DatasetParams):
    """Physics and initial conditions shared by ``pendulum`` and ``pendulum_image``."""

    dt: float = attrs.field(default=0.05, validator=positive(1.0))  # seconds between frames
    substeps: int = attrs.field(default=10, validator=count(1, 1000))  # RK4 steps per frame
    #: ``box``: angles uniform in +-angle_max, velocities in +-velocity_max (35 % of starts
    #: have E > 10). ``uniform_2pi``: angles and angular velocities uniform in [0, 2 pi) (about
    #: 64 % with E > 10; angle_max and velocity_max are then unused). ``prototype`` is its
    #: former name.
    start: str = attrs.field(
        default="box", converter=_current_start, validator=in_(START_DISTRIBUTIONS)
    )
    # starting angles uniform in [-angle_max, angle_max]
    angle_max: float = attrs.field(default=math.pi, validator=between(0, math.pi))
    # starting angular velocities uniform in +-velocity_max (rad/s)
    velocity_max: float = attrs.field(default=2.0, validator=between(0, 100))


def pendulum_states(
    params: PendulumParams, n: int, steps: int, rng: np.random.Generator
) -> np.ndarray:
    """Float64 states [n, steps, 4] (th1, th2, w1, w2) from random starts."""
    if params.start == "uniform_2pi":
        initial = rng.uniform(0.0, 2.0 * math.pi, size=(n, 4))
    else:
        initial = sample_initial(n, rng, params.angle_max, params.velocity_max)
    return integrate(initial, steps, params.dt, params.substeps)


def pendulum_probe_targets(states: torch.Tensor) -> tuple[torch.Tensor, tuple[str, ...]]:
    """States [..., 4] (unwrapped angles) -> [..., 6]: sin, cos of both angles; both velocities."""
    th, w = states[..., :2].float(), states[..., 2:].float()
    sin, cos = th.sin(), th.cos()
    targets = torch.stack([sin[..., 0], cos[..., 0], sin[..., 1], cos[..., 1]], dim=-1)
    return torch.cat([targets, w], dim=-1), PENDULUM_PROBE_NAMES


def pendulum_probe_positions(targets: torch.Tensor) -> torch.Tensor:
    """Probe targets [..., 6] -> bob positions [..., 4] = (x1, y1, x2, y2).

    Each angle comes from its (sin, cos) pair through atan2, so a probe's reading that is off
    the unit circle still gives a point on it; on true targets this is exact.
    """
    th1 = torch.atan2(targets[..., 0], targets[..., 1])
    th2 = torch.atan2(targets[..., 2], targets[..., 3])
    x1, y1 = th1.sin(), -th1.cos()
    return torch.stack([x1, y1, x1 + th2.sin(), y1 - th2.cos()], dim=-1)


class PendulumTiming:
    """Frame spacing, Lyapunov times, energy bands and probe targets of both pendulum datasets.

    Frame spacing and Lyapunov times follow ``params.dt``.
    """

    params: PendulumParams
    headline_group = HEADLINE_BAND

    @property
    def frame_dt(self) -> float:  # type: ignore[override]
        return self.params.dt

    @property
    def lyapunov_frames(self) -> float:  # type: ignore[override]
        return round(LYAPUNOV_TIME_S / self.params.dt, 9)  # 16.0, not 15.999999999999998

    @property
    def group_lyapunov_frames(self) -> dict[str, float | None]:
        return {
            band: None if seconds is None else round(seconds / self.params.dt, 9)
            for band, seconds in BAND_LYAPUNOV_S.items()
        }

    def probe_targets(self, states: torch.Tensor) -> tuple[torch.Tensor, tuple[str, ...]]:
        return pendulum_probe_targets(states)

    def probe_positions(self, targets: torch.Tensor) -> torch.Tensor:
        return pendulum_probe_positions(targets)

    def trajectory_groups(self, states: torch.Tensor) -> dict[str, torch.Tensor]:
        """Energy bands of the starts [N, 4]: chaos (and so the reachable horizon) depends on E."""
        return energy_bands(states)


def energy_bands(states: torch.Tensor) -> dict[str, torch.Tensor]:
    """Masks [N] of the bands E > 10, 0 < E <= 10 and E <= 0 of states [N, 4], chaotic first."""
    e = torch.from_numpy(energy(*states.double().numpy().T))
    return {"E>10": e > 10, "0<E<=10": (e > 0) & (e <= 10), "E<=0": e <= 0}


class PendulumDataset(PendulumTiming, VectorDataset):
    """Double pendulum, observed as bob positions (x1, y1, x2, y2); chaotic at high energy."""

    state_names = PENDULUM_STATE_NAMES
    view_extent = 2.2
    params: PendulumParams

    def draw_overlay(self, draw: Any, points: np.ndarray, size: int) -> None:
        """The rods: pivot (the frame's centre) -> bob 1 -> bob 2."""
        pivot = (size - 1) / 2
        chain = [(pivot, pivot)] + [tuple(xy) for xy in points]
        draw.line(chain, fill=ROD_COLOUR, width=max(1, size // 100))

    def simulate(self, n: int, steps: int, rng: np.random.Generator) -> Trajectories:
        """Observations float32 [n, steps, 4] = (x1, y1, x2, y2); states float32 [n, steps, 4]."""
        states = pendulum_states(self.params, n, steps, rng)
        # a blown-up integration overflows float32 here; the framework's finite check reports it
        with np.errstate(over="ignore", invalid="ignore"):
            return Trajectories(positions(states).astype(np.float32), states.astype(np.float32))
