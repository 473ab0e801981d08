"""Results tables: every mode trained with several regularizers and seeds, beside the baselines.

For each mode, runs ``jepa sweep <mode> objective.regularizer.name=mse,vicreg,sigreg seed=0``
(the built-in recipe, resized below to fit a 2-core CPU) and prints the sweep's Markdown table:
collapse diagnostics (RankMe, normalised std, per-dimension std, collapsed fraction), linear probe
R² (trained vs randomly initialised encoder), VPT(0.5) of the decoded latent rollout (NRMSE for
coordinates; relative pixel error for images) and of the probed state, reconstruction MSE beside
the blank-frame MSE, then the baselines' VPTs (copy-last, constant velocity, linear AR, residual
MLP with the JEPA's budget; blank and mean frame for images). Values are mean ± std over seeds.
Pendulum trajectories start from random angles (+-pi) and velocities (+-2 rad/s), a mix of
energy bands; each run's eval.json splits VPT by band.

    uv run python benchmarks/bench_results.py                 # all five modes, ~60 min on 2 cores
    uv run python benchmarks/bench_results.py --quick         # tiny sizes: a smoke test, ~1.5 min
    uv run python benchmarks/bench_results.py --modes pendulum pendulum_image --simsiam

Measured runtime (2 cores, nothing else running), per sweep of 3 regularizers x 1 seed, each
run including its evaluation: pendulum 3.4 min (10k trajectories x 40 epochs, plus the
residual-MLP baseline with the same budget), pendulum_image 3.0 min (6k trajectories x 30
epochs), circle/spiral/lissajous 0.3-0.4 min each: about 8 minutes for all five modes; each
extra seed adds as much again. Tables are written to benchmarks/results/results.md (--quick:
under --out-dir) and every run to --out-dir.
"""

from __future__ import annotations

import argparse
import logging
import platform
import time
from pathlib import Path

import torch

from jepa_framework.plugins import host
from jepa_framework.sweep import run_sweep

#: realistic-but-affordable sizes per mode (overrides of the built-in recipe)
FULL = {
    "circle": ["train.epochs=30", "decoder_train.epochs=20"],
    "spiral": ["train.epochs=30", "decoder_train.epochs=20"],
    "lissajous": ["train.epochs=30", "decoder_train.epochs=20"],
    "pendulum": [
        "data.dataset.size=10000",
        "train.epochs=40",
        "decoder_train.epochs=30",
        "eval.horizon=120",
    ],
    "pendulum_image": [
        "data.dataset.size=6000",
        "train.epochs=30",
        "eval.horizon=60",
    ],
}
COMMON = ["output.forecast_frames=120", "output.video_panel_size=128"]
QUICK = [
    "data.dataset.size=96",
    "data.dataset.sequence_length=24",
    "train.epochs=2",
    "train.batch_size=32",
    "decoder_train.epochs=1",
    "output.forecast_frames=8",
    "output.video_panel_size=64",
    "eval.horizon=30",
    "eval.trajectories=64",
]
FULL_TABLE = "benchmarks/results/results.md"
QUICK_MODE = {"pendulum_image": ["data.dataset.image_size=16"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", nargs="+", default=list(FULL))
    parser.add_argument("--regularizers", default="mse,vicreg,sigreg")
    parser.add_argument("--simsiam", action="store_true", help="add simsiam to the regularizers")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, to check it works")
    parser.add_argument("--out-dir", default="results/bench_results")
    parser.add_argument("--table", help=f"Markdown output (default {FULL_TABLE}; quick: out-dir)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    regularizers = args.regularizers + (",simsiam" if args.simsiam else "")
    table_path = Path(
        args.table or (f"{args.out_dir}/results_quick.md" if args.quick else FULL_TABLE)
    )
    header = (
        f"# Results ({'quick, tiny sizes' if args.quick else 'full'})\n\n"
        f"torch {torch.__version__}, python {platform.python_version()}, "
        f"{torch.get_num_threads()} threads. Mean ± std over seeds {args.seeds}.\n"
    )
    sections = [header]
    print(header)
    h = host()
    for mode in args.modes:
        sizes = QUICK + QUICK_MODE.get(mode, []) if args.quick else COMMON + FULL[mode]
        overrides = [
            *sizes,
            f"output.dir={args.out_dir}",
            f"objective.regularizer.name={regularizers}",
            f"seed={args.seeds}",
        ]
        started = time.perf_counter()
        sweep_dir, table = run_sweep(mode, overrides, h)
        minutes = (time.perf_counter() - started) / 60
        section = (
            f"## {mode}\n\n`jepa sweep {mode} {' '.join(overrides)}` "
            f"({minutes:.1f} min; runs in {sweep_dir})\n\n{table}"
        )
        print(section, flush=True)
        sections.append(section)
        table_path.parent.mkdir(parents=True, exist_ok=True)
        table_path.write_text("\n".join(sections))
    print(f"tables written to {table_path}")


if __name__ == "__main__":
    main()
