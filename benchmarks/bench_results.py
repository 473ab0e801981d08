"""Results tables: every mode trained with several regularizers and seeds, beside the baselines.

For each mode, runs the built-in recipe (resized below to fit a 2-core CPU) as `jepa sweep`s over
regularizers and seeds, keeps each run's config.yaml, eval.json and metrics.json under
``benchmarks/tables/runs/<mode>/<regularizer>_seed-<seed>/`` (tracked), then writes from those
files every table README shows, mean ± std over seeds (``result_tables.py``):

- ``pendulum.md``: per method (the JEPA per regularizer, then every baseline in eval.json),
  VPT(0.5) in the chaotic band E>10 in frames and Lyapunov times with its censored fraction,
  VPT over all trajectories, NRMSE at h = 5/10/20, probe R² beside a random encoder's, collapse
  diagnostics; ``pendulum_bands.md``: VPT per energy band.
- ``pendulum_image.md``: probe R² per angle (sin, cos) and velocity, probed-state VPT in the
  headline band, pixel VPT(0.5), reconstruction beside the blank frame, collapse diagnostics;
  ``pendulum_image_long.md`` the same for the longer image recipe.
- ``curves.md``: VPT per method for circle, spiral and lissajous.

Each ``.md`` has a ``.csv`` beside it (mean, std, n per column) and states the command, date,
machine and wall time; ``<mode>_forecast.png`` plots every method's error against horizon with
the seeds shaded. README's blocks ``<!-- table: benchmarks/tables/<name>.md -->`` are then
refreshed (``benchmarks/sync_readme.py``; ``--no-readme`` skips it).

Every mode runs its built-in recipe as shipped. Budget: about two hours on 2 cores for every
mode, regularizer and seed; each table's footer names the command it came from. Baselines do not
depend on the JEPA's regularizer, so they are trained only in the first regularizer's runs (the
others run with ``eval.baselines=false``); pendulum_image runs ``mse`` (it collapses on frames, a
result worth keeping) and ``vicreg`` but not ``sigreg``, which behaved like vicreg there (no
collapse, pixel VPT within a frame of it, probed-state VPT equal) in an earlier evaluation.

    uv run python benchmarks/bench_results.py                  # all modes, 3 seeds, ~2 h
    uv run python benchmarks/bench_results.py --modes pendulum --regularizers mse,vicreg
    uv run python benchmarks/bench_results.py --tables-only    # rebuild tables from runs/
    uv run python benchmarks/bench_results.py --quick          # tiny sizes into a temp dir

Minutes per run (``REFERENCE_MINUTES``, averaged over a sweep whose first regularizer also trains
the baselines): pendulum about 3.8 (10k trajectories x 120 epochs; 6.7 with the baselines),
pendulum_image about 3, pendulum_image_long about 15 without its baselines (20k trajectories x
60 epochs, then a 200-epoch refit; its pixel-supervised baseline costs more than twice the
JEPA phase: a decoder step on every rolled-out frame), circle and lissajous about 5 with their
baselines (4k x 200 epochs of a linear frame encoder and the oscillator, 32-step rollout; most
of it evaluating 500 frames and training the supervised baselines), spiral about 2; the
``bench.json`` beside each mode's runs records what a benchmark really took. ``--quick`` prints
the estimate for the full sizes, scaled by how fast its own runs went against the reference.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import platform
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

import result_tables  # noqa: E402  (a sibling module of this script)
import sync_readme  # noqa: E402

TABLES = ROOT / "benchmarks" / "tables"
RUNS_OUT = ROOT / "benchmarks" / "results"  # run directories: git-ignored

#: regularizers per mode, the first also trains the baselines
REGULARIZERS = {
    "pendulum": ("mse", "vicreg", "sigreg"),
    "pendulum_image": ("mse", "vicreg"),
    "pendulum_image_long": ("vicreg",),
    "circle": ("mse", "vicreg", "sigreg"),
    "spiral": ("mse", "vicreg", "sigreg"),
    "lissajous": ("mse", "vicreg", "sigreg"),
}
#: overrides of the built-in recipe per mode: none, the tables measure the recipes as shipped
FULL: dict[str, list[str]] = {
    "pendulum": [],
    "pendulum_image": [],
    "pendulum_image_long": [],
    "circle": [],
    "spiral": [],
    "lissajous": [],
}
COMMON = ["output.forecast_frames=120", "output.video_panel_size=128"]
QUICK = [
    "data.dataset.size=96",
    "data.dataset.sequence_length=24",
    "objective.rollout_steps=4",
    "train.epochs=2",
    "train.batch_size=32",
    "decoder_train.epochs=1",
    "output.forecast_frames=8",
    "output.video_panel_size=64",
    "eval.horizon=30",
    "eval.trajectories=64",
    "eval.probe_steps=5",
]
QUICK_MODE = {
    "pendulum_image": ["data.dataset.image_size=16"],
    "pendulum_image_long": ["data.dataset.image_size=16"],
}
#: minutes per run on this 2-core machine: (full sizes, idle; quick sizes, measured while other
#: jobs shared it, so an estimate scaled by a later quick run leans low rather than high)
REFERENCE_MINUTES = {
    "pendulum": (3.8, 0.083),
    "pendulum_image": (3.0, 0.25),
    "pendulum_image_long": (15.0, 0.1),
    "circle": (5.0, 0.083),
    "spiral": (2.1, 0.067),
    "lissajous": (5.0, 0.05),
}
#: extra overrides of the runs that train the baselines (e.g. fewer supervised budgets, should
#: the evaluation's default budgets not fit the benchmark's time)
BASELINE_OVERRIDES: dict[str, list[str]] = {}
NO_BASELINES = "eval.baselines=false"
WITH_BASELINES = "eval.baselines=true"


def machine() -> dict[str, str | int | None]:
    import torch

    return {
        "cpus": os.cpu_count(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def sweeps(
    mode: str, regularizers: list[str], seeds: str, quick: bool, out: Path
) -> list[list[str]]:
    """The overrides of each `jepa sweep`: the first regularizer with baselines, then the rest."""
    sizes = QUICK + QUICK_MODE.get(mode, []) if quick else COMMON + FULL[mode]
    base = [*sizes, f"output.dir={out / mode}", f"seed={seeds}"]
    extra = BASELINE_OVERRIDES.get(mode, [])
    # explicit: a recipe may leave its baselines off to keep `jepa run` quick (pendulum_image)
    plans = [[*base, WITH_BASELINES, *extra, f"objective.regularizer.name={regularizers[0]}"]]
    if regularizers[1:]:
        rest = ",".join(regularizers[1:])
        plans.append([*base, f"objective.regularizer.name={rest}", NO_BASELINES])
    return plans


def run_mode(
    mode: str,
    regularizers: list[str],
    seeds: list[int],
    plans: list[list[str]],
    mode_dir: Path,
    command: str,
) -> dict:
    """Run a mode's sweeps and keep its runs' small files under ``mode_dir``; returns bench.json."""
    from jepa_framework.jobs.sweep import run_sweep
    from jepa_framework.plugin.host import host

    started, h = time.perf_counter(), host()
    finished, failed, sweep_dirs = [], [], []
    for overrides in plans:
        sweep_dir, _ = run_sweep(mode, overrides, h)
        sweep_dirs.append(str(sweep_dir))
        for row in json.loads((sweep_dir / "sweep.json").read_text())["runs"]:
            if "failed" in row:
                failed.append(f"{row.get('objective.regularizer.name', '')} seed {row.get('seed')}")
            else:
                finished.append(Path(row["run_dir"]))
    wall = time.perf_counter() - started
    if mode_dir.exists():
        shutil.rmtree(mode_dir)  # runs of an earlier benchmark must not mix with these
    for run_dir in finished:
        keep(run_dir, mode_dir)
    info = {
        "mode": mode,
        "command": command.strip(),
        "date": dt.datetime.now().astimezone().isoformat(timespec="minutes"),
        "machine": machine(),
        "wall_seconds": round(wall, 1),
        "runs": len(finished),
        "minutes_per_run": round(wall / 60 / max(1, len(finished) + len(failed)), 3),
        "failed": failed,
        "regularizers": regularizers,
        "seeds": seeds,
        "sweeps": [{"dir": d, "overrides": p} for d, p in zip(sweep_dirs, plans, strict=True)],
    }
    mode_dir.mkdir(parents=True, exist_ok=True)
    (mode_dir / result_tables.BENCH_FILE).write_text(json.dumps(info, indent=2) + "\n")
    return info


def keep(run_dir: Path, mode_dir: Path) -> Path:
    """Copy a run's config.yaml, metrics.json and eval.json to ``<regularizer>_seed-<seed>``."""
    import yaml

    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    name = f"{config['objective']['regularizer']['name']}_seed-{config.get('seed', 0)}"
    target = mode_dir / name
    target.mkdir(parents=True, exist_ok=True)
    for file in ("config.yaml", "metrics.json", "eval.json"):
        if (run_dir / file).is_file():
            shutil.copy2(run_dir / file, target / file)
    return target


def estimate(plan: dict[str, int], measured: dict[str, float] | None = None) -> str:
    """Expected minutes of the full benchmark for ``plan`` (mode -> runs), on 2 cores.

    ``measured`` (mode -> minutes per run at the quick sizes) scales the reference by how fast
    this machine ran the same quick runs (a busy machine gives a pessimistic estimate).
    """
    speed = 1.0
    if measured:
        ratios = sorted(measured[m] / REFERENCE_MINUTES[m][1] for m in measured)
        speed = ratios[len(ratios) // 2]
    parts, total = [], 0.0
    for mode, runs in plan.items():
        minutes = runs * REFERENCE_MINUTES[mode][0] * speed
        total += minutes
        parts.append(f"{mode} {runs} runs {minutes:.1f} min")
    scale = f" (x{speed:.2f}: quick runs here against the reference)" if measured else ""
    return (
        f"expected full benchmark: {total:.0f} min on 2 cores{scale}: {'; '.join(parts)}; "
        "baselines added to eval after this estimate's reference (supervised budgets) come on top"
    )


def missing_blocks(written: list[Path], readme: Path) -> list[str]:
    text = readme.read_text()
    return [
        rel
        for path in written
        if f"<!-- table: {(rel := path.relative_to(ROOT).as_posix())} -->" not in text
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", nargs="+", default=list(FULL), choices=list(FULL))
    parser.add_argument("--regularizers", help="comma-separated, every mode (default: per mode)")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument(
        "--no-baselines", action="store_true", help="JEPA runs only (tables keep earlier rows out)"
    )
    parser.add_argument(
        "--threads", type=int, help="train.threads of every run (e.g. 1 to run modes side by side)"
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes into a temp dir")
    parser.add_argument("--out-dir", type=Path, help=f"run directories (default {RUNS_OUT})")
    parser.add_argument("--tables-dir", type=Path, help=f"tables (default {TABLES})")
    parser.add_argument("--tables-only", action="store_true", help="rebuild tables from runs/")
    parser.add_argument("--no-readme", action="store_true", help="do not refresh README's tables")
    args = parser.parse_args(argv)
    given = sys.argv[1:] if argv is None else argv
    command = "uv run python benchmarks/bench_results.py " + shlex.join(given)
    logging.basicConfig(level=logging.WARNING)
    seeds = [int(s) for s in args.seeds.split(",")]
    scratch = Path(tempfile.mkdtemp(prefix="bench_results_")) if args.quick else None
    out = args.out_dir or (scratch / "runs" if scratch else RUNS_OUT)
    tables = args.tables_dir or (scratch / "tables" if scratch else TABLES)
    tables.mkdir(parents=True, exist_ok=True)
    modes = [] if args.tables_only else args.modes
    regs_of = {
        m: args.regularizers.split(",") if args.regularizers else list(REGULARIZERS[m])
        for m in modes
    }
    if modes and not args.quick:
        print(estimate({m: len(regs_of[m]) * len(seeds) for m in modes}), flush=True)
    measured = {}
    for mode in modes:
        regs = regs_of[mode]
        plans = sweeps(mode, regs, ",".join(map(str, seeds)), args.quick, out)
        if args.threads:
            plans = [[*plan, f"train.threads={args.threads}"] for plan in plans]
        if args.no_baselines:
            plans = [[o for o in plan if o != WITH_BASELINES] + [NO_BASELINES] for plan in plans]
        print(f"{mode}: jepa sweep {mode} " + " | ".join(shlex.join(p) for p in plans), flush=True)
        info = run_mode(mode, regs, seeds, plans, tables / "runs" / mode, command)
        print(f"{mode}: {info['runs']} runs in {info['wall_seconds'] / 60:.1f} min", flush=True)
        measured[mode] = info["minutes_per_run"]
    written = result_tables.write_all(tables, ROOT)
    for path in written:
        print(f"\n{path}:\n{path.read_text()}")
    if args.quick:
        full_plan = {m: len(REGULARIZERS[m]) * len(seeds) for m in args.modes}
        print(estimate(full_plan, measured))
        print(f"(quick: tables in {tables}; README left alone)")
        return 0
    if not args.no_readme and tables.resolve() == TABLES.resolve():
        sync_readme.main([])
        for rel in missing_blocks(written, ROOT / "README.md"):
            print(f"README has no block for {rel}: add `<!-- table: {rel} -->` `<!-- /table -->`")
    return 0


if __name__ == "__main__":
    sys.exit(main())
