"""The built-in datasets: shapes, determinism, splits and the on-disk cache."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from jepa_builtins.datasets import (
    CircleDataset,
    CircleParams,
    EnvFramesDataset,
    EnvRolloutsDataset,
    EnvRolloutsParams,
    LissajousDataset,
    LissajousParams,
    PendulumDataset,
    PendulumImageDataset,
    PendulumImageParams,
    PendulumParams,
    SpiralDataset,
    SpiralParams,
    register_datasets,
)
from jepa_builtins.datasets.hdf5_file import HDF5Params, open_recording

from jepa_framework.datasets.render import draw_points

VECTOR_DATASETS = [
    (CircleDataset, CircleParams, 2),
    (SpiralDataset, SpiralParams, 2),
    (LissajousDataset, LissajousParams, 2),
    (PendulumDataset, PendulumParams, 4),
]
ALL_DATASETS = [(cls, params) for cls, params, _ in VECTOR_DATASETS] + [
    (PendulumImageDataset, PendulumImageParams)
]


def test_the_plugin_registers_every_built_in_dataset_with_its_params():
    seen = {}
    register_datasets(register=lambda name, factory, params: seen.update({name: (factory, params)}))
    assert seen == {
        "circle": (CircleDataset, CircleParams),
        "spiral": (SpiralDataset, SpiralParams),
        "lissajous": (LissajousDataset, LissajousParams),
        "pendulum": (PendulumDataset, PendulumParams),
        "pendulum_image": (PendulumImageDataset, PendulumImageParams),
        "env_rollouts": (EnvRolloutsDataset, EnvRolloutsParams),
        "env_frames": (EnvFramesDataset, EnvRolloutsParams),
        "hdf5": (open_recording, HDF5Params),
    }


@pytest.mark.parametrize(("cls", "params", "dim"), VECTOR_DATASETS)
def test_vector_datasets_hold_float32_points_and_named_states(cls, params, dim, tmp_path):
    ds = cls(params(size=6, sequence_length=5), cache_dir=tmp_path)
    assert ds.observations.shape == (6, 5, dim)
    assert ds.observations.dtype == torch.float32
    assert ds.obs_shape == (dim,)
    assert ds.states.shape == (6, 5, len(cls.state_names))
    assert ds.states.dtype == torch.float32
    assert torch.isfinite(ds.observations).all()


def test_curves_stay_inside_the_view_for_the_default_sequence_length(tmp_path):
    for cls, params, _ in VECTOR_DATASETS[:3]:
        ds = cls(params(size=200), cache_dir=tmp_path)
        assert ds.observations.abs().max() < cls.view_extent


def test_pendulum_observes_bob_positions_of_its_states(tmp_path):
    ds = PendulumDataset(PendulumParams(size=3, sequence_length=4), cache_dir=tmp_path)
    th1, th2 = ds.states[..., 0].double(), ds.states[..., 1].double()
    x1, y1 = th1.sin(), -th1.cos()
    expected = torch.stack([x1, y1, x1 + th2.sin(), y1 - th2.cos()], dim=-1)
    torch.testing.assert_close(ds.observations.double(), expected, atol=1e-6, rtol=0)
    assert ds.state_names == ("theta1", "theta2", "omega1", "omega2")
    assert ds.lyapunov_frames == 16.0


def test_pendulum_videos_draw_the_rods_from_the_pivot(tmp_path):
    ds = PendulumDataset(PendulumParams(size=1, sequence_length=2), cache_dir=tmp_path)
    size = 101
    frames = ds.frames_for_video(torch.tensor([[0.0, -1.0, 0.0, -2.0]]), size)  # hanging down
    pivot = (size - 1) // 2
    below = pivot + round(0.5 / ds.view_extent * 0.5 * (size - 1))  # halfway to bob 1
    assert tuple(frames[0, below, pivot]) == (200, 200, 200)  # the rod, drawn by the plugin
    plain = draw_points(np.array([[0.0, -1.0, 0.0, -2.0]]), size, ds.view_extent)
    assert tuple(plain[0, below, pivot]) != (200, 200, 200)  # the core draws no rods


@pytest.mark.parametrize(("size", "grayscale", "channels"), [(32, False, 3), (64, True, 1)])
def test_pendulum_image_stores_uint8_and_converts_to_floats_in_0_1(
    size, grayscale, channels, tmp_path
):
    params = PendulumImageParams(size=3, sequence_length=4, image_size=size, grayscale=grayscale)
    ds = PendulumImageDataset(params, cache_dir=tmp_path)
    assert ds.observations.shape == (3, 4, size, size)
    assert ds.observations.dtype == torch.uint8
    assert ds.obs_shape == (channels, size, size)
    frames = ds.to_float(ds.observations[:2])
    assert frames.shape == (2, 4, channels, size, size)
    assert frames.dtype == torch.float32
    assert frames.min() >= 0.0 and frames.max() <= 1.0
    assert frames.amax(dim=(-3, -2, -1)).min() > 0  # nothing blank
    assert ds.states.shape == (3, 4, 4)


def test_pendulum_image_parts_have_distinct_colours(tmp_path):
    for grayscale in (False, True):
        params = PendulumImageParams(size=1, sequence_length=1, grayscale=grayscale, cache=False)
        palette = PendulumImageDataset(params, cache_dir=tmp_path).palette
        assert len(set(map(tuple, palette.tolist()))) == palette.shape[0]


def test_pendulum_image_rejects_tiny_images():
    with pytest.raises(ValueError):
        PendulumImageParams(image_size=8)


@pytest.mark.parametrize(("cls", "params"), ALL_DATASETS)
def test_split_is_by_trajectory_disjoint_and_complete(cls, params, tmp_path):
    ds = cls(params(size=10, sequence_length=3), cache_dir=tmp_path)
    train, val = ds.split(0.2, seed=0)
    assert len(val) == 2
    assert set(train.tolist()).isdisjoint(val.tolist())
    assert sorted(train.tolist() + val.tolist()) == list(range(10))


@pytest.mark.parametrize(("cls", "params"), ALL_DATASETS)
def test_generation_is_deterministic_given_the_seed(cls, params, tmp_path):
    def build(seed):
        return cls(params(size=4, sequence_length=6, seed=seed, cache=False)).observations

    assert torch.equal(build(0), build(0))
    assert not torch.equal(build(0), build(1))


def test_observation_noise_perturbs_points_but_not_states():
    clean = CircleDataset(CircleParams(size=4, sequence_length=5, cache=False))
    noisy = CircleDataset(CircleParams(size=4, sequence_length=5, noise=0.1, cache=False))
    assert torch.equal(clean.states, noisy.states)
    assert 0.02 < (noisy.observations - clean.observations).std() < 0.2


def test_lissajous_draws_only_the_configured_frequency_ratio():
    params = LissajousParams(size=5, sequence_length=40, ratios=((1, 3),), cache=False)
    states = LissajousDataset(params).states.double()
    phase_x = torch.atan2(states[..., 0], states[..., 1])
    phase_y = torch.atan2(states[..., 2], states[..., 3])
    step = lambda p: torch.remainder(p.diff(dim=1) + np.pi, 2 * np.pi) - np.pi  # noqa: E731
    torch.testing.assert_close(step(phase_y), 3 * step(phase_x), atol=1e-5, rtol=0)


# --- the cache ----------------------------------------------------------------------------------


def _fail(*args):
    raise AssertionError("simulate() was called although the cache was valid")


def test_a_second_construction_loads_the_cache_instead_of_simulating(tmp_path, monkeypatch):
    params = PendulumImageParams(size=3, sequence_length=4)
    first = PendulumImageDataset(params, cache_dir=tmp_path)
    monkeypatch.setattr(PendulumImageDataset, "simulate", _fail)
    second = PendulumImageDataset(params, cache_dir=tmp_path)
    assert torch.equal(first.observations, second.observations)
    assert torch.equal(first.states, second.states)


def test_a_truncated_cache_file_is_regenerated(tmp_path):
    params = PendulumParams(size=3, sequence_length=4)
    first = PendulumDataset(params, cache_dir=tmp_path)
    (path,) = tmp_path.glob("*/observations.npy")
    path.write_bytes(path.read_bytes()[:100])
    second = PendulumDataset(params, cache_dir=tmp_path)
    assert torch.equal(first.observations, second.observations)
    assert path.stat().st_size > 100  # rewritten whole


def test_different_params_use_different_cache_entries(tmp_path):
    PendulumDataset(PendulumParams(size=3, sequence_length=4), cache_dir=tmp_path)
    PendulumDataset(PendulumParams(size=3, sequence_length=4, substeps=20), cache_dir=tmp_path)
    PendulumDataset(PendulumParams(size=3, sequence_length=4, seed=1), cache_dir=tmp_path)
    PendulumDataset(PendulumParams(size=3, sequence_length=4, storage="mmap"), cache_dir=tmp_path)
    assert len(list(tmp_path.glob("*/meta.json"))) == 3  # storage changes no data


def test_cache_false_writes_nothing(tmp_path):
    CircleDataset(CircleParams(size=3, sequence_length=4, cache=False), cache_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("start", "chaotic", "bound"), [("box", 0.35, 0.06), ("uniform_2pi", 0.64, 0.06)]
)
def test_pendulum_start_distributions_give_their_documented_energy_mix(
    start, chaotic, bound, tmp_path
):
    """docs/evaluation.md states the share of E > 10 starts of each distribution."""
    ds = PendulumDataset(
        PendulumParams(size=2000, sequence_length=2, start=start, cache=False), cache_dir=tmp_path
    )
    bands = ds.trajectory_groups(ds.states[:, 0])
    assert float(bands["E>10"].float().mean()) == pytest.approx(chaotic, abs=bound)
    initial = ds.states[:, 0].numpy()
    if start == "uniform_2pi":  # angles and velocities uniform in [0, 2 pi)
        assert initial.min() >= 0.0 and initial.max() < 2 * np.pi
        assert initial[:, 2:].max() > 5.0
    else:  # velocities within +-velocity_max
        assert np.abs(initial[:, 2:]).max() <= 2.0


def test_the_former_name_of_a_start_distribution_still_works_and_says_the_new_one(caplog):
    from jepa_builtins.datasets import pendulum

    pendulum._WARNED.clear()
    with caplog.at_level("WARNING"):
        params = PendulumParams(size=2, sequence_length=3, start="prototype")
    assert params.start == "uniform_2pi"
    assert "'prototype' is now called 'uniform_2pi'" in caplog.text
