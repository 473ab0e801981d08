"""The on-disk dataset cache: chunked generation, memory maps, corruption, locking, cache keys."""

from __future__ import annotations

import importlib
import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from jepa_builtins.datasets import (
    CircleDataset,
    CircleParams,
    PendulumDataset,
    PendulumImageDataset,
    PendulumImageParams,
    PendulumParams,
)

from jepa_framework.commands.cli import main
from jepa_framework.core.errors import PluginError
from jepa_framework.core.provenance import code_identity
from jepa_framework.datasets import base as data_module
from jepa_framework.datasets import cache as datacache
from jepa_framework.datasets.base import DatasetParams, Trajectories, VectorDataset

from ..conftest import TINY


def _mapped_files() -> str:
    return Path("/proc/self/maps").read_text()


# --- chunked generation -------------------------------------------------------------------------


def test_chunks_make_the_same_data_in_memory_on_disk_and_mapped(tmp_path, monkeypatch):
    monkeypatch.setattr(datacache, "CHUNK_BYTES", 4 * 5 * (16 * 16 + 4 * 4))  # 3 chunks of 4

    def build(**kw):
        params = PendulumImageParams(size=10, sequence_length=5, image_size=16, **kw)
        return PendulumImageDataset(params, cache_dir=tmp_path)

    memory, mapped, cached = build(cache=False), build(storage="mmap"), build(storage="memory")
    assert (memory.storage, mapped.storage, cached.storage) == ("memory", "mmap", "memory")
    for other in (mapped, cached):
        assert torch.equal(memory.observations, other.observations)
        assert torch.equal(memory.states, other.states)
    # chunk i draws from its own generator: the first chunk of a larger set is a smaller set
    small = PendulumImageDataset(
        PendulumImageParams(size=4, sequence_length=5, image_size=16, cache=False)
    )
    assert torch.equal(small.states, memory.states[:4])
    assert not torch.equal(memory.states[:4, 0], memory.states[4:8, 0])


def test_a_simulate_that_changes_shape_between_chunks_is_a_plugin_error(monkeypatch):
    monkeypatch.setattr(datacache, "MAX_CHUNK", 2)

    class Shifty(VectorDataset):
        calls = 0

        def simulate(self, n, steps, rng):  # one more column on every call
            type(self).calls += 1
            obs = np.zeros((n, steps, 1 + self.calls), np.float32)
            return Trajectories(obs, obs)

    with pytest.raises(
        PluginError, match=r"Shifty: simulate returned observations of float32 \[3\] per frame in"
    ):
        Shifty(DatasetParams(size=4, sequence_length=3, cache=False))


# --- storage: memory or a memory map ------------------------------------------------------------


def test_mmap_storage_maps_the_cache_file_and_never_writes_it(tmp_path):
    params = PendulumImageParams(size=3, sequence_length=4, storage="mmap")
    mapped = PendulumImageDataset(params, cache_dir=tmp_path)
    (path,) = tmp_path.glob("*/observations.npy")
    assert str(path) in _mapped_files()
    original = mapped.observations.clone()
    mapped.observations[0] += 1  # copy-on-write: this process's pages only
    again = PendulumImageDataset(params, cache_dir=tmp_path)
    assert torch.equal(again.observations, original)


def test_auto_storage_maps_only_datasets_above_the_memory_limit(tmp_path, monkeypatch):
    params = PendulumParams(size=3, sequence_length=4)
    assert PendulumDataset(params, cache_dir=tmp_path).storage == "memory"
    monkeypatch.setattr(data_module, "MEMORY_LIMIT_BYTES", 0)
    assert PendulumDataset(params, cache_dir=tmp_path).storage == "mmap"


def test_an_unknown_storage_is_rejected():
    with pytest.raises(ValueError, match="'storage' must be in"):
        PendulumParams(storage="ram")


def test_a_memory_mapped_dataset_trains_end_to_end(tmp_path):
    args = ["run", "pendulum_image", *TINY, "data.dataset.storage=mmap", "eval.enabled=false"]
    assert main([*args, f"output.dir={tmp_path}"]) == 0
    (run,) = tmp_path.iterdir()
    assert "'storage': 'mmap'" in (run / "run.log").read_text()
    metrics = json.loads((run / "metrics.json").read_text())
    assert np.isfinite(metrics["history"]["jepa"][-1]["train_loss"])
    assert (run / "reconstruction.png").exists()


# --- corruption ---------------------------------------------------------------------------------


def test_a_corrupt_byte_of_the_right_size_file_is_caught_by_the_checksum(tmp_path, caplog):
    params = PendulumImageParams(size=3, sequence_length=4, image_size=16)
    first = PendulumImageDataset(params, cache_dir=tmp_path)
    (path,) = tmp_path.glob("*/observations.npy")
    raw = bytearray(path.read_bytes())
    raw[-5] ^= 0xFF
    path.write_bytes(bytes(raw))
    with caplog.at_level(logging.WARNING):
        second = PendulumImageDataset(params, cache_dir=tmp_path)
    assert "is corrupt in chunk(s) 0 of 1" in caplog.text
    assert torch.equal(first.observations, second.observations)


def test_a_missing_sidecar_means_regenerate(tmp_path, monkeypatch):
    params = PendulumParams(size=3, sequence_length=4)
    PendulumDataset(params, cache_dir=tmp_path)
    (meta,) = tmp_path.glob("*/meta.json")
    meta.unlink()
    calls = []
    original = PendulumDataset.simulate
    monkeypatch.setattr(
        PendulumDataset, "simulate", lambda self, *a: calls.append(1) or original(self, *a)
    )
    PendulumDataset(params, cache_dir=tmp_path)
    assert calls and meta.exists()


# --- two processes ------------------------------------------------------------------------------

SLOW_DATASET = """
    import os, time
    import numpy as np
    from jepa_framework.datasets.base import Trajectories, VectorDataset

    class SlowDataset(VectorDataset):
        calls = 0

        def simulate(self, n, steps, rng):
            x = rng.standard_normal((n, steps, 2)).astype(np.float32)
            if n == 1:  # the framework's probe of one trajectory's size
                return Trajectories(x, x)
            with open(os.environ["SIMULATE_LOG"], "a") as f:
                f.write(f"{os.getpid()}\\n")
            type(self).calls += 1
            hold = self.calls >= int(os.environ["HOLD_AT_CALL"])
            while hold and not os.path.exists(os.environ["RELEASE"]):  # until the test says go
                time.sleep(0.01)
            return Trajectories(x, x)
"""
BUILD = """
import hashlib, logging, sys
logging.basicConfig(level=logging.INFO)
from pathlib import Path
from slow_dataset import SlowDataset
from jepa_framework.datasets.base import DatasetParams
params = DatasetParams(size=int(sys.argv[2]), sequence_length=5)
ds = SlowDataset(params, cache_dir=Path(sys.argv[1]))
print(hashlib.sha256(ds.observations.numpy().tobytes()).hexdigest())
"""


def _start(tmp_path: Path, name: str, size: int = 8, hold_at_call: int = 1) -> subprocess.Popen:
    """A process that builds the slow dataset; its stdout and stderr go to ``name``.out/.err."""
    (tmp_path / "slow_dataset.py").write_text(textwrap.dedent(SLOW_DATASET))
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path]),
        "SIMULATE_LOG": str(tmp_path / "simulate.log"),
        "RELEASE": str(tmp_path / "release"),
        "HOLD_AT_CALL": str(hold_at_call),
    }
    cmd = [sys.executable, "-c", BUILD, str(tmp_path / "cache"), str(size)]
    with open(tmp_path / f"{name}.out", "w") as out, open(tmp_path / f"{name}.err", "w") as err:
        return subprocess.Popen(cmd, stdout=out, stderr=err, text=True, env=env)


def _wait_until(condition, what: str) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.01)


def test_two_processes_needing_one_cache_generate_it_once(tmp_path):
    first = _start(tmp_path, "first")
    _wait_until((tmp_path / "simulate.log").exists, "the first process is generating")
    second = _start(tmp_path, "second")
    _wait_until(
        lambda: "waiting for another process" in (tmp_path / "second.err").read_text(),
        "the second process waits on the lock",
    )
    (tmp_path / "release").touch()  # now the first may finish writing
    assert first.wait(timeout=120) == 0, (tmp_path / "first.err").read_text()
    assert second.wait(timeout=120) == 0, (tmp_path / "second.err").read_text()
    # the second read the finished entry, not a half-written one
    assert (tmp_path / "first.out").read_text() == (tmp_path / "second.out").read_text()
    pids = (tmp_path / "simulate.log").read_text().split()
    assert pids == [str(first.pid)]  # simulate ran once, in the first process


def test_a_writer_killed_mid_generation_leaves_nothing_that_is_read(tmp_path):
    size = datacache.MAX_CHUNK + 2  # two chunks; killed while simulating the second
    first = _start(tmp_path, "first", size=size, hold_at_call=2)
    log = tmp_path / "simulate.log"
    _wait_until(lambda: log.exists() and len(log.read_text().split()) == 2, "chunk 2 starts")
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    (partial,) = (tmp_path / "cache").glob("*.partial")  # it died with half an entry
    assert (partial / "observations.npy").exists() and not (partial / "meta.json").exists()
    (tmp_path / "release").touch()
    second = _start(tmp_path, "second", size=size)
    assert second.wait(timeout=120) == 0, (tmp_path / "second.err").read_text()
    assert not partial.exists() and len(list((tmp_path / "cache").glob("*/meta.json"))) == 1
    assert len(log.read_text().split()) == 4  # regenerated whole: two chunks again


# --- the cache key names the code ---------------------------------------------------------------

MODULE = """
    import numpy as np
    from jepa_framework.datasets.base import Trajectories, VectorDataset

    class Walk(VectorDataset):
        def simulate(self, n, steps, rng):
            x = rng.standard_normal((n, steps, 2)).astype(np.float32) * SCALE
            return Trajectories(x, x)

    SCALE = {scale}
"""


def _import_fresh(root: Path, name: str, monkeypatch):
    monkeypatch.syspath_prepend(str(root))
    sys.modules.pop(name, None)
    importlib.invalidate_caches()
    return importlib.import_module(name)


def test_editing_unpackaged_simulate_code_changes_the_cache_key(tmp_path, monkeypatch):
    params = DatasetParams(size=2, sequence_length=3)
    (tmp_path / "walk_plain.py").write_text(textwrap.dedent(MODULE.format(scale=1.0)))
    before = _import_fresh(tmp_path, "walk_plain", monkeypatch).Walk(params, tmp_path / "c")
    (tmp_path / "walk_plain.py").write_text(textwrap.dedent(MODULE.format(scale=2.0)))
    after = _import_fresh(tmp_path, "walk_plain", monkeypatch).Walk(params, tmp_path / "c")
    assert before.cache_key() != after.cache_key()
    torch.testing.assert_close(after.observations, 2 * before.observations)  # not stale


def test_a_packaged_dataset_is_keyed_by_its_distribution_version(tmp_path, monkeypatch):
    info = tmp_path / "walk_dist-1.0.dist-info"
    info.mkdir()
    (info / "top_level.txt").write_text("walk_pkg\n")

    def identity(version: str) -> tuple:
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: walk-dist\nVersion: {version}\n"
        )
        code_identity.cache_clear()
        return code_identity(module.Walk)

    (tmp_path / "walk_pkg.py").write_text(textwrap.dedent(MODULE.format(scale=1.0)))
    module = _import_fresh(tmp_path, "walk_pkg", monkeypatch)
    assert identity("1.0") == (("distribution", "walk-dist==1.0"),)
    assert identity("1.1") == (("distribution", "walk-dist==1.1"),)
    code_identity.cache_clear()


def test_builtin_datasets_are_keyed_by_the_framework_distribution():
    identity = dict(code_identity(CircleDataset))
    assert identity["distribution"].startswith("jepa-framework==")
    key = CircleDataset(CircleParams(size=2, sequence_length=3, cache=False)).cache_key()
    other = CircleDataset(CircleParams(size=2, sequence_length=3, storage="mmap", cache=False))
    assert other.cache_key() == key  # how data is read is not part of what it is
