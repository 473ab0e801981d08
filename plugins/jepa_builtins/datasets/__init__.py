"""Built-in datasets, registered through the same hook a third-party plugin uses."""

from collections.abc import Callable

from jepa_builtins.datasets.curves import (
    CircleDataset,
    CircleParams,
    LissajousDataset,
    LissajousParams,
    SpiralDataset,
    SpiralParams,
)
from jepa_builtins.datasets.env_frames import EnvFramesDataset
from jepa_builtins.datasets.env_rollouts import EnvRolloutsDataset, EnvRolloutsParams
from jepa_builtins.datasets.hdf5_file import HDF5Params, open_recording
from jepa_builtins.datasets.pendulum import PendulumDataset, PendulumParams
from jepa_builtins.datasets.pendulum_image import PendulumImageDataset, PendulumImageParams
from jepa_framework import hookimpl


@hookimpl
def register_datasets(register: Callable[..., object]) -> None:
    register("circle", CircleDataset, params=CircleParams)
    register("spiral", SpiralDataset, params=SpiralParams)
    register("lissajous", LissajousDataset, params=LissajousParams)
    register("pendulum", PendulumDataset, params=PendulumParams)
    register("pendulum_image", PendulumImageDataset, params=PendulumImageParams)
    register("env_rollouts", EnvRolloutsDataset, params=EnvRolloutsParams)
    register("env_frames", EnvFramesDataset, params=EnvRolloutsParams)
    register("hdf5", open_recording, params=HDF5Params)
