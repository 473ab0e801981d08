"""Cache integrity and the dataset contract: every byte of an entry is checked, a bad chunk is
regenerated alone, a full disk is a clear error, and bad generated data never reaches training."""

from __future__ import annotations

import errno
import gc
import logging
import os
import shutil
import subprocess
import types
from typing import ClassVar

import attrs
import numpy as np
import pytest
import torch
from jepa_builtins.datasets import (
    PendulumDataset,
    PendulumImageDataset,
    PendulumImageParams,
    PendulumParams,
)

from jepa_framework import hookimpl
from jepa_framework.commands.cli import main
from jepa_framework.core.errors import JepaError, PluginError
from jepa_framework.datasets import cache as datacache
from jepa_framework.datasets.base import DatasetParams, Trajectories, VectorDataset
from jepa_framework.testing import plugin_host

from ..conftest import TINY

WHO = "dataset 'flaky' (plugin 'flaky_plugin'"


@attrs.frozen
class FlakyParams(DatasetParams):
    mode: str = "ok"  # how simulate misbehaves


class Flaky(VectorDataset):
    """A random walk in 2-D whose ``simulate`` breaks its contract as ``params.mode`` says."""

    state_names = ("x", "y")
    calls: ClassVar[list[int]] = []  # n of every call

    def simulate(self, n: int, steps: int, rng: np.random.Generator) -> Trajectories:
        calls, mode = type(self).calls, self.params.mode
        calls.append(n)
        x = rng.standard_normal((n, steps, 2)).astype(np.float32).cumsum(axis=1)
        if mode == "raise":
            raise ZeroDivisionError("the integrator divided by zero")
        if mode in ("tuple", "list"):
            return (x, x) if mode == "tuple" else [x, x]  # type: ignore[return-value]
        if mode == "transposed":
            return Trajectories(np.ascontiguousarray(x.transpose(1, 0, 2)), x)
        if mode == "varying":  # one more column on every call
            return Trajectories(np.zeros((n, steps, len(calls)), np.float32), x)
        if mode == "video_differs" and steps != self.params.sequence_length:
            return Trajectories(np.zeros((n, steps, 3), np.float32), x)
        if mode == "nan" and n > 5:
            x[5, 3, 0] = np.nan
        return Trajectories(x, x)


def _plugin() -> types.ModuleType:
    module = types.ModuleType("flaky_plugin")

    def register_datasets(register):
        register("flaky", Flaky, params=FlakyParams)

    module.register_datasets = hookimpl(register_datasets)
    return module


@pytest.fixture
def flaky(tmp_path):
    """The flaky dataset registered by plugin 'flaky_plugin', its cache in ``tmp_path``."""
    Flaky.calls.clear()
    with plugin_host(_plugin(), cache_dir=tmp_path / "cache"):
        yield lambda **kw: Flaky(FlakyParams(**kw), cache_dir=tmp_path / "cache")


def _edit(entry_file, edit) -> None:
    """Change a cached array in place, as a stray writer through a memory map would."""
    array = np.load(entry_file, mmap_mode="r+")
    edit(array)
    array.flush()
    del array


# --- every byte is checked; a bad chunk is regenerated alone -----------------------------------


def test_zeroed_trajectories_are_detected_and_only_their_chunks_regenerated(
    flaky, tmp_path, monkeypatch, caplog
):
    monkeypatch.setattr(datacache, "CHUNK_BYTES", 2 * 5 * (2 + 2) * 4)  # 2 trajectories a chunk
    first = flaky(size=8, sequence_length=5)
    original = first.observations.clone(), first.states.clone()
    (path,) = (tmp_path / "cache").glob("*/observations.npy")
    _edit(path, lambda a: a.__setitem__([1, 5], 0))  # trajectories 1 and 5: chunks 0 and 2
    Flaky.calls.clear()
    with caplog.at_level(logging.WARNING):
        second = flaky(size=8, sequence_length=5)
    assert "is corrupt in chunk(s) 0, 2 of 4; regenerating only those" in caplog.text
    assert Flaky.calls == [2, 2]  # the two bad chunks, nothing else
    assert torch.equal(second.observations, original[0])
    assert torch.equal(second.states, original[1])
    Flaky.calls.clear()
    flaky(size=8, sequence_length=5)
    assert Flaky.calls == []  # repaired: it verifies as it is


def test_an_out_of_range_label_or_an_edited_state_is_detected_and_repaired(tmp_path, caplog):
    params = PendulumImageParams(size=3, sequence_length=4, image_size=16)
    first = PendulumImageDataset(params, cache_dir=tmp_path)
    (entry,) = tmp_path.glob("*/meta.json")
    _edit(entry.parent / "observations.npy", lambda a: a.__setitem__((1, 2, 3, 4), 200))
    _edit(entry.parent / "states.npy", lambda a: a.__setitem__((2, 3, 1), a[2, 3, 1] + 1))
    with caplog.at_level(logging.WARNING):
        second = PendulumImageDataset(params, cache_dir=tmp_path)
    assert "is corrupt in chunk(s) 0 of 1" in caplog.text
    assert torch.equal(second.observations, first.observations)
    assert torch.equal(second.states, first.states)
    second.to_float(second.observations)  # every label indexes the palette


def test_verification_can_be_skipped_and_then_trusts_the_bytes(flaky, tmp_path, monkeypatch):
    flaky(size=4, sequence_length=5)
    (path,) = (tmp_path / "cache").glob("*/states.npy")
    _edit(path, lambda a: a.__setitem__(0, 7))
    monkeypatch.setenv(datacache.VERIFY_ENV, "0")
    assert (flaky(size=4, sequence_length=5).states[0] == 7).all()  # sizes check out: used
    monkeypatch.setenv(datacache.VERIFY_ENV, "1")
    assert not (flaky(size=4, sequence_length=5).states[0] == 7).any()


# --- the dataset contract ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "what"),
    [
        ("raise", "simulate(1, 5, rng) raised ZeroDivisionError: the integrator divided by zero"),
        (
            "tuple",
            "simulate(1, 5, rng) returned a tuple; it must return jepa_framework.datasets.base.",
        ),
        ("list", "simulate(1, 5, rng) returned a list; it must return"),
        ("transposed", "returned observations of shape [5, 1, 2]; expected [n, steps, F] with n=1"),
        ("varying", "returned observations of float32 [2] per frame in chunk 0 (trajectories"),
    ],
)
def test_a_simulate_that_breaks_the_contract_is_a_plugin_error_naming_it(flaky, mode, what):
    with pytest.raises(PluginError) as caught:
        flaky(size=4, sequence_length=5, mode=mode)
    assert str(caught.value).startswith(WHO)
    assert what in str(caught.value)
    if mode == "raise":
        assert isinstance(caught.value.__cause__, ZeroDivisionError)


def test_fresh_trajectories_of_another_shape_are_refused_before_they_are_used(flaky):
    dataset = flaky(size=4, sequence_length=5, mode="video_differs")
    with pytest.raises(PluginError, match=r"float32 \[3\] per frame in generate\(1, 9, seed=0\)"):
        dataset.generate(1, 9, 0)


def test_a_broken_dataset_exits_2_before_any_run_folder_or_cache_entry(flaky, tmp_path, capsys):
    args = ["run", "circle", *TINY, "data.dataset.name=flaky", "data.dataset.mode=tuple"]
    assert main([*args, f"output.dir={tmp_path / 'runs'}"]) == 2
    assert f"jepa: error: {WHO}" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()
    assert not [p for p in (tmp_path / "cache").iterdir() if p.suffix != ".lock"]


def test_non_finite_data_is_refused_naming_the_trajectory(flaky, tmp_path, capsys):
    args = ["run", "circle", *TINY, "data.dataset.name=flaky", "data.dataset.mode=nan"]
    assert main([*args, f"output.dir={tmp_path / 'runs'}"]) == 2
    err = capsys.readouterr().err
    assert f"jepa: error: {WHO}" in err
    assert "1 non-finite values (NaN or inf) in observations in chunk 0" in err
    assert "the first is trajectory 5" in err and "nothing was cached" in err
    assert not (tmp_path / "runs").exists()
    assert not [p for p in (tmp_path / "cache").iterdir() if p.suffix != ".lock"]


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_an_exploding_pendulum_exits_2_with_a_fix(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("JEPA_CACHE_DIR", str(tmp_path / "cache"))
    physics = ["data.dataset.velocity_max=100", "data.dataset.dt=1.0", "data.dataset.substeps=1"]
    assert main(["run", "pendulum", *TINY, *physics, f"output.dir={tmp_path / 'runs'}"]) == 2
    err = capsys.readouterr().err
    assert "dataset 'pendulum' (plugin 'builtin_datasets'" in err and "non-finite" in err
    assert "lower data.dataset.dt or raise data.dataset.substeps" in err
    assert not (tmp_path / "runs").exists()
    assert not [p for p in (tmp_path / "cache").iterdir() if p.suffix != ".lock"]


# --- a full disk -------------------------------------------------------------------------------


def test_a_full_disk_at_allocation_exits_2_leaves_nothing_and_a_rerun_completes(
    tmp_path, capsys, monkeypatch
):
    cache = tmp_path / "cache"
    monkeypatch.setenv("JEPA_CACHE_DIR", str(cache))

    def full(fd, offset, length):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "posix_fallocate", full, raising=False)
    args = ["run", "pendulum", *TINY, f"output.dir={tmp_path / 'runs'}"]
    assert main(args) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "not enough disk space for the dataset cache" in err
    assert str(cache / "pendulumdataset-") in err
    assert "JEPA_CACHE_DIR" in err and "data.dataset.cache=false" in err
    assert not list(cache.glob("*.partial")) and not list(cache.glob("*/meta.json"))
    assert not (tmp_path / "runs").exists()
    monkeypatch.undo()  # space is freed: the same data is now generated and cached
    dataset = PendulumDataset(PendulumParams(size=24, sequence_length=12), cache_dir=cache)
    assert len(dataset) == 24 and len(list(cache.glob("*/meta.json"))) == 1
    assert not list(cache.glob("*.partial"))


@pytest.fixture
def small_filesystem(tmp_path):
    """A real 4 MiB tmpfs (root only, where mounting is allowed; else the test is skipped)."""
    where = tmp_path / "fs"
    where.mkdir()
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("mounting a tmpfs needs root")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(where)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield where
    finally:
        gc.collect()  # maps of its files held by a traceback keep the filesystem busy
        if subprocess.run(["umount", str(where)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(where)], check=False)  # detached when unused


def test_a_real_full_filesystem_is_an_error_not_a_sigbus(small_filesystem):
    filler = small_filesystem / "filler"
    filler.write_bytes(b"\0" * (3 * 2**20 + 2**19))  # half a MiB left; the data needs 0.75
    params = PendulumImageParams(size=64, sequence_length=12, image_size=32)
    with pytest.raises(JepaError, match="not enough disk space") as caught:
        PendulumImageDataset(params, cache_dir=small_filesystem / "cache")
    assert str(small_filesystem / "cache") in str(caught.value)
    assert not list((small_filesystem / "cache").glob("*.partial"))
    del caught  # its traceback holds maps of the removed files, whose space tmpfs keeps
    filler.unlink()  # space is freed: the same dataset is now cached
    dataset = PendulumImageDataset(params, cache_dir=small_filesystem / "cache")
    assert len(dataset) == 64 and len(list(small_filesystem.glob("cache/*/meta.json"))) == 1


def test_the_verification_benchmark_runs_at_a_tiny_size(benchmark_script, tmp_path, capsys):
    bench = benchmark_script("bench_cache_verify")
    bench.main(["--gb", "0.002", "--dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert "GB/s" in out and "verified" in out
    assert not list(tmp_path.iterdir())  # the generated cache is removed afterwards
