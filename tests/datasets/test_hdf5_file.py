"""The ``hdf5`` dataset: recorded trajectories from a real HDF5 file, trained and evaluated."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
from jepa_builtins.datasets.hdf5_file import HDF5Frames, HDF5Params, HDF5Vectors, open_recording

from jepa_framework.commands.cli import main
from jepa_framework.core.errors import JepaError
from jepa_framework.testing import run_tiny


def write_circles(path: Path, n: int = 40, frames: int = 50, actions: bool = False) -> Path:
    """Points turning on the unit circle at speeds of their own, with their state (and, when
    ``actions``, a recorded push that changes the speed)."""
    rng = np.random.default_rng(0)
    speed = rng.uniform(0.1, 0.3, (n, 1))
    angle = rng.uniform(0, 2 * np.pi, (n, 1)) + speed * np.arange(frames)
    with h5py.File(path, "w") as f:
        f["observations"] = np.stack([np.cos(angle), np.sin(angle)], -1).astype(np.float32)
        states = np.stack([np.cos(angle), np.sin(angle), np.broadcast_to(speed, angle.shape)], -1)
        f.create_dataset("states", data=states).attrs["names"] = ["x", "y", "speed"]
        if actions:
            pushes = f.create_dataset("actions", data=rng.uniform(-0.5, 0.5, (n, frames, 1)))
            pushes.attrs["low"], pushes.attrs["high"] = [-1.0], [1.0]
        f.attrs["frame_dt"] = 0.1
    return path


def recording(path: Path, **params) -> HDF5Vectors:
    return open_recording(HDF5Params(path=str(path), **{"seed": 0, **params}))


def test_the_file_is_split_into_disjoint_training_validation_and_test_pools(tmp_path):
    data = recording(write_circles(tmp_path / "c.h5"))
    with h5py.File(tmp_path / "c.h5") as f:
        recorded = f["observations"][()]
    pools = {name: set(idx.tolist()) for name, idx in data._pools.items()}
    assert [len(pools[k]) for k in ("train", "validation", "test")] == [28, 4, 8]
    assert not (pools["train"] & pools["test"]) and not (pools["validation"] & pools["test"])
    train = sorted(pools["train"])
    np.testing.assert_array_equal(data.observations.numpy(), recorded[train])
    test_obs, test_states = data.generate(100, 50, seed=3)  # capped at the pool's 8
    assert test_obs.shape == (8, 50, 2) and test_states.shape == (8, 50, 3)
    rows = {tuple(np.round(o[0], 6)) for o in recorded[sorted(pools["test"])]}
    assert {tuple(np.round(o[0], 6)) for o in test_obs.numpy()} == rows
    val_obs, _ = data.generate(100, 10, seed=3, split="validation")
    assert len(val_obs) == 4 and not {tuple(np.round(o[0], 6)) for o in val_obs.numpy()} & rows
    assert data.state_names == ("x", "y", "speed") and data.frame_dt == pytest.approx(0.1)
    assert data.action_space is None and data.actions is None


def test_the_data_seed_redraws_the_pools_and_size_and_length_cut_the_training_set(tmp_path):
    path = write_circles(tmp_path / "c.h5")
    a, b = recording(path), recording(path, seed=1)
    assert not np.array_equal(a._pools["test"], b._pools["test"])
    cut = recording(path, size=10, sequence_length=20)
    assert tuple(cut.observations.shape) == (10, 20, 2)


def test_recorded_actions_carry_their_bounds(tmp_path):
    data = recording(write_circles(tmp_path / "a.h5", actions=True))
    assert data.action_space is not None and data.action_space.low == (-1.0,)
    assert tuple(data.actions.shape) == (28, 50, 1)


def test_uint8_frames_are_read_as_images_in_unit_range(tmp_path):
    rng = np.random.default_rng(0)
    with h5py.File(tmp_path / "f.h5", "w") as f:
        f["observations"] = rng.integers(0, 256, (12, 6, 1, 8, 8), dtype=np.uint8)
        f["states"] = rng.normal(size=(12, 6, 2))
    data = open_recording(HDF5Params(path=str(tmp_path / "f.h5"), seed=0))
    assert isinstance(data, HDF5Frames) and data.obs_shape == (1, 8, 8)
    floats = data.to_float(data.observations[:1])
    assert floats.dtype.is_floating_point and 0.0 <= float(floats.min()) <= float(floats.max()) <= 1


@pytest.mark.parametrize(
    ("write", "expected"),
    [
        (lambda f: f.create_dataset("frames", data=np.zeros((8, 5, 2))), "no 'observations'"),
        (lambda f: f.create_dataset("observations", data=np.zeros((8, 5))), "shape [8, 5]"),
        (
            lambda f: (
                f.create_dataset("observations", data=np.zeros((8, 5, 2))),
                f.create_dataset("states", data=np.zeros((8, 4, 2))),
            ),
            "'states' has shape [8, 4, 2]",
        ),
        (
            lambda f: f.create_dataset("observations", data=np.full((8, 5, 2), np.nan)),
            "NaN or infinite",
        ),
        (
            lambda f: f.create_dataset("observations", data=np.zeros((8, 5, 1, 4, 4))),
            "uint8",
        ),
    ],
)
def test_a_file_off_the_layout_is_a_clear_error(tmp_path, write, expected):
    with h5py.File(tmp_path / "bad.h5", "w") as f:
        write(f)
    with pytest.raises(JepaError, match=expected.replace("[", r"\[").replace("]", r"\]")):
        open_recording(HDF5Params(path=str(tmp_path / "bad.h5"), seed=0))


def test_jepa_run_trains_and_evaluates_on_the_recording_test_pool(tmp_path):
    path = write_circles(tmp_path / "c.h5")
    run = run_tiny(
        "circle",
        tmp_path,
        "data.dataset.name=hdf5",
        f"data.dataset.path={path}",
        "eval.horizon=30",
    )
    report = json.loads((run / "eval.json").read_text())
    assert report["settings"]["trajectories"] == 8  # the test pool, not fresh simulations
    assert report["settings"]["dataset"]["name"] == "hdf5"
    assert report["forecast"]["methods"]["jepa"]["vpt"]["0.5"]["frames"] >= 0
    assert (run / "forecast.mp4").stat().st_size > 0


def test_a_horizon_longer_than_the_recording_is_refused_before_any_work(tmp_path, capsys):
    path = write_circles(tmp_path / "c.h5", frames=30)
    out = tmp_path / "runs"
    code = main(
        [
            "run",
            "circle",
            "data.dataset.name=hdf5",
            f"data.dataset.path={path}",
            "data.dataset.sequence_length=12",
            "objective.rollout_steps=2",
            "train.batch_size=7",
            "eval.horizon=100",
            f"output.dir={out}",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "eval.horizon" in err and "at most 26" in err
    assert "Traceback" not in err and not any(out.glob("*/metrics.json"))


def test_a_missing_file_is_a_clear_error_naming_the_key(tmp_path, capsys):
    code = main(
        ["run", "circle", "data.dataset.name=hdf5", f"data.dataset.path={tmp_path / 'no.h5'}"]
    )
    err = capsys.readouterr().err
    assert code == 2 and "data.dataset.path" in err and "does not exist" in err


def test_recorded_actions_train_an_action_conditioned_model_that_cannot_be_planned_in(
    tmp_path, capsys
):
    path = write_circles(tmp_path / "a.h5", actions=True)
    run = run_tiny("two_rooms", tmp_path, "data.dataset.name=hdf5", f"data.dataset.path={path}")
    assert json.loads((run / "config.yaml").with_name("metrics.json").read_text())["jepa"]
    code = main(["plan", str(run)])
    err = capsys.readouterr().err
    assert code == 2 and "environment" in err and "Traceback" not in err
