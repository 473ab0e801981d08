"""Built-in environments: ``two_rooms`` and ``gymnasium`` (any registered gymnasium id)."""

from collections.abc import Callable

from jepa_builtins.envs.adapter import GymnasiumParams, make_gymnasium
from jepa_builtins.envs.two_rooms import TwoRooms, TwoRoomsParams
from jepa_framework import hookimpl


@hookimpl
def register_environments(register: Callable[..., object]) -> None:
    register("two_rooms", TwoRooms, params=TwoRoomsParams)
    register("gymnasium", make_gymnasium, params=GymnasiumParams)
