"""``hdf5``: recorded trajectories read from an HDF5 file, autonomous or driven by actions.

Layout: datasets at the root of the file, N trajectories of T frames each.

- ``observations`` (required): [N, T, F] numbers (coordinates, read as float32), or
  [N, T, C, H, W] ``uint8`` frames (0-255; C = 1 or 3), read as floats in [0, 1].
- ``states`` (optional): [N, T, S] numbers, the true state that probes read; the attribute
  ``names`` (S strings) names its columns. Without it, the observations are the state.
- ``actions`` (optional): [N, T, A] numbers, row t the action applied between frame t and
  t + 1 (the last row is padding); the attributes ``low`` and ``high`` (A numbers each) are the
  action bounds, else the recorded range. With actions, the data trains action-conditioned
  predictors.
- the root attribute ``frame_dt`` (optional): seconds between frames (default 0.05).

The file's trajectories are split by trajectory, with the data seed, into three pools that never
share a trajectory: the test trajectories (``test_fraction``), which the evaluation's forecasts
score; the validation trajectories (``validation_fraction``), on which evaluation settings such
as the probe penalties are chosen; and the rest, which the dataset holds for training (``size``
of them at most, each cut to its first ``sequence_length`` frames, and ``data.val_fraction`` of
those validate the training loss). The evaluation then reads held-out trajectories from their
pool instead of simulating fresh ones, so ``eval.horizon`` plus the context must fit in T. The
arrays are read into memory; the file is the cache, so nothing is copied to the dataset cache,
and recorded data has no simulator to plan in (``jepa plan`` needs an environment).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import numpy as np
import torch

from jepa_framework.core.errors import JepaError
from jepa_framework.core.validators import MAX_COUNT, between, count
from jepa_framework.datasets.actions import ActionSpace
from jepa_framework.datasets.base import DatasetParams, ImageDataset, VectorDataset

OBSERVATIONS, STATES, ACTIONS = "observations", "states", "actions"


@attrs.frozen
class HDF5Params(DatasetParams):
    """Which file to read, and how its trajectories are shared between training and evaluation."""

    # the HDF5 file (a path, relative to the directory `jepa` runs in)
    path: str = ""
    # training trajectories to use, at most (empty: every one the held-out pools leave)
    size: int | None = attrs.field(  # type: ignore[assignment]
        default=None, validator=attrs.validators.optional(count(2, MAX_COUNT * 10))
    )
    # frames of each training trajectory, from its first (empty: all T of the file)
    sequence_length: int | None = attrs.field(  # type: ignore[assignment]
        default=None, validator=attrs.validators.optional(count(1, MAX_COUNT))
    )
    # fraction of the file's trajectories held out as the test set
    test_fraction: float = attrs.field(default=0.2, validator=between(0.0, 0.9))
    # fraction held out as the validation set (evaluation settings are chosen on it)
    validation_fraction: float = attrs.field(default=0.1, validator=between(0.0, 0.9))


def _fail(params: HDF5Params, problem: str, fix: str) -> JepaError:
    return JepaError(f"dataset 'hdf5' (data.dataset.path '{params.path}'): {problem}. {fix}")


def read_recording(params: HDF5Params) -> dict[str, Any]:
    """Every array of the file, checked against the layout, with its attributes."""
    import h5py

    if not params.path:
        raise _fail(params, "no file given", "Set data.dataset.path to your HDF5 file.")
    path = Path(params.path).expanduser()
    if not path.is_file():
        raise _fail(params, "the file does not exist", "Check data.dataset.path.")
    try:
        handle = h5py.File(path, "r")
    except OSError as exc:
        raise _fail(params, f"not a readable HDF5 file ({exc})", "Give an HDF5 file.") from exc
    with handle as f:
        if OBSERVATIONS not in f:
            keys = ", ".join(sorted(f.keys())) or "nothing"
            raise _fail(
                params,
                f"the file has no '{OBSERVATIONS}' dataset at its root (it holds {keys})",
                "Write observations [N, T, F] or uint8 frames [N, T, C, H, W] under "
                f"'{OBSERVATIONS}' (the layout in `jepa list datasets`).",
            )
        out: dict[str, Any] = {"frame_dt": float(f.attrs.get("frame_dt", 0.05))}
        for name in (OBSERVATIONS, STATES, ACTIONS):
            if name in f:
                out[name] = _read(params, f[name], name)
                out[f"{name}_attrs"] = dict(f[name].attrs)
    _check_layout(params, out)
    return out


def _read(params: HDF5Params, node: Any, name: str) -> np.ndarray:
    if not hasattr(node, "shape"):
        raise _fail(params, f"'{name}' is a group, not a dataset", f"Store '{name}' as an array.")
    array = np.asarray(node[()])
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
        raise _fail(params, f"'{name}' holds {array.dtype}, not numbers", "Store numbers.")
    return array


def _check_layout(params: HDF5Params, data: dict[str, Any]) -> None:
    obs = data[OBSERVATIONS]
    if obs.ndim not in (3, 5):
        raise _fail(
            params,
            f"'{OBSERVATIONS}' has shape {list(obs.shape)}",
            "It must be [N, T, F] (coordinates) or [N, T, C, H, W] (uint8 frames).",
        )
    if obs.ndim == 5 and (obs.dtype != np.uint8 or obs.shape[2] not in (1, 3)):
        raise _fail(
            params,
            f"'{OBSERVATIONS}' holds frames of shape {list(obs.shape[2:])} and type {obs.dtype}",
            "Frames must be uint8 [N, T, C, H, W] with C = 1 or 3.",
        )
    n, steps = obs.shape[:2]
    if n < 4 or steps < 2:
        raise _fail(
            params,
            f"'{OBSERVATIONS}' holds {n} trajectories of {steps} frames",
            "Training, validation and test need at least 4 trajectories of 2 frames or more.",
        )
    for name in (STATES, ACTIONS):
        array = data.get(name)
        if array is not None and (array.ndim != 3 or array.shape[:2] != (n, steps)):
            raise _fail(
                params,
                f"'{name}' has shape {list(array.shape)}, but the observations are "
                f"{n} trajectories of {steps} frames",
                f"Store '{name}' as [{n}, {steps}, width].",
            )
    for name in (OBSERVATIONS, STATES, ACTIONS):
        array = data.get(name)
        if array is not None and not np.isfinite(array.astype(np.float64)).all():
            bad = int(np.argwhere(~np.isfinite(array.astype(np.float64)))[0][0])
            raise _fail(
                params,
                f"'{name}' holds NaN or infinite values (the first in trajectory {bad})",
                "Remove or repair those trajectories.",
            )
    names = data.get(f"{STATES}_attrs", {}).get("names")
    if names is not None and len(names) != data[STATES].shape[2]:
        raise _fail(
            params,
            f"'{STATES}' names {len(names)} columns in its 'names' attribute but has "
            f"{data[STATES].shape[2]}",
            "Give one name per column.",
        )


def split_pools(n: int, params: HDF5Params, seed: int) -> dict[str, np.ndarray]:
    """Trajectory indices of the training, validation and test pools (disjoint, seeded)."""
    order = np.random.default_rng(seed).permutation(n)
    n_test = max(1, round(n * params.test_fraction))
    n_val = max(1, round(n * params.validation_fraction))
    if n - n_test - n_val < 2:
        raise _fail(
            params,
            f"holding out {n_test} test and {n_val} validation trajectories of {n} leaves "
            f"{n - n_test - n_val} to train on",
            "Lower data.dataset.test_fraction or validation_fraction, or record more trajectories.",
        )
    pools = {
        "test": order[:n_test],
        "validation": order[n_test : n_test + n_val],
        "train": order[n_test + n_val :],
    }
    return {name: np.sort(idx) for name, idx in pools.items()}


class _Recorded:
    """What both kinds of recorded data share: the file, its pools, actions and states."""

    params: HDF5Params

    def _read_file(self) -> dict[str, np.ndarray]:
        data = read_recording(self.params)
        obs = data[OBSERVATIONS]
        self.frame_dt = data["frame_dt"]
        self._pools = split_pools(len(obs), self.params, self.data_seed)
        self._recording = data
        self._actions = _action_space(data)
        states = data.get(STATES)
        self.state_names = tuple(
            str(v.decode() if isinstance(v, bytes) else v)
            for v in data.get(f"{STATES}_attrs", {}).get("names", ())
        ) or tuple(f"s{i}" for i in range((states if states is not None else obs).shape[2]))
        if obs.ndim == 5 and states is None:
            raise _fail(
                self.params,
                f"'{OBSERVATIONS}' holds frames but the file has no '{STATES}'",
                f"Write the true state [N, T, S] under '{STATES}': the probes read it.",
            )
        train = self._pools["train"][: self.params.size]
        frames = self.params.sequence_length or obs.shape[1]
        if frames > obs.shape[1]:
            raise _fail(
                self.params,
                f"data.dataset.sequence_length is {frames}, but the file's trajectories have "
                f"{obs.shape[1]} frames",
                f"Lower data.dataset.sequence_length to at most {obs.shape[1]} or leave it empty.",
            )
        return self._arrays(train, frames)

    def _arrays(self, idx: np.ndarray, frames: int) -> dict[str, np.ndarray]:
        data = self._recording
        obs = data[OBSERVATIONS][idx, :frames]
        if obs.ndim == 3:
            obs = obs.astype(np.float32)
        states = data.get(STATES)
        states = obs.reshape(len(idx), frames, -1) if states is None else states[idx, :frames]
        out = {OBSERVATIONS: np.ascontiguousarray(obs), STATES: states.astype(np.float32)}
        if data.get(ACTIONS) is not None:
            out[ACTIONS] = data[ACTIONS][idx, :frames].astype(np.float32)
        return out

    def _load_or_generate(self, cache_dir: Path) -> dict[str, np.ndarray]:
        self.timings = {}
        return self._read_file()

    @property
    def action_space(self) -> ActionSpace | None:
        return self._actions

    @property
    def max_held_out_frames(self) -> int:
        """Frames a held-out trajectory can have: the file's T."""
        return int(self._recording[OBSERVATIONS].shape[1])

    def cache_key(self) -> str:
        return "hdf5-not-cached"

    def generate_arrays(
        self, n: int, steps: int, seed: int, split: str = "test"
    ) -> dict[str, torch.Tensor]:
        """``n`` (at most the pool's size) recorded trajectories of ``split``'s pool, their
        first ``steps`` frames, in an order drawn with ``seed``."""
        pool = self._pools["validation" if split == "validation" else "test"]
        if steps > self.max_held_out_frames:
            raise _fail(
                self.params,
                f"{steps} frames of a held-out trajectory were asked for, but the file's "
                f"trajectories have {self.max_held_out_frames}",
                "Lower eval.horizon (the evaluation needs the context plus eval.horizon "
                "frames) or record longer trajectories.",
            )
        idx = np.sort(np.random.default_rng(seed).permutation(pool)[:n])
        return {k: torch.from_numpy(v) for k, v in self._arrays(idx, steps).items()}

    def generate(
        self, n: int, steps: int, seed: int, split: str = "test"
    ) -> tuple[torch.Tensor, torch.Tensor]:
        arrays = self.generate_arrays(n, steps, seed, split)
        return arrays[OBSERVATIONS], arrays[STATES]

    def held_out_count(self, split: str) -> int:
        return len(self._pools["validation" if split == "validation" else "test"])


def _action_space(data: dict[str, Any]) -> ActionSpace | None:
    actions = data.get(ACTIONS)
    if actions is None:
        return None
    attrs_ = data.get(f"{ACTIONS}_attrs", {})
    moves = actions[:, :-1].reshape(-1, actions.shape[2])  # the last row is padding
    low = attrs_.get("low", moves.min(0))
    high = attrs_.get("high", moves.max(0))
    try:
        space = ActionSpace(low=low, high=high)
    except ValueError as exc:
        raise JepaError(f"dataset 'hdf5': the actions' low and high attributes: {exc}") from exc
    if space.dim != actions.shape[2]:
        raise JepaError(
            f"dataset 'hdf5': the actions' low and high attributes give {space.dim} bounds, but "
            f"the actions have {actions.shape[2]} dimensions; give one bound per dimension."
        )
    return space


class HDF5Vectors(_Recorded, VectorDataset):
    """Recorded coordinates [N, T, F]."""

    @property
    def view_extent(self) -> float:  # type: ignore[override]
        """Videos show the recorded range, whatever the units."""
        return 1.1 * float(self.observations.abs().max().clamp_min(1e-6))


class HDF5Frames(_Recorded, ImageDataset):
    """Recorded uint8 frames [N, T, C, H, W], read as floats in [0, 1]."""

    _frame_ndim = 3

    @property
    def obs_shape(self) -> tuple[int, ...]:
        return tuple(self.observations.shape[2:])

    def to_float(self, stored: torch.Tensor) -> torch.Tensor:
        return stored.float() / 255.0


def open_recording(params: HDF5Params, cache_dir: Path | None = None) -> VectorDataset:
    """The dataset of the file: coordinates or frames, as its observations are."""
    import h5py

    path = Path(params.path).expanduser()
    frames = False
    if params.path and path.is_file():
        try:
            with h5py.File(path, "r") as f:
                node = f.get(OBSERVATIONS)
                frames = node is not None and hasattr(node, "ndim") and node.ndim == 5
        except OSError:
            pass  # read_recording names the problem
    return (HDF5Frames if frames else HDF5Vectors)(params, cache_dir)
