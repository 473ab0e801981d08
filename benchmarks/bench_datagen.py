"""Time dataset generation: vectorised generators vs the scalar reference implementations.

For ``pendulum`` and ``pendulum_image`` (32 px RGB) at 10,000 sequences x 30 frames, times the
vectorised generator (cache off; best of ``--repeats``, plus the first, cold run) and the scalar
reference integrator / renderer on ``--subset`` trajectories, extrapolated linearly to the full
size. Both are measured in the same process, so the speed-up ratio is like for like.

    uv run python benchmarks/bench_datagen.py [--out benchmarks/results/datagen.json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from jepa_builtins.datasets.double_pendulum import integrate_reference, sample_initial
from jepa_builtins.datasets.pendulum import PendulumDataset, PendulumParams
from jepa_builtins.datasets.pendulum_image import PendulumImageDataset, PendulumImageParams
from jepa_builtins.datasets.rendering import render_reference


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def scalar_positions(state: tuple[float, ...]) -> tuple[float, float, float, float]:
    th1, th2 = state[0], state[1]
    x1, y1 = math.sin(th1), -math.cos(th1)
    return x1, y1, x1 + math.sin(th2), y1 - math.cos(th2)


def scalar_pendulum(starts: np.ndarray, frames: int, params: PendulumParams) -> None:
    for start in starts:
        for state in integrate_reference(tuple(start), frames, params.dt, params.substeps):
            scalar_positions(state)


def scalar_pendulum_image(starts: np.ndarray, frames: int, params: PendulumImageParams) -> None:
    for start in starts:
        for state in integrate_reference(tuple(start), frames, params.dt, params.substeps):
            render_reference(scalar_positions(state), params.image_size)


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench(name, dataset_cls, params, scalar, subset: int, repeats: int) -> dict:
    vector = [timed(lambda: dataset_cls(params)) for _ in range(repeats)]
    rss = peak_rss_mb()
    starts = sample_initial(subset, np.random.default_rng(0), params.angle_max, params.velocity_max)
    scalar_s = timed(lambda: scalar(starts, params.sequence_length, params))
    extrapolated = scalar_s * params.size / subset
    return {
        "dataset": name,
        "sequences": params.size,
        "frames": params.sequence_length,
        "vectorised_best_s": min(vector),
        "vectorised_first_s": vector[0],
        "vectorised_runs_s": vector,
        "frames_per_s": params.size * params.sequence_length / min(vector),
        "scalar_subset": subset,
        "scalar_subset_s": scalar_s,
        "scalar_extrapolated_s": extrapolated,
        "speedup": extrapolated / min(vector),
        "peak_rss_mb_after_vectorised": rss,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/datagen.json"))
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--subset", type=int, default=100, help="trajectories for the scalar run")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    common = {"size": args.size, "sequence_length": args.frames, "cache": False}
    cases = [
        ("pendulum", PendulumDataset, PendulumParams(**common), scalar_pendulum),
        (
            "pendulum_image (32 px RGB)",
            PendulumImageDataset,
            PendulumImageParams(**common, image_size=32),
            scalar_pendulum_image,
        ),
    ]
    rss_start = peak_rss_mb()
    results = [bench(*case, subset=args.subset, repeats=args.repeats) for case in cases]

    print(f"{args.size} sequences x {args.frames} frames, {os.cpu_count()} CPUs")
    print("scalar times are EXTRAPOLATED linearly from a subset of trajectories")
    header = f"{'dataset':28} {'vectorised':>11} {'frames/s':>10} {'scalar (extrap.)':>17} {'x':>7}"
    print(header)
    for r in results:
        print(
            f"{r['dataset']:28} {r['vectorised_best_s']:10.3f}s {r['frames_per_s']:10.0f} "
            f"{r['scalar_extrapolated_s']:16.1f}s {r['speedup']:7.0f}"
            f"   (scalar: {r['scalar_subset']} traj in {r['scalar_subset_s']:.2f}s;"
            f" first vectorised run {r['vectorised_first_s']:.3f}s)"
        )
    print(f"peak RSS: {rss_start:.0f} MB after imports, {peak_rss_mb():.0f} MB at the end")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "peak_rss_mb_after_imports": rss_start,
        "results": results,
    }
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
