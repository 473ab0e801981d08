"""The curve recipes with a learned predictor, against their controls, over seeds.

Runs each built-in curve recipe (``circle``, ``lissajous``, ``spiral``) as shipped, one
``jepa run`` per seed (``seed=N``) with its baselines and controls on, and writes
``benchmarks/tables/curves_learned.md`` (+ .csv): mean ± std over seeds of VPT(0.5) in frames
for the JEPA, the random-encoder control (the recipe's encoder randomly initialised and frozen,
the recipe's predictor trained on its standardised latents with the JEPA phase's budget), the
``supervised`` baseline (the recipe's encoder, predictor and decoder trained end to end on the
observation loss), the parameter-free ``oscillator`` run on the raw coordinates
(``oscillator_raw``, nothing learned) where eval.json has it, and the wall time per run.

Each run's eval.json holds both frozen-encoder controls (``random_encoder``, and
``refit_predictor``: the JEPA's encoder frozen, a fresh predictor trained on it), each decoded as
the JEPA is (the recipe's decoder fitted by ``decoder_train`` on the control's latents), and the
``residual_mlp`` baseline on coordinates. ``--jobs 2 --threads 1`` runs two seeds at once, which
on 2 cores is nearly twice the throughput of one run on both (a run barely gains from a second
thread); the table's minutes are then those of runs sharing the machine.

Run directories go under ``benchmarks/results/curves_learned/`` (git-ignored); each run's
config.yaml, eval.json and metrics.json are kept under
``benchmarks/tables/runs/curves_learned/<mode>_seed-<N>/``.

    uv run python benchmarks/bench_curves_learned.py                       # 3 recipes x 3 seeds
    uv run python benchmarks/bench_curves_learned.py --modes circle --seeds 0
    uv run python benchmarks/bench_curves_learned.py --split validation    # screening only
    uv run python benchmarks/bench_curves_learned.py --tables-only         # rebuild the table
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from stamp import keep_run, publish, stamp  # noqa: E402  (a sibling module)
from stamp import seeds_cell as cell  # noqa: E402

MODES = ("circle", "lissajous", "spiral")
TABLES = ROOT / "benchmarks" / "tables"
KEEP = TABLES / "runs" / "curves_learned"
OUT = ROOT / "benchmarks" / "results" / "curves_learned"
#: the table's methods: (eval.json name, column heading)
COLUMNS = (
    ("jepa", "JEPA"),
    ("random_encoder", "random encoder (control)"),
    ("refit_predictor", "JEPA encoder, predictor refitted (control)"),
    ("supervised", "`supervised`"),
    ("residual_mlp", "`residual_mlp` (coordinates)"),
    ("oscillator_raw", "`oscillator` on raw coordinates (nothing learned)"),
)
KEPT_FILES = ("config.yaml", "eval.json", "metrics.json", "bench_wall.json")
QUIET = ["output.forecast_frames=60", "output.video_panel_size=64"]


def run_one(mode: str, seed: int, threads: int, out: Path, extra: list[str]) -> Path:
    """One `jepa run` of the built-in recipe in its own process; returns its run directory."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    command = [sys.executable, "-m", "jepa_framework", "run", mode, *QUIET, *extra]
    command += [
        f"seed={seed}",
        f"train.threads={threads}",
        f"output.dir={out.resolve().relative_to(ROOT)}",
    ]  # no machine paths
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "JEPA_PROGRESS_SECONDS": "600"}
    log = out / "bench.log"
    started = time.perf_counter()
    with log.open("w") as handle:
        code = subprocess.call(command, stdout=handle, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    wall = time.perf_counter() - started
    runs = sorted(p for p in out.iterdir() if (p / "eval.json").is_file())
    if code or not runs:
        raise RuntimeError(f"{mode} seed {seed} failed; see {log}")
    (runs[-1] / "bench_wall.json").write_text(json.dumps({"wall_s": round(wall, 1)}) + "\n")
    return runs[-1]


def vpt_of(method: dict[str, Any]) -> float:
    return float(method["vpt"]["0.5"]["frames"])


def keep(run_dir: Path, target: Path) -> Path:
    """Keep a run's small files under ``target``, with where the run directory is."""
    return keep_run(run_dir, target, KEPT_FILES, ROOT)


def numbers(kept: Path) -> dict[str, Any]:
    """One kept run's VPT per method (None where it has none) and its wall time in minutes."""
    report = json.loads((kept / "eval.json").read_text())
    methods = report["forecast"]["methods"]
    out: dict[str, Any] = {
        name: vpt_of(methods[name]) if name in methods else None for name, _ in COLUMNS
    }
    wall = kept / "bench_wall.json"
    metrics = json.loads((kept / "metrics.json").read_text())
    train_s = metrics.get("wall_time_s", 0.0)
    out["train_min"] = train_s / 60
    out["run_min"] = (json.loads(wall.read_text())["wall_s"] if wall.is_file() else None) or (
        train_s + report.get("eval_seconds", 0.0)
    )
    out["run_min"] /= 60
    out["split"] = report["settings"].get("split", "test")
    out["seed"] = json.loads((kept / "eval.json").read_text())["settings"].get("seed")
    return out


def write(results: dict[str, list[dict[str, Any]]], footer: str, tables: Path, readme: bool):
    heads = ["recipe", "seeds", *[h for _, h in COLUMNS], "per seed (JEPA)"]
    heads += ["min per run (train)", "min per run (all)"]
    lines = ["| " + " | ".join(heads) + " |", "|---|---:|" + "---:|" * (len(heads) - 2)]
    csv = ["mode,seeds," + ",".join(f"{n}_mean,{n}_std" for n, _ in COLUMNS) + ",train_min,run_min"]
    for mode, rows in results.items():
        cells = [f"`{mode}`", str(len(rows))]
        cells += [cell([r[name] for r in rows]) for name, _ in COLUMNS]
        cells.append(", ".join(f"{r['jepa']:.0f}" for r in rows))
        cells.append(f"{statistics.fmean(r['train_min'] for r in rows):.1f}")
        cells.append(f"{statistics.fmean(r['run_min'] for r in rows):.1f}")
        lines.append("| " + " | ".join(cells) + " |")
        stats = []
        for name, _ in COLUMNS:
            present = [r[name] for r in rows if r[name] is not None]
            mean = f"{statistics.fmean(present):.4g}" if present else ""
            std = f"{statistics.stdev(present):.3g}" if len(present) > 1 else ""
            stats += [mean, std]
        csv.append(
            f"{mode},{len(rows)},{','.join(stats)},"
            f"{statistics.fmean(r['train_min'] for r in rows):.2f},"
            f"{statistics.fmean(r['run_min'] for r in rows):.2f}"
        )
    note = (
        " The controls are eval.json's, each decoded as the JEPA is: the recipe's decoder fitted "
        "by decoder_train on the control's frozen latents."
    )
    path = tables / "curves_learned.md"
    publish(path, lines, footer + note, readme=readme)
    (tables / "curves_learned.csv").write_text("\n".join(csv) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=list(MODES))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--threads", type=int, default=2, help="train.threads of every run")
    parser.add_argument("--jobs", type=int, default=1, help="runs at once")
    parser.add_argument(
        "--split",
        default="test",
        choices=("test", "validation"),
        help="validation: screen on the validation trajectories (the table is not written)",
    )
    parser.add_argument("--skip-done", action="store_true", help="keep runs already kept")
    parser.add_argument("--tables-only", action="store_true", help="rebuild from kept runs")
    parser.add_argument("--tables-dir", type=Path, default=TABLES)
    parser.add_argument("--readme", action="store_true", help="refresh README's copy too")
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    kept_root = args.tables_dir / "runs" / "curves_learned"
    if args.split == "validation":
        kept_root = OUT / "validation_kept"
    extra = [f"eval.split={args.split}", "eval.controls=true", "eval.baselines=true"]
    started = time.perf_counter()
    targets = {(m, seed): kept_root / f"{m}_seed-{seed}" for m in args.modes for seed in seeds}
    todo = [
        key
        for key, target in targets.items()
        if not args.tables_only and not (args.skip_done and (target / "eval.json").is_file())
    ]

    def one(key: tuple[str, int]) -> None:
        mode, seed = key
        out = OUT / args.split / mode / f"seed-{seed}"
        keep(run_one(mode, seed, args.threads, out, extra), targets[key])
        print(f"{mode} seed {seed}: {numbers(targets[key])}", flush=True)

    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        list(pool.map(one, todo))  # each run is its own process; list() re-raises a failure
    results: dict[str, list[dict[str, Any]]] = {}
    for (mode, _), target in targets.items():
        if (target / "eval.json").is_file():
            results.setdefault(mode, []).append(numbers(target))
    minutes = (time.perf_counter() - started) / 60
    if args.split == "validation":
        print(json.dumps(results, indent=1))
        return 0
    import bench_results  # a sibling module: machine facts

    machine = bench_results.machine()
    how = (
        "tables rebuilt from the kept runs"
        if args.tables_only
        else f"{minutes:.1f} min wall, {args.threads} threads a run, {args.jobs} run(s) at a time"
    )
    footer = (
        f"{stamp()}, {how} on {machine['cpus']} CPUs (torch {machine['torch']}); seeds "
        f"{', '.join(map(str, seeds))} asked for, `seeds` column the ones found, "
        f"mean ± std over seeds of VPT(0.5 NRMSE) in frames over each recipe's evaluation "
        f"horizon (circle and lissajous 500 frames, spiral 100), scored on the test "
        f"trajectories. `supervised`: the recipe's encoder, predictor and decoder trained end to "
        f"end on the observation loss with the JEPA's budget. Minutes per run: training "
        f"(metrics.json), and the whole `jepa run` with the baselines, controls and evaluation."
    )
    write(results, footer, args.tables_dir, args.readme)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
