"""Image levers: what moves the pendulum-from-pixels forecast, one row per set of overrides.

Each row overrides the shipped ``pendulum_image_long`` recipe and runs its seeds as separate
``jepa run`` processes, ``--jobs`` at a time with ``--threads`` each (on a GPU machine several
share the card), scored on the validation trajectories (``eval.split=validation``). From each
run's eval.json the table gives, in the chaotic band (E>10): the
probed-state VPT(0.5) of the JEPA, of the two frozen-encoder controls (``refit_predictor``,
``random_encoder``) and of the pixel-supervised baseline where the row trains it; the pixel
VPT(0.5) of the JEPA, the supervised baseline and copy-last; the probe R² of θ2 (sin and cos
averaged); the device and the minutes per run. Negative results stay in the table. Writes
``benchmarks/tables/image_levers.md`` (+ .csv) and keeps each run's config, eval, metrics and
log under ``benchmarks/tables/runs/image_levers/``; ``--tables-only`` rebuilds the table from
those.

    uv run python benchmarks/bench_image_levers.py --rows 1,8 --jobs 5 --threads 3   # a GPU
    uv run python benchmarks/bench_image_levers.py --tables-only
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_results  # noqa: E402  (a sibling module: machine facts, where runs go)
import sync_readme  # noqa: E402
from bench_ablations import cell, wall_minutes  # noqa: E402
from stamp import stamp  # noqa: E402  (a sibling module)

RECIPE = "pendulum_image_long"
TABLES = bench_results.ROOT / "benchmarks" / "tables"
OUT = bench_results.RUNS_OUT / "image_levers"
#: every row but the last ran before the recipe read three frames of history
H2 = ["data.history=2"]
#: the recipe before the refit phase: the phase-1 predictor forecasts, a 10-epoch decoder
NO_REFIT = [*H2, "refit.epochs=0", "decoder_train.epochs=10"]
BASELINES = ["eval.baselines=true"]
PX64 = ["data.dataset.image_size=64"]
GRAY = ["data.dataset.grayscale=true"]
REFIT_3 = [*H2, "refit.rollout_steps=3"]  # the refit's first setting: phase 1's 3-step rollout
#: (label, overrides of the shipped recipe, seeds)
ROWS: list[tuple[str, list[str], list[int]]] = [
    ("phase-1 predictor, with the pixel-supervised baseline", NO_REFIT + BASELINES, [0, 1, 2]),
    ("phase-1 predictor, 120 epochs", [*NO_REFIT, "train.epochs=120"], [0]),
    ("phase-1 predictor, 64 px", NO_REFIT + PX64, [0, 1, 2]),
    (
        "phase-1 predictor, 64 px, with the pixel-supervised baseline",
        NO_REFIT + PX64 + BASELINES,
        [0],
    ),
    ("phase-1 predictor, 64 px grayscale", NO_REFIT + PX64 + GRAY, [0]),
    ("phase-1 predictor, 64 px, 20 epochs", [*NO_REFIT, *PX64, "train.epochs=20"], [0]),
    (
        "phase-1 predictor, 64 px grayscale, 20 epochs",
        [*NO_REFIT, *PX64, *GRAY, "train.epochs=20"],
        [0],
    ),
    ("3-step refit, 10-epoch decoder", [*REFIT_3, "decoder_train.epochs=10"], [0, 1, 2]),
    (
        "3-step refit, 64 px, 20 epochs, 10-epoch decoder",
        [*REFIT_3, "decoder_train.epochs=10", *PX64, "train.epochs=20"],
        [0],
    ),
    ("3-step refit", REFIT_3, [0, 1, 2]),
    ("8-step refit", [*H2, "refit.rollout_steps=8"], [0, 1, 2]),
    ("16-step refit, two frames of history", H2, [0, 1, 2]),
    ("the shipped recipe, with the pixel-supervised baseline", BASELINES, [0, 1, 2]),
]
KEPT = ("config.yaml", "eval.json", "metrics.json", "run.log")
#: how the kept runs were made, for tables rebuilt from them (--tables-only)
KEPT_NOTE = (
    "Rows 1-9 ran on one NVIDIA H200 (16 CPU cores), five or six runs sharing it, as `jepa run "
    "pendulum_image_long` with each row's overrides (made before the recipe had its refit "
    "phase, which rows 1-7 turn off, and when a refit rolled out 3 steps); row 8's seeds 0 and "
    "2 hit that session's time limit during their evaluation and are missing. Rows 10-12 are "
    "bench_results.py's three seeds of the recipe when it read two frames and its refit rolled "
    "out 3, 8 and 16 steps; row 13's seed 0 ran with `--rows 13`, the test suite sharing the "
    "CPU for part of it, and seeds 1-2 with `--rows 13 --skip-done --jobs 2 --threads 1`, "
    "other benchmarks sharing the cores; their in-run evaluation stopped on an import error (the "
    "source tree was edited under the running processes) and was run again on the finished runs "
    "with `jepa eval` (the same evaluation, with one thread). Rows 10-13 on the 2-core CPU."
)
STATE_METHODS = ("jepa", "refit_predictor", "random_encoder", "supervised")
PIXEL_METHODS = ("jepa", "supervised", "copy_last")


def run_one(overrides: list[str], seed: int, threads: int, out: Path) -> Path:
    """One `jepa run` in its own process; returns its run directory."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    command = [sys.executable, "-m", "jepa_framework", "run", RECIPE, *overrides]
    command += [f"train.threads={threads}", f"seed={seed}", f"output.dir={out}"]
    command += ["eval.split=validation"]  # levers are screened on validation, never on test
    with (out / "bench.log").open("w") as log:
        code = subprocess.call(command, stdout=log, stderr=subprocess.STDOUT)
    runs = sorted(p for p in out.iterdir() if (p / "eval.json").is_file())
    if code or not runs:
        raise RuntimeError(f"{overrides} seed {seed} failed; see {out / 'bench.log'}")
    return runs[-1]


def keep(run_dir: Path, target: Path) -> Path:
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for name in KEPT:
        shutil.copy2(run_dir / name, target / name)
    return target


def band_vpt(report: dict, section: str, method: str) -> float | None:
    """VPT(0.5) of ``method`` in the E>10 band (None where the run has no such method)."""
    methods = report["summary"]["headline"][section]
    return methods.get(method)


def numbers(kept: Path) -> dict:
    report = json.loads((kept / "eval.json").read_text())
    r2 = report["probe"]["r2"]
    device = re.search(r"device (\S+),", (kept / "run.log").read_text())
    return {
        "state": {m: band_vpt(report, "state_vpt", m) for m in STATE_METHODS},
        "pixel": {m: band_vpt(report, "vpt", m) for m in PIXEL_METHODS},
        "r2_theta2": statistics.fmean([r2["sin_theta2"], r2["cos_theta2"]]),
        "device": device.group(1) if device else "?",
        "minutes": wall_minutes(kept),
    }


def one_or_spread(values: list[float]) -> str:
    """One seed's value as it is; several as mean ± std."""
    return f"{values[0]:.3g}" if len(values) == 1 else cell(values)


def column(seeds: list[dict], key: str, method: str) -> str:
    values = [s[key][method] for s in seeds if s[key][method] is not None]
    return one_or_spread(values) if values else "—"


def write(rows: list[int], tables: Path, footer: str) -> Path:
    heads = ["#", "lever", "overrides of the shipped recipe", "seeds", "state VPT: JEPA"]
    heads += ["refit_predictor", "random_encoder", "supervised", "pixel VPT: JEPA"]
    heads += ["supervised", "copy-last", "R² θ2", "device", "min per run"]
    lines = ["| " + " | ".join(heads) + " |", "|---:|---|---|" + "---:|" * 11]
    csv = ["row,lever,overrides,seeds," + ",".join(f"state_{m}" for m in STATE_METHODS)]
    csv[0] += "," + ",".join(f"pixel_{m}" for m in PIXEL_METHODS) + ",r2_theta2,device,minutes"
    for i in rows:
        label, overrides, seeds = ROWS[i - 1]
        found = [numbers(p) for s in seeds if (p := kept_dir(tables, i, s)).is_dir()]
        if not found:
            continue
        cells = [column(found, "state", m) for m in STATE_METHODS]
        cells += [column(found, "pixel", m) for m in PIXEL_METHODS]
        r2 = one_or_spread([s["r2_theta2"] for s in found])
        devices = ", ".join(sorted({s["device"] for s in found}))
        minutes = f"{statistics.fmean(s['minutes'] for s in found):.1f}"
        shown = " ".join(f"`{o}`" for o in overrides) or "—"
        lines.append(
            "| "
            + " | ".join([str(i), label, shown, str(len(found)), *cells, r2, devices, minutes])
            + " |"
        )
        csv.append(
            f'{i},"{label}","{" ".join(overrides)}",{len(found)},'
            + ",".join(c.replace(" ± ", "±") for c in cells)
            + f",{r2.replace(' ± ', '±')},{devices},{minutes}"
        )
    path = tables / "image_levers.md"
    path.write_text("\n".join([*lines, "", footer]) + "\n")
    (tables / "image_levers.csv").write_text("\n".join(csv) + "\n")
    return path


def kept_dir(tables: Path, row: int, seed: int) -> Path:
    return tables / "runs" / "image_levers" / f"row-{row}_seed-{seed}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", help="comma-separated row numbers (default: all)")
    parser.add_argument("--jobs", type=int, default=1, help="runs at a time")
    parser.add_argument("--threads", type=int, default=2, help="train.threads of each run")
    parser.add_argument("--tables-dir", type=Path, default=TABLES)
    parser.add_argument("--tables-only", action="store_true", help="rebuild from kept runs")
    parser.add_argument(
        "--skip-done", action="store_true", help="keep rows and seeds already in the kept runs"
    )
    parser.add_argument("--no-readme", action="store_true")
    args = parser.parse_args()
    rows = [int(r) for r in args.rows.split(",")] if args.rows else list(range(1, len(ROWS) + 1))
    started = time.perf_counter()
    if not args.tables_only:
        with cf.ThreadPoolExecutor(args.jobs) as pool:
            futures = {
                pool.submit(run_one, ROWS[i - 1][1], s, args.threads, OUT / f"row-{i}_seed-{s}"): (
                    i,
                    s,
                )
                for i in rows
                for s in ROWS[i - 1][2]
                if not (
                    args.skip_done and (kept_dir(args.tables_dir, i, s) / "eval.json").is_file()
                )
            }
            for future in cf.as_completed(futures):
                keep(future.result(), kept_dir(args.tables_dir, *futures[future]))
    machine = bench_results.machine()
    footer = (
        stamp()
        + (
            ""
            if args.tables_only
            else f", {(time.perf_counter() - started) / 60:.1f} min wall, {args.jobs} runs at a "
            f"time with {args.threads} threads each (torch {machine['torch']})"
        )
        + "; VPT in frames, E>10 band, mean ± std over the seeds shown; minutes per run "
        "include the evaluation." + (f" {KEPT_NOTE}" if args.tables_only else "")
    )
    print(write(rows, args.tables_dir, footer).read_text())
    if not args.no_readme:
        sync_readme.main([])


if __name__ == "__main__":
    main()
