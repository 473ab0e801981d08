"""Time the verification of a dataset cache entry: the xxh3-128 digest of every chunk, in threads.

Writes a cache entry of about ``--gb`` GB (uint8 noise frames, 64 x 64, in the framework's own
chunked format) under ``--dir``, then times ``CacheEntry.open`` plus ``bad_chunks`` (what every
load of a cached dataset runs) ``--repeats`` times and prints the best throughput. The page cache
is warm, as it is right after generation or on a second run; ``--cold`` first drops the entry's
pages (``posix_fadvise``, this file only), so the number is the disk's read speed instead. The
entry is removed afterwards unless ``--keep``.

    uv run python benchmarks/bench_cache_verify.py [--gb 1.5] [--cold] [--dir /tmp]
    uv run python benchmarks/bench_cache_verify.py --gb 12   # the size of a large image set
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from jepa_framework.datasets import cache as datacache

FRAME = (64, 64)
STEPS = 30
STATE_WIDTH = 4


def noise(n: int, steps: int, rng: np.random.Generator) -> _Data:
    """Random uint8 frames and float32 states: as fast to make as bytes can be drawn."""
    frames = np.frombuffer(rng.bytes(n * steps * FRAME[0] * FRAME[1]), np.uint8)
    states = rng.standard_normal((n, steps, STATE_WIDTH), dtype=np.float32)
    return _Data(frames.reshape(n, steps, *FRAME), states)


class _Data:
    """What ``simulate`` returns: ``observations`` and ``states``."""

    def __init__(self, observations: np.ndarray, states: np.ndarray) -> None:
        self.observations, self.states = observations, states


def drop_pages(entry: datacache.CacheEntry) -> None:
    """Ask the kernel to forget the entry's cached pages (its files only)."""
    for name in datacache.ARRAYS:
        fd = os.open(entry.path / f"{name}.npy", os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def verify_seconds(entry: datacache.CacheEntry, n: int, cold: bool) -> float:
    if cold:
        drop_pages(entry)
    tic = time.perf_counter()
    opened = entry.open(n, STEPS)
    assert opened is not None, "the entry did not open"
    bad = entry.bad_chunks(*opened)
    seconds = time.perf_counter() - tic
    assert not bad, f"chunks {bad} failed verification"
    return seconds


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gb", type=float, default=1.5, help="size of the entry (1e9 bytes)")
    parser.add_argument("--dir", type=Path, default=None, help="where to write it (a temp dir)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cold", action="store_true", help="drop the entry's pages first")
    parser.add_argument("--keep", action="store_true", help="leave the entry on disk")
    args = parser.parse_args(argv)

    per_trajectory = STEPS * (FRAME[0] * FRAME[1] + 4 * STATE_WIDTH)
    n = max(1, round(args.gb * 1e9 / per_trajectory))
    root = Path(tempfile.mkdtemp(prefix="bench-cache-verify-", dir=args.dir))
    try:
        entry = datacache.CacheEntry(root / "entry")
        contract = datacache.Contract("benchmark noise", frame_ndim=2, state_width=STATE_WIDTH)
        tic = time.perf_counter()
        with entry.locked():
            entry.write(datacache.Generation(noise, contract, n, STEPS, 0, datacache.Timings()))
        written = time.perf_counter() - tic
        nbytes = sum((entry.path / f"{a}.npy").stat().st_size for a in datacache.ARRAYS)
        best = min(verify_seconds(entry, n, args.cold) for _ in range(max(1, args.repeats)))
        print(
            f"wrote {nbytes / 1e9:.2f} GB ({n} trajectories) in {written:.1f} s; verified it in "
            f"{best:.2f} s: {nbytes / 1e9 / best:.2f} GB/s with {os.cpu_count()} threads "
            f"({'cold' if args.cold else 'warm'} page cache, best of {args.repeats})"
        )
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        else:
            print(f"kept {entry.path}")


if __name__ == "__main__":
    main()
