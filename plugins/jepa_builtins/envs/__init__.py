"""Built-in environments: ``two_rooms``, ``gymnasium`` (any registered gymnasium id) and
``pendulum_swingup`` (Pendulum-v1 with a swing-up planning task)."""

from collections.abc import Callable

from jepa_builtins.envs.adapter import GymnasiumParams, make_gymnasium
from jepa_builtins.envs.swingup import PendulumSwingup, SwingupParams
from jepa_builtins.envs.two_rooms import TwoRooms, TwoRoomsParams
from jepa_framework import hookimpl


@hookimpl
def register_environments(register: Callable[..., object]) -> None:
    register("two_rooms", TwoRooms, params=TwoRoomsParams)
    register("gymnasium", make_gymnasium, params=GymnasiumParams)
    register("pendulum_swingup", PendulumSwingup, params=SwingupParams)
