"""The prototype's quick start, end to end: wall time, peak RSS and what the model learned.

    uv run python benchmarks/bench_quickstart.py            # vicreg (the built-in recipe)
    uv run python benchmarks/bench_quickstart.py --extra objective.regularizer.name=mse

runs, in a fresh process (so the numbers include start-up and data generation), the prototype's
quick start in its old spelling, at the 30 epochs of the built-in recipe (the prototype ran 50;
the keypoint encoder costs about twice the old strided CNN per step):

    jepa run --mode pendulum_image --size 10000 --image_size 32 --epochs 30 --batch_size 256

The public prototype took 12 min 03 s and 7.3 GB on a 2-core machine; the target is under 3 min
and under 1.8 GB with a non-collapsed model. Prints a table and writes JSON (default
benchmarks/results/quickstart.json). Takes about as long as the run itself.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

QUICK_START = [
    "--mode",
    "pendulum_image",
    "--size",
    "10000",
    "--image_size",
    "32",
    "--epochs",
    "30",
    "--batch_size",
    "256",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extra", action="append", default=[], help="extra recipe overrides")
    parser.add_argument("--out", default="benchmarks/results/quickstart.json")
    parser.add_argument(
        "--runs",
        default="benchmarks/results/quickstart_runs",
        help="where the run directory is kept (reconstruction.png, ...)",
    )
    args = parser.parse_args()
    runs = Path(args.runs)
    runs.mkdir(parents=True, exist_ok=True)
    before = set(runs.iterdir())
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [
            sys.executable,
            "-m",
            "jepa_framework",
            "run",
            *QUICK_START,
            f"output.dir={runs}",
            *args.extra,
        ]
        env_cache = {"JEPA_CACHE_DIR": tmp}  # a cold cache: generation counts

        start = time.perf_counter()
        subprocess.run(cmd, check=True, env={**os.environ, **env_cache}, stderr=subprocess.DEVNULL)
        wall = time.perf_counter() - start
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        (run_dir,) = set(runs.iterdir()) - before
        metrics = json.loads((run_dir / "metrics.json").read_text())
    decoder = metrics["decoder"]
    report = {
        "command": "jepa run " + " ".join(QUICK_START + args.extra),
        "run_dir": str(run_dir),
        "wall_time_s": wall,
        "peak_rss_mb": peak_mb,
        "data_generation_s": metrics["data_seconds"]["generation_s"],
        "data_cache_write_s": metrics["data_seconds"].get("cache_write_s", 0.0),
        "jepa_samples_per_s": metrics["jepa"]["samples_per_s"],
        "collapsed": metrics["collapsed"],
        "rankme": metrics["embedding"]["rankme"],
        "normalised_std": metrics["embedding"]["normalised_std"],
        "recon_mse": decoder["val_recon_mse"],
        "blank_frame_mse": decoder["val_blank_mse"],
        "recon_over_blank": decoder["val_recon_mse"] / decoder["val_blank_mse"],
    }
    print("\n| quantity | value |\n|---|---:|")
    print(f"| wall time | {int(wall // 60)} min {wall % 60:04.1f} s |")
    print(f"| peak RSS | {peak_mb / 1024:.2f} GiB |")
    print(f"| data generation (10,000 x 30 frames) | {report['data_generation_s']:.2f} s |")
    print(f"| writing the dataset cache | {report['data_cache_write_s']:.2f} s |")
    print(f"| JEPA training throughput | {report['jepa_samples_per_s']:.0f} samples/s |")
    print(f"| collapsed | {report['collapsed']} |")
    print(
        f"| effective rank (of {len(metrics['embedding']['per_dim_std'])}) | "
        f"{report['rankme']:.1f} |"
    )
    print(f"| reconstruction MSE / blank-frame MSE | {report['recon_over_blank']:.3f} |")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
