"""Actions in the data layer: collected with the trajectories, cached, seeded, clipped into
windows beside the frames; autonomous datasets keep their cache layout."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from jepa_builtins.datasets.curves import CircleDataset, CircleParams
from jepa_builtins.datasets.env_rollouts import EnvRolloutsDataset, EnvRolloutsParams

from jepa_framework.core.errors import PluginError
from jepa_framework.datasets.actions import ActionSpace
from jepa_framework.datasets.base import DatasetParams, Trajectories, VectorDataset
from jepa_framework.datasets.batches import Clips


def rollouts(tmp_path: Path, **params) -> EnvRolloutsDataset:
    return EnvRolloutsDataset(
        EnvRolloutsParams(size=12, sequence_length=8, seed=3, **params), cache_dir=tmp_path
    )


def test_collected_trajectories_carry_actions_of_the_declared_shape(tmp_path):
    data = rollouts(tmp_path)
    assert data.action_space == ActionSpace(low=(-1, -1), high=(1, 1))
    assert data.actions.shape == (12, 8, 2) and data.actions.dtype == torch.float32
    assert bool((data.actions.abs() <= 1).all()) and bool((data.actions[:, -1] == 0).all())
    assert data.observations.shape == (12, 8, 2) and data.state_names == ("x", "y")
    # each step moves the agent by at most max_step (0.1) per axis: the action applied
    steps = (data.states[:, 1:] - data.states[:, :-1]).abs()
    assert bool((steps <= 0.1 + 1e-5).all())
    free = data.states[:, 0, 0].abs() > 0.2  # far from the wall, the first move is unblocked
    moved = data.states[free, 1] - data.states[free, 0]
    torch.testing.assert_close(moved, 0.1 * data.actions[free, 0].clamp(-1, 1), atol=1e-5, rtol=0)


def test_collection_is_seeded_and_cached_with_the_actions(tmp_path):
    first, again = rollouts(tmp_path), rollouts(tmp_path)
    assert "generation_s" not in again.timings  # read from the cache
    for name in ("observations", "states", "actions"):
        assert torch.equal(getattr(first, name), getattr(again, name))
    (entry,) = (p for p in tmp_path.iterdir() if p.is_dir())
    meta = json.loads((entry / "meta.json").read_text())
    assert meta["actions"]["shape"] == [12, 8, 2] and len(meta["chunks"]["actions"]) == 1
    other = EnvRolloutsDataset(EnvRolloutsParams(size=12, sequence_length=8, seed=4), tmp_path)
    assert not torch.equal(first.actions, other.actions)
    uniform = rollouts(tmp_path, policy="uniform")
    assert not torch.equal(first.actions, uniform.actions)


def test_autonomous_datasets_have_no_actions_and_the_same_cache_layout(tmp_path):
    data = CircleDataset(CircleParams(size=6, sequence_length=5, seed=0), cache_dir=tmp_path)
    assert data.action_space is None and data.actions is None
    (entry,) = (p for p in tmp_path.iterdir() if p.is_dir())
    assert sorted(p.name for p in entry.iterdir()) == [
        "meta.json",
        "observations.npy",
        "states.npy",
    ]
    assert set(json.loads((entry / "meta.json").read_text())["chunks"]) == {
        "observations",
        "states",
    }


def test_clips_carry_the_actions_of_their_frames(tmp_path):
    data = rollouts(tmp_path)
    g = torch.Generator().manual_seed(0)
    clips = Clips(data, torch.arange(12), 5, 4, torch.device("cpu"), g, with_actions=True)
    for traj, starts in clips.pairs():
        frames, actions = clips.batch(traj, starts)
        for i in range(len(traj)):
            s = int(starts[i])
            torch.testing.assert_close(actions[i], data.actions[traj[i], s : s + 5])
            torch.testing.assert_close(frames[i], data.observations[traj[i], s : s + 5])
    assert all(isinstance(b, tuple) and len(b) == 2 for b in clips)
    fixed = clips.fixed_batch(6, 1)
    assert clips.fixed_actions(6, 1).shape == (*fixed.shape[:2], 2)
    autonomous = CircleDataset(CircleParams(size=6, sequence_length=5, seed=0), tmp_path)
    with pytest.raises(Exception, match="asked to carry actions, but the dataset has none"):
        Clips(autonomous, torch.arange(6), 3, 2, torch.device("cpu"), g, with_actions=True)


class _Acting(VectorDataset):
    """A toy dataset that declares two action dimensions and returns ``self.make(n, steps)``."""

    state_names = ("x",)

    def __init__(self, make, tmp_path: Path) -> None:
        self.make = make
        super().__init__(DatasetParams(size=3, sequence_length=4, cache=False), tmp_path)

    @property
    def action_space(self) -> ActionSpace:
        return ActionSpace(low=(-1, -1), high=(1, 1))

    def simulate(self, n, steps, rng):
        return self.make(n, steps)


def test_a_dataset_that_declares_actions_must_return_them_in_shape(tmp_path):
    def obs(n, steps):
        return np.zeros((n, steps, 2), np.float32), np.zeros((n, steps, 1), np.float32)

    with pytest.raises(PluginError, match="returned no actions.*2 dimension"):
        _Acting(lambda n, s: Trajectories(*obs(n, s)), tmp_path)
    with pytest.raises(PluginError, match=r"actions of shape \[1, 4, 3\]; expected \[1, 4, 2\]"):
        _Acting(lambda n, s: Trajectories(*obs(n, s), np.zeros((n, s, 3))), tmp_path)
    ok = _Acting(lambda n, s: Trajectories(*obs(n, s), np.ones((n, s, 2))), tmp_path)
    assert ok.actions.shape == (3, 4, 2) and ok.actions.dtype == torch.float32
    assert ok.generate_arrays(2, 4, seed=1)["actions"].shape == (2, 4, 2)


def test_env_frames_stores_rendered_frames_beside_the_states_and_actions(tmp_path):
    from jepa_builtins.datasets.env_frames import EnvFramesDataset
    from jepa_builtins.datasets.env_rollouts import EnvRolloutsParams
    from jepa_builtins.envs.two_rooms import TwoRoomsParams

    from jepa_framework.config.recipe import EnvironmentSpec

    env = EnvironmentSpec(name="two_rooms", params=TwoRoomsParams(image_size=16))
    data = EnvFramesDataset(EnvRolloutsParams(env=env, size=3, sequence_length=5), tmp_path)
    assert data.observations.shape == (3, 5, 16, 16, 3) and data.observations.dtype == torch.uint8
    assert data.obs_shape == (3, 16, 16) and data.actions.shape == (3, 5, 2)
    floats = data.to_float(data.observations[:1])
    assert floats.shape == (1, 5, 3, 16, 16) and floats.min() >= 0.0 and floats.max() <= 1.0
    # the red agent is drawn where the stored state says
    x, y = data.states[0, 0].tolist()
    red = (data.observations[0, 0, ..., 0] > 150) & (data.observations[0, 0, ..., 1] < 100)
    rows, cols = torch.nonzero(red, as_tuple=True)
    assert abs(cols.float().mean() / 15 * 2 - 1 - x) < 0.2
    assert abs(1 - rows.float().mean() / 15 * 2 - y) < 0.2
    planning = data.environment()  # what `jepa plan` gets: frames, with the task forwarded
    frame, _ = planning.reset(seed=0, options={"state": np.array([0.5, 0.5], np.float32)})
    assert frame.shape == (16, 16, 3) and planning.state.tolist() == [0.5, 0.5]
    assert callable(planning.sample_task) and planning.observation_weights is None
