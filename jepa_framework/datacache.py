"""Datasets larger than memory: chunked generation into ``.npy`` files read through a memory map.

A dataset is generated a fixed number of trajectories at a time, each chunk with its own random
generator spawned from the data seed. The chunk size is a power of two that keeps a chunk near
:data:`CHUNK_BYTES`, from the size of one trajectory (one probe call of ``simulate``): it depends
on the dataset's params, never on the machine, so the data of a seed is the same everywhere.
Chunks go straight into their place in the output: an array in memory (``cache: false``) or
``.npy`` files opened with ``open_memmap`` in a temporary directory, so only one chunk is ever
held in anonymous memory.

A cache entry is a directory ``observations.npy``, ``states.npy`` and ``meta.json`` (shapes,
dtypes, and a checksum of the states and of up to :data:`SAMPLED_ROWS` evenly spaced
trajectories: cheap to verify at every load, and it catches truncation and misplaced chunks).
It is written under a temporary name, fsynced and renamed into place, all while an exclusive
file lock for that entry is held: two processes that need the same data never both generate
it, and neither reads a half-written entry.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import filelock
import numpy as np

from jepa_framework.errors import PluginError

log = logging.getLogger(__name__)

#: bytes of one chunk (observations and states) that the chunk size aims at
CHUNK_BYTES = 128 * 2**20
#: most trajectories in one chunk (small vectors: a whole 10k set in one vectorised call)
MAX_CHUNK = 65536
#: version of the layout and of how chunks are seeded; part of every cache key
FORMAT = 2
#: trajectories of observations hashed into the checksum (all of ``states`` is hashed)
SAMPLED_ROWS = 64
ARRAYS = ("observations", "states")

#: simulate(n, steps, rng) -> object with ``observations`` and ``states`` arrays
Simulate = Callable[[int, int, np.random.Generator], Any]


@attrs.define
class Timings:
    """Seconds spent simulating and writing, summed over chunks."""

    generation_s: float = 0.0
    cache_write_s: float = 0.0


def _name(simulate: Simulate) -> str:
    return getattr(simulate, "__qualname__", "simulate")


def chunk_size(simulate: Simulate, steps: int) -> int:
    """Trajectories per chunk: the largest power of two whose chunk fits :data:`CHUNK_BYTES`."""
    probe = simulate(1, steps, np.random.default_rng(0))
    per_trajectory = np.asarray(probe.observations).nbytes + 4 * np.asarray(probe.states).size
    fits = max(1, CHUNK_BYTES // max(1, per_trajectory))
    return min(MAX_CHUNK, 1 << (fits.bit_length() - 1))


def chunks(n: int, seed: int, size: int) -> Iterator[tuple[int, int, np.random.Generator]]:
    """(start, stop, rng) of every chunk: chunk i always draws from child i of the seed."""
    children = np.random.SeedSequence(seed).spawn(max(1, -(-n // size)))
    for i, child in enumerate(children):
        yield i * size, min(n, (i + 1) * size), np.random.default_rng(child)


Allocate = Callable[[str, tuple[int, ...], np.dtype], np.ndarray]


def generate_into(
    simulate: Simulate, n: int, steps: int, seed: int, allocate: Allocate, timings: Timings
) -> dict[str, np.ndarray]:
    """Run ``simulate`` chunk by chunk into arrays made by ``allocate(name, shape, dtype)``.

    The first chunk fixes the shape and dtype of one trajectory (states become float32); every
    later chunk must match it.
    """
    out: dict[str, np.ndarray] = {}
    tic = time.perf_counter()
    size = chunk_size(simulate, steps)
    timings.generation_s += time.perf_counter() - tic
    for start, stop, rng in chunks(n, seed, size):
        tic = time.perf_counter()
        data = simulate(stop - start, steps, rng)
        parts = {
            "observations": np.asarray(data.observations),
            "states": np.asarray(data.states, dtype=np.float32),
        }
        timings.generation_s += time.perf_counter() - tic
        tic = time.perf_counter()
        for name, part in parts.items():
            if part.shape[:2] != (stop - start, steps):
                raise PluginError(
                    f"{_name(simulate)}({stop - start}, {steps}, rng) returned {name} of shape "
                    f"{part.shape}; expected [{stop - start}, {steps}, ...]"
                )
            if name not in out:
                out[name] = allocate(name, (n, *part.shape[1:]), part.dtype)
            elif part.shape[1:] != out[name].shape[1:] or part.dtype != out[name].dtype:
                raise PluginError(
                    f"{_name(simulate)} returned {name} of {part.dtype} {list(part.shape[2:])} "
                    f"per frame in one chunk and {out[name].dtype} {list(out[name].shape[2:])} "
                    "in another; every call must return the same shape and dtype per frame"
                )
            out[name][start:stop] = part
        timings.cache_write_s += time.perf_counter() - tic
    return out


def in_memory(
    simulate: Simulate, n: int, steps: int, seed: int, timings: Timings
) -> dict[str, np.ndarray]:
    """The whole dataset in memory (``cache: false``); the same data the cache would hold."""
    arrays = generate_into(
        simulate, n, steps, seed, lambda _, shape, dtype: np.empty(shape, dtype), timings
    )
    timings.generation_s += timings.cache_write_s  # copying chunks into place is generation here
    timings.cache_write_s = 0.0
    return arrays


def checksum(arrays: dict[str, np.ndarray]) -> str:
    """blake2b of all states and of up to :data:`SAMPLED_ROWS` evenly spaced trajectories."""
    n = arrays["observations"].shape[0]
    rows = np.unique(np.linspace(0, n - 1, min(n, SAMPLED_ROWS)).round().astype(np.intp))
    h = hashlib.blake2b(digest_size=16)
    h.update(np.ascontiguousarray(arrays["states"]).data)
    h.update(np.ascontiguousarray(arrays["observations"][rows]).data)
    return h.hexdigest()


def _fsync(path: Path) -> None:
    """Flush a file, or a directory's entries, to disk (directories: where the OS allows it)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        if path.is_dir():  # Windows cannot open a directory; its rename is durable enough
            return
        raise
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@attrs.frozen
class CacheEntry:
    """One cached dataset: a directory that is either complete and valid, or absent."""

    path: Path

    def __str__(self) -> str:
        return str(self.path)

    @property
    def partial(self) -> Path:
        return self.path.with_name(self.path.name + ".partial")

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the entry's exclusive lock (other processes wait here, saying so)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = filelock.FileLock(str(self.path) + ".lock")
        try:
            lock.acquire(timeout=1)
        except filelock.Timeout:
            log.info("waiting for another process to finish writing %s", self.path)
            lock.acquire()
        try:
            yield
        finally:
            lock.release()

    def read(self, n: int, steps: int) -> dict[str, np.ndarray] | None:
        """Copy-on-write memory maps of a valid entry, or ``None`` if absent, partial or corrupt.

        Copy-on-write (``mmap_mode="c"``): pages are shared with the page cache and with other
        processes until written, and a stray write can never reach the file.
        """
        try:
            meta = json.loads((self.path / "meta.json").read_text())
            if meta.get("format") != FORMAT:
                return None
            arrays = {}
            for name in ARRAYS:
                file = self.path / f"{name}.npy"
                array = np.load(file, mmap_mode="c", allow_pickle=False)
                if (
                    list(array.shape) != meta[name]["shape"]
                    or str(array.dtype) != meta[name]["dtype"]
                    or array.shape[:2] != (n, steps)
                    or file.stat().st_size != array.offset + array.nbytes
                ):
                    return None
                arrays[name] = array
            return arrays if checksum(arrays) == meta["checksum"] else None
        except Exception:  # any damage (missing file, truncation, bad JSON) means regenerate
            return None

    def exists(self) -> bool:
        return self.path.exists()

    def write(self, simulate: Simulate, n: int, steps: int, seed: int, timings: Timings) -> None:
        """Generate into ``<entry>.partial``, fsync, then rename it into place (call locked)."""
        for stale in (self.partial, self.path):  # left by a killed writer, or found corrupt
            shutil.rmtree(stale, ignore_errors=True)
        self.partial.mkdir(parents=True)

        def allocate(name: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
            file = self.partial / f"{name}.npy"
            return np.lib.format.open_memmap(file, mode="w+", dtype=dtype, shape=shape)

        try:
            arrays = generate_into(simulate, n, steps, seed, allocate, timings)
            tic = time.perf_counter()
            meta: dict[str, Any] = {"format": FORMAT, "checksum": checksum(arrays)}
            for name, array in arrays.items():
                meta[name] = {"shape": list(array.shape), "dtype": str(array.dtype)}
                array.flush()
                _fsync(self.partial / f"{name}.npy")
            del arrays
            (self.partial / "meta.json").write_text(json.dumps(meta, indent=1))
            _fsync(self.partial / "meta.json")
            _fsync(self.partial)
            os.replace(self.partial, self.path)
            _fsync(self.path.parent)
            timings.cache_write_s += time.perf_counter() - tic
        except BaseException:
            shutil.rmtree(self.partial, ignore_errors=True)
            raise
