"""Datasets larger than memory: chunked generation into ``.npy`` files read through a memory map.

A dataset is generated a fixed number of trajectories at a time, each chunk with its own random
generator spawned from the data seed. The chunk size is a power of two that keeps a chunk near
:data:`CHUNK_BYTES`, from the size of one trajectory (one probe call of ``simulate``): it depends
on the dataset's params, never on the machine, so the data of a seed is the same everywhere.
Chunks go straight into their place in the output: an array in memory (``cache: false``) or
``.npy`` files opened with ``open_memmap`` in a temporary directory, so only one chunk is ever
held in anonymous memory. The files' blocks are reserved (``posix_fallocate``, where the OS and
filesystem have it) before the first chunk is simulated, so a full disk is a
:class:`~jepa_framework.core.errors.JepaError` naming the cache and the space it needs, never a
SIGBUS
on a write through the map.

Every chunk is checked before it is stored or trained on: ``simulate`` must return an object
with ``observations`` and ``states`` arrays (a tuple or list is refused), numeric, of shape
``[n, steps, ...]``, with the per-frame shape and dtype of the probe call, and finite. Anything
else, or an exception raised inside ``simulate``, is a
:class:`~jepa_framework.core.errors.PluginError`
naming the dataset and its plugin (:class:`Contract`).

A dataset that declares an action space (:attr:`Contract.action_width`) stores a third array,
``actions`` [N, T, A], chunked, checked and digested exactly like the other two; an entry
without actions is laid out as before, so existing caches stay valid.

A cache entry is a directory ``observations.npy``, ``states.npy`` and ``meta.json`` (shapes,
dtypes, the chunk size and an xxh3-128 digest of every chunk of each array, so every byte of
data is covered). The digests are verified each time an entry is used, in threads, reading the
files directly (``JEPA_CACHE_VERIFY=0`` skips this, keeping only the checks of meta and file
sizes); a chunk that fails is regenerated alone, in place, from its own generator. An entry is
written under a temporary name, fsynced and renamed into place, all while an exclusive file lock
for that entry is held: two processes that need the same data never both generate it, and
neither reads a half-written entry.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import attrs
import filelock
import numpy as np
import xxhash

from jepa_framework.core.errors import JepaError, PluginError

log = logging.getLogger(__name__)

#: bytes of one chunk (observations and states) that the chunk size aims at
CHUNK_BYTES = 128 * 2**20
#: most trajectories in one chunk (small vectors: a whole 10k set in one vectorised call)
MAX_CHUNK = 65536
#: version of the layout and of how chunks are seeded; part of every cache key
FORMAT = 3
#: the digest stored in meta.json for every chunk of each array
DIGEST = "xxh3_128"
#: ``JEPA_CACHE_VERIFY=0`` trusts an entry's bytes without hashing them (sizes are still checked)
VERIFY_ENV = "JEPA_CACHE_VERIFY"
#: bytes read from a file per step while verifying
READ_BLOCK = 16 * 2**20
ARRAYS = ("observations", "states")
#: the optional array of datasets with an action space: the action between frame t and t+1
ACTIONS = "actions"
#: errno values that mean the cache's filesystem (or the user's quota there) is full
NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
#: errno values of a ``posix_fallocate`` that the filesystem does not support
NO_FALLOCATE = {errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS, getattr(errno, "ENOTSUP", 95)}

#: simulate(n, steps, rng) -> object with ``observations`` and ``states`` arrays
Simulate = Callable[[int, int, np.random.Generator], Any]
#: per-chunk digests of each array: {"observations": [hex, ...], "states": [hex, ...]}
Digests = dict[str, list[str]]


@attrs.define
class Timings:
    """Seconds spent simulating and writing, summed over chunks."""

    generation_s: float = 0.0
    cache_write_s: float = 0.0


@attrs.frozen
class Contract:
    """Who provides ``simulate`` (named in every error) and what its arrays must look like."""

    #: e.g. "dataset 'pendulum' (plugin 'builtin_datasets', class ...)"
    who: str
    #: dimensions of one stored observation (1 for vectors); ``None``: any
    frame_ndim: int | None = None
    #: columns of ``states`` (one per state name); ``None``: any
    state_width: int | None = None
    #: what to try when the data is not finite
    finite_hint: str = "Fix the dataset's simulate() or its params under data.dataset."
    #: width of ``actions`` [n, steps, A] when the dataset declares an action space, else None
    action_width: int | None = None

    @property
    def arrays(self) -> tuple[str, ...]:
        """The arrays every ``simulate`` call returns and the cache stores."""
        return ARRAYS if self.action_width is None else (*ARRAYS, ACTIONS)


@attrs.frozen
class Layout:
    """Per-frame shape and dtype of each array: what every chunk must match (from the probe)."""

    frames: dict[str, tuple[int, ...]]
    dtypes: dict[str, np.dtype]

    @classmethod
    def of(cls, arrays: dict[str, np.ndarray]) -> Layout:
        """The layout of arrays [N, T, ...] (a probe call's output, or a stored dataset)."""
        names = [name for name in (*ARRAYS, ACTIONS) if name in arrays]
        return cls(
            {name: tuple(arrays[name].shape[2:]) for name in names},
            {name: arrays[name].dtype for name in names},
        )

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> Layout:
        names = [name for name in (*ARRAYS, ACTIONS) if name in meta]
        return cls(
            {name: tuple(meta[name]["shape"][2:]) for name in names},
            {name: np.dtype(meta[name]["dtype"]) for name in names},
        )

    def trajectory_bytes(self, steps: int) -> int:
        return sum(
            steps * int(np.prod(self.frames[name], dtype=np.int64)) * self.dtypes[name].itemsize
            for name in self.frames
        )


@attrs.frozen
class Generated:
    """A generated dataset: its arrays, the chunk size used, and each chunk's digests."""

    arrays: dict[str, np.ndarray]
    chunk: int
    digests: Digests


def _kind(value: object) -> str:
    return f"a {type(value).__name__}" if value is not None else "None"


def _as_array(value: object, name: str, where: str) -> np.ndarray:
    """``value`` as a numeric array (states as float32), or a PluginError saying what it is."""
    try:
        array = np.asarray(value)
    except Exception as exc:  # ragged lists, tensors that need grad, objects numpy refuses
        raise PluginError(
            f"{where} returned {name} that is not an array ({type(exc).__name__}: {exc})"
        ) from exc
    if array.dtype.kind not in "biuf":
        raise PluginError(
            f"{where} returned {name} of dtype {array.dtype} ({_kind(value)}); expected a numpy "
            "array of numbers"
        )
    return array.astype(np.float32, copy=False) if name in ("states", ACTIONS) else array


def _check_shapes(parts: dict[str, np.ndarray], contract: Contract, n: int, steps: int) -> None:
    where = f"{contract.who}: simulate({n}, {steps}, rng)"
    obs, states = parts["observations"], parts["states"]
    obs_ndim = None if contract.frame_ndim is None else 2 + contract.frame_ndim
    if obs.shape[:2] != (n, steps) or obs.ndim < 2 or obs_ndim not in (None, obs.ndim):
        want = "[n, steps, ...]" if obs_ndim is None else "[n, steps" + ", F" * (obs_ndim - 2) + "]"
        raise PluginError(
            f"{where} returned observations of shape {list(obs.shape)}; expected {want} with "
            f"n={n}, steps={steps}"
        )
    width = contract.state_width
    if states.ndim != 3 or states.shape[:2] != (n, steps) or width not in (None, states.shape[2]):
        raise PluginError(
            f"{where} returned states of shape {list(states.shape)}; expected "
            f"[{n}, {steps}, {width if width is not None else 'S'}] (one column per state name)"
        )
    actions, width = parts.get(ACTIONS), contract.action_width
    if actions is not None and (actions.ndim != 3 or actions.shape != (n, steps, width)):
        raise PluginError(
            f"{where} returned actions of shape {list(actions.shape)}; expected [{n}, {steps}, "
            f"{width}] (the action between frame t and t+1, one column per dimension of the "
            "dataset's action_space; the last frame's row is padding)"
        )


def run_simulate(
    simulate: Simulate, contract: Contract, n: int, steps: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """``simulate(n, steps, rng)`` as checked arrays; any failure is a PluginError naming who."""
    where = f"{contract.who}: simulate({n}, {steps}, rng)"
    try:
        data = simulate(n, steps, rng)
    except JepaError:
        raise
    except Exception as exc:  # a plugin's simulate may fail in any way
        raise PluginError(
            f"{where} raised {type(exc).__name__}: {exc}. Fix the dataset's simulate(), or its "
            "params under data.dataset."
        ) from exc
    if isinstance(data, (tuple, list)) or not all(hasattr(data, name) for name in ARRAYS):
        raise PluginError(
            f"{where} returned {_kind(data)}; it must return "
            "jepa_framework.datasets.base.Trajectories(observations, states), "
            "numpy arrays [n, steps, ...]"
        )
    if contract.action_width is not None and getattr(data, ACTIONS, None) is None:
        raise PluginError(
            f"{where} returned no actions, but the dataset declares an action space of "
            f"{contract.action_width} dimension(s); return Trajectories(observations, states, "
            f"actions) with actions [n, steps, {contract.action_width}]"
        )
    parts = {name: _as_array(getattr(data, name), name, where) for name in contract.arrays}
    _check_shapes(parts, contract, n, steps)
    return parts


def check_like(parts: dict[str, np.ndarray], layout: Layout, contract: Contract, what: str) -> None:
    """Every array has the per-frame shape and dtype of ``layout``."""
    for name, part in parts.items():
        frame, want = tuple(part.shape[2:]), layout.frames[name]
        if frame != want or part.dtype != layout.dtypes[name]:
            raise PluginError(
                f"{contract.who}: simulate returned {name} of {part.dtype} {list(frame)} per "
                f"frame {what}, and {layout.dtypes[name]} {list(want)} in the probe call that "
                "sized the chunks (n=1); every call must return the same shape and dtype per frame"
            )


def check_finite(parts: dict[str, np.ndarray], contract: Contract, start: int, what: str) -> None:
    """Every float array is finite; else a PluginError with the count and the first trajectory."""
    for name, part in parts.items():
        if part.dtype.kind != "f":
            continue
        finite = np.isfinite(part)
        if finite.all():
            continue
        rows = np.flatnonzero(~finite.reshape(len(part), -1).all(axis=1))
        raise PluginError(
            f"{contract.who}: simulate produced {finite.size - np.count_nonzero(finite)} "
            f"non-finite values (NaN or inf) in {name} {what}, in {len(rows)} of {len(part)} "
            f"trajectories (the first is trajectory {start + int(rows[0])}); nothing was cached "
            "or trained on. "
            f"{contract.finite_hint}"
        )


def probe(simulate: Simulate, contract: Contract, steps: int) -> Layout:
    """The layout every chunk must have, from one trajectory (checked like any chunk)."""
    parts = run_simulate(simulate, contract, 1, steps, np.random.default_rng(0))
    check_finite(parts, contract, 0, "in the probe call (n=1)")
    return Layout.of(parts)


def chunk_size(layout: Layout, steps: int) -> int:
    """Trajectories per chunk: the largest power of two whose chunk fits :data:`CHUNK_BYTES`."""
    fits = max(1, CHUNK_BYTES // max(1, layout.trajectory_bytes(steps)))
    return min(MAX_CHUNK, 1 << (fits.bit_length() - 1))


def n_chunks(n: int, size: int) -> int:
    return max(1, -(-n // size))


def chunks(n: int, seed: int, size: int) -> Iterator[tuple[int, int, np.random.Generator]]:
    """(start, stop, rng) of every chunk: chunk i always draws from child i of the seed."""
    children = np.random.SeedSequence(seed).spawn(n_chunks(n, size))
    for i, child in enumerate(children):
        yield i * size, min(n, (i + 1) * size), np.random.default_rng(child)


def simulate_chunk(
    simulate: Simulate,
    contract: Contract,
    layout: Layout,
    steps: int,
    index: int,
    chunk: tuple[int, int, np.random.Generator],
) -> dict[str, np.ndarray]:
    """One chunk's arrays, checked against ``layout`` and for finite values."""
    start, stop, rng = chunk
    what = f"in chunk {index} (trajectories {start}-{stop - 1})"
    parts = run_simulate(simulate, contract, stop - start, steps, rng)
    check_like(parts, layout, contract, what)
    check_finite(parts, contract, start, what)
    return parts


def digest(array: np.ndarray) -> str:
    """xxh3-128 of an array's bytes in C order (what its rows hold in a ``.npy`` file)."""
    return xxhash.xxh3_128_hexdigest(np.ascontiguousarray(array).reshape(-1).view(np.uint8))


#: allocate({name: (shape, dtype)}) -> {name: array}: where generated chunks go
Allocate = Callable[[dict[str, tuple[tuple[int, ...], np.dtype]]], dict[str, np.ndarray]]


def generate_into(
    simulate: Simulate,
    contract: Contract,
    n: int,
    steps: int,
    seed: int,
    allocate: Allocate,
    timings: Timings,
) -> Generated:
    """Run ``simulate`` chunk by chunk into the arrays ``allocate`` makes.

    The probe call fixes the shape and dtype of one trajectory (states become float32) and so
    the output arrays, allocated before any chunk is simulated; every chunk must match it.
    """
    tic = time.perf_counter()
    layout = probe(simulate, contract, steps)
    size = chunk_size(layout, steps)
    timings.generation_s += time.perf_counter() - tic
    names = contract.arrays
    out = allocate(
        {name: ((n, steps, *layout.frames[name]), layout.dtypes[name]) for name in names}
    )
    digests: Digests = {name: [] for name in names}
    try:
        for index, chunk in enumerate(chunks(n, seed, size)):
            tic = time.perf_counter()
            parts = simulate_chunk(simulate, contract, layout, steps, index, chunk)
            timings.generation_s += time.perf_counter() - tic
            tic = time.perf_counter()
            start, stop, _ = chunk
            for name, part in parts.items():
                out[name][start:stop] = part
                digests[name].append(digest(part))
            timings.cache_write_s += time.perf_counter() - tic
    except BaseException:
        out.clear()  # a traceback must not keep the (possibly mapped) outputs alive
        raise
    return Generated(out, size, digests)


def in_memory(
    simulate: Simulate, contract: Contract, n: int, steps: int, seed: int, timings: Timings
) -> dict[str, np.ndarray]:
    """The whole dataset in memory (``cache: false``); the same data the cache would hold."""

    def allocate(specs: dict[str, tuple[tuple[int, ...], np.dtype]]) -> dict[str, np.ndarray]:
        return {name: np.empty(shape, dtype) for name, (shape, dtype) in specs.items()}

    generated = generate_into(simulate, contract, n, steps, seed, allocate, timings)
    timings.generation_s += timings.cache_write_s  # copying chunks into place is generation here
    timings.cache_write_s = 0.0
    return generated.arrays


def verify_enabled() -> bool:
    """``False`` when ``JEPA_CACHE_VERIFY`` is 0 / false / no / off."""
    return os.environ.get(VERIFY_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def file_digest(path: Path, offset: int, length: int) -> str | None:
    """xxh3-128 of ``length`` bytes of ``path`` from ``offset``; ``None`` if the file is short.

    Read with plain reads into one buffer (the hash releases the GIL on large buffers, so
    threads verify chunks side by side), never through a memory map of this process.
    """
    h = xxhash.xxh3_128()
    buffer = memoryview(bytearray(min(READ_BLOCK, max(1, length))))
    with open(path, "rb", buffering=0) as f:
        f.seek(offset)
        while length > 0:
            got = f.readinto(buffer[: min(length, len(buffer))])
            if not got:
                return None
            h.update(buffer[:got])
            length -= got
    return h.hexdigest()


def _human(nbytes: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if nbytes < 1024 or unit == "GiB":
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1024
    return f"{nbytes:.1f} TiB"


def reserve(path: Path, offset: int, length: int) -> None:
    """Give ``length`` bytes of ``path`` from ``offset`` real blocks, so that writes through a
    memory map cannot meet a full disk (a SIGBUS); nothing where the OS or filesystem cannot."""
    fallocate = getattr(os, "posix_fallocate", None)
    if fallocate is None or length <= 0:
        return
    fd = os.open(path, os.O_RDWR)
    try:
        fallocate(fd, offset, length)
    except OSError as exc:
        if exc.errno not in NO_FALLOCATE:
            raise
    finally:
        os.close(fd)


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
class Generation:
    """What a cache entry is generated from: the dataset's ``simulate`` and its contract, how many
    trajectories of how many frames, the data seed, and where the seconds are added up."""

    simulate: Simulate
    contract: Contract
    n: int
    steps: int
    seed: int
    timings: Timings


@attrs.frozen
class CacheEntry:
    """One cached dataset: a directory that is complete (its chunks verified on use and
    regenerated in place when damaged), or absent."""

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

    def open(
        self, n: int, steps: int, names: tuple[str, ...] = ARRAYS
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]] | None:
        """Copy-on-write maps and meta of an entry whose meta, shapes and file sizes agree, or
        ``None`` if it is absent, partial, truncated or of another format (bytes unverified).

        ``names`` are the arrays the entry must hold, no more and no fewer (with actions or not).

        Copy-on-write (``mmap_mode="c"``): pages are shared with the page cache and with other
        processes until written, and a stray write can never reach the file.
        """
        try:
            meta = json.loads((self.path / "meta.json").read_text())
            if meta.get("format") != FORMAT or meta.get("digest") != DIGEST:
                return None
            if set(meta["chunks"]) != set(names):
                return None
            arrays = {}
            for name in names:
                file = self.path / f"{name}.npy"
                array = np.load(file, mmap_mode="c", allow_pickle=False)
                if (
                    list(array.shape) != meta[name]["shape"]
                    or str(array.dtype) != meta[name]["dtype"]
                    or array.shape[:2] != (n, steps)
                    or file.stat().st_size != array.offset + array.nbytes
                    or len(meta["chunks"][name]) != n_chunks(n, meta["chunk"])
                ):
                    return None
                arrays[name] = array
            return arrays, meta
        except Exception:  # any damage (missing file, truncation, bad JSON) means regenerate
            return None

    def bad_chunks(
        self, arrays: dict[str, np.ndarray], meta: dict[str, Any], only: list[int] | None = None
    ) -> list[int]:
        """Chunks (of ``only``, default all) whose bytes in either file differ from their
        digests, hashed in threads; none when ``JEPA_CACHE_VERIFY=0``."""
        if not verify_enabled():
            return []
        n, size = arrays["observations"].shape[0], meta["chunk"]
        indices = range(n_chunks(n, size)) if only is None else only
        tasks = []
        for name in arrays:
            row = arrays[name].nbytes // max(1, n)
            for i in indices:
                start, stop = i * size, min(n, (i + 1) * size)
                region = (arrays[name].offset + start * row, (stop - start) * row)
                tasks.append((i, self.path / f"{name}.npy", *region, meta["chunks"][name][i]))
        workers = max(1, min(len(tasks), os.cpu_count() or 1))
        with ThreadPoolExecutor(workers, thread_name_prefix="jepa-verify") as pool:
            digests = list(pool.map(lambda t: file_digest(t[1], t[2], t[3]), tasks))
        return sorted({t[0] for t, got in zip(tasks, digests, strict=True) if got != t[4]})

    def read(
        self, n: int, steps: int, names: tuple[str, ...] = ARRAYS
    ) -> dict[str, np.ndarray] | None:
        """Copy-on-write maps of a complete entry whose every chunk verifies, else ``None``."""
        opened = self.open(n, steps, names)
        if opened is None or self.bad_chunks(*opened):
            return None
        return opened[0]

    def exists(self) -> bool:
        return self.path.exists()

    def load(self, job: Generation) -> dict[str, np.ndarray]:
        """The entry's maps, after verifying it: used as it is, with its bad chunks regenerated
        in place, or written anew when it is missing or damaged beyond that (call locked)."""
        names = job.contract.arrays
        opened = self.open(job.n, job.steps, names)
        if opened is None:
            if self.exists():
                log.warning("dataset cache %s is corrupt or partial; regenerating it", self)
            self.write(job)
            opened = self.open(job.n, job.steps, names)
            if opened is None:
                raise OSError("it did not read back after writing")
            return opened[0]
        arrays, meta = opened
        bad = self.bad_chunks(arrays, meta)
        if not bad:
            return arrays
        log.warning(
            "dataset cache %s is corrupt in chunk(s) %s of %d; regenerating only those",
            self,
            ", ".join(map(str, bad)),
            len(meta["chunks"]["states"]),
        )
        del arrays
        self.repair(job, meta, bad)
        opened = self.open(job.n, job.steps, names)
        if opened is None or self.bad_chunks(*opened, only=bad):
            raise OSError("its regenerated chunks did not read back")
        return opened[0]

    def repair(self, job: Generation, meta: dict[str, Any], bad: list[int]) -> None:
        """Regenerate chunks ``bad`` from their own generators into the files, in place."""
        simulate, contract, seed, timings = job.simulate, job.contract, job.seed, job.timings
        layout = Layout.from_meta(meta)
        n, steps = meta["states"]["shape"][:2]
        files = {name: self.path / f"{name}.npy" for name in layout.frames}
        maps = {name: np.load(file, mmap_mode="r+") for name, file in files.items()}
        changed = False
        for index, chunk in enumerate(chunks(n, seed, meta["chunk"])):
            if index not in bad:
                continue
            tic = time.perf_counter()
            parts = simulate_chunk(simulate, contract, layout, steps, index, chunk)
            timings.generation_s += time.perf_counter() - tic
            tic = time.perf_counter()
            for name, part in parts.items():
                maps[name][chunk[0] : chunk[1]] = part
                new = digest(part)
                changed |= new != meta["chunks"][name][index]
                meta["chunks"][name][index] = new
            timings.cache_write_s += time.perf_counter() - tic
        for name, array in maps.items():
            array.flush()
            _fsync(files[name])
        del maps
        if changed:
            log.warning(
                "%s: regenerated chunks differ from the ones first cached; simulate() is not "
                "deterministic given its rng, so cached data depends on which chunks were redone",
                contract.who,
            )
            _write_meta(self.path, meta)

    def write(self, job: Generation) -> None:
        """Generate into ``<entry>.partial`` (its space reserved first), fsync, then rename it
        into place (call locked). Nothing is left behind if anything fails."""
        simulate, contract, timings = job.simulate, job.contract, job.timings
        for stale in (self.partial, self.path):  # left by a killed writer, or found corrupt
            shutil.rmtree(stale, ignore_errors=True)
        self.partial.mkdir(parents=True)
        try:
            allocate = self._allocate(contract)
            generated = generate_into(
                simulate, contract, job.n, job.steps, job.seed, allocate, timings
            )
            tic = time.perf_counter()
            meta: dict[str, Any] = {"format": FORMAT, "digest": DIGEST, "chunk": generated.chunk}
            for name, array in generated.arrays.items():
                meta[name] = {"shape": list(array.shape), "dtype": str(array.dtype)}
                array.flush()
                _fsync(self.partial / f"{name}.npy")
            meta["chunks"] = generated.digests
            del generated
            _write_meta(self.partial, meta)
            _fsync(self.partial)
            os.replace(self.partial, self.path)
            _fsync(self.path.parent)
            timings.cache_write_s += time.perf_counter() - tic
        except BaseException:
            shutil.rmtree(self.partial, ignore_errors=True)
            raise

    def _allocate(self, contract: Contract) -> Allocate:
        """Make the ``.npy`` files of ``<entry>.partial`` with their space reserved; a full disk
        is a JepaError saying how much is needed and what to do."""

        def allocate(specs: dict[str, tuple[tuple[int, ...], np.dtype]]) -> dict[str, np.ndarray]:
            needed = sum(
                int(np.prod(s, dtype=np.int64)) * np.dtype(d).itemsize for s, d in specs.values()
            )
            free = shutil.disk_usage(self.partial).free
            try:
                return {name: self._reserved(name, *spec) for name, spec in specs.items()}
            except OSError as exc:
                if exc.errno not in NO_SPACE:
                    raise
                raise JepaError(
                    f"not enough disk space for the dataset cache: {contract.who} needs "
                    f"{_human(needed)} at {self.path}, and that filesystem had {_human(free)} "
                    f"free ({exc.strerror}). Free some space there, set JEPA_CACHE_DIR to a "
                    "folder on a larger disk, or turn the cache off with data.dataset.cache=false "
                    f"(the data is then generated in memory: {_human(needed)} of RAM). Nothing "
                    "was left in the cache."
                ) from exc

        return allocate

    def _reserved(self, name: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        file = self.partial / f"{name}.npy"
        array = np.lib.format.open_memmap(file, mode="w+", dtype=dtype, shape=shape)
        try:
            reserve(file, array.offset, array.nbytes)
        except BaseException:
            del array  # a traceback must not keep the map, and so the file's blocks, alive
            raise
        return array


def _write_meta(directory: Path, meta: dict[str, Any]) -> None:
    """Write ``meta.json`` in ``directory`` atomically (a temporary file, fsynced, renamed)."""
    tmp = directory / "meta.json.tmp"
    tmp.write_text(json.dumps(meta, indent=1))
    _fsync(tmp)
    os.replace(tmp, directory / "meta.json")
    _fsync(directory)
