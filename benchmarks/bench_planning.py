"""Closed-loop planning with the acting recipes, against their references, over seeds.

Trains each acting recipe (``two_rooms``, ``two_rooms_image``, ``pendulum_swingup``) as shipped,
one ``jepa run`` per seed (``seed=N`` changes the collected data, the initialisation and the
held-out start/goal pairs), then plans with ``jepa plan`` on the run and writes
``benchmarks/tables/planning.md`` (+ .csv): mean ± std over seeds of the success rate of each
method of plan.json -- the world model, a random policy, the same planner with the true
simulator (the ceiling), and the same planner on the random-encoder control and on the
supervised model (both trained with the JEPA's budget) -- with the world model's final distance
and planning time per step.

``--episodes`` sets ``plan.episodes`` (default: the recipe's); ``--plan KEY=VALUE`` passes any
other ``plan.*`` override (e.g. ``plan.replan_every=2``), which the table's footer records.
``--jobs 2`` trains and plans two seeds at once, each run on one thread. ``--train-only``
trains and stops; ``--replan`` plans with the runs trained before under
``benchmarks/results/planning/`` (training those it does not find), so a change of planner
costs no retraining. The table holds every recipe's kept runs, not only those just run.

Run directories go under ``benchmarks/results/planning/`` (git-ignored); each run's
config.yaml, metrics.json and plan.json are kept under
``benchmarks/tables/runs/planning/<recipe>_seed-<N>/``.

    uv run python benchmarks/bench_planning.py                         # 3 recipes x 3 seeds
    uv run python benchmarks/bench_planning.py --recipes pendulum_swingup --seeds 0
    uv run python benchmarks/bench_planning.py --tables-only           # rebuild the table
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

RECIPES = ("two_rooms", "two_rooms_image", "pendulum_swingup")
TABLES = ROOT / "benchmarks" / "tables"
OUT = ROOT / "benchmarks" / "results" / "planning"
WALL_NAME = "bench_wall.json"
KEPT_FILES = ("config.yaml", "metrics.json", "plan.json", WALL_NAME)
#: the table's methods: (plan.json name, column heading)
COLUMNS = (
    ("world_model", "JEPA world model"),
    ("random", "random policy"),
    ("simulator", "true simulator (ceiling)"),
    ("random_encoder", "random encoder (control)"),
    ("supervised", "supervised model"),
)


def jepa(args: list[str], log: Path) -> None:
    """One `jepa` command in its own single-threaded process, its output appended to ``log``."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "JEPA_PROGRESS_SECONDS": "600"}
    command = [sys.executable, "-m", "jepa_framework", *args]
    with log.open("a") as handle:
        code = subprocess.call(command, stdout=handle, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    if code:
        raise RuntimeError(f"`jepa {' '.join(args)}` failed ({code}); see {log}")


def trained_run(out: Path) -> Path | None:
    """The run a previous ``run_one`` trained under ``out`` (None where there is none)."""
    runs = [p for p in out.iterdir() if (p / WALL_NAME).is_file()] if out.is_dir() else []
    return max(runs) if runs else None


def run_one(
    recipe: str, seed: int, out: Path, plan: list[str] | None, replan: bool = False
) -> Path:
    """Train the recipe with ``seed`` (with ``replan``, reuse the run trained under ``out``)
    and plan with the run (``plan`` None: train only); returns its run directory."""
    run_dir = trained_run(out) if replan else None
    log = out / "bench.log"
    if run_dir is None:
        if out.exists():
            shutil.rmtree(out)
        out.mkdir(parents=True)
        relative = out.resolve().relative_to(ROOT)  # no machine paths in the kept config
        started = time.perf_counter()
        jepa(["run", recipe, f"seed={seed}", "train.threads=1", f"output.dir={relative}"], log)
        run_dir = max(p for p in out.iterdir() if (p / "metrics.json").is_file())
        walls = {"train_s": time.perf_counter() - started}
        (run_dir / WALL_NAME).write_text(json.dumps(walls) + "\n")
    if plan is None:
        return run_dir
    walls = json.loads((run_dir / WALL_NAME).read_text())
    started = time.perf_counter()
    jepa(["plan", str(run_dir.relative_to(ROOT)), *plan], log)
    walls["plan_s"] = time.perf_counter() - started
    (run_dir / WALL_NAME).write_text(json.dumps(walls) + "\n")
    return run_dir


def keep(run_dir: Path, target: Path) -> Path:
    """Keep a run's small files under ``target``, with where the run directory is."""
    return keep_run(run_dir, target, KEPT_FILES, ROOT)


def numbers(kept: Path) -> dict[str, Any]:
    """One kept run's success rate per method (None where it has none), the world model's
    final distance and ms per step, and the minutes of training and planning."""
    report = json.loads((kept / "plan.json").read_text())
    methods = report["methods"]
    out: dict[str, Any] = {
        name: 100 * methods[name]["success_rate"] if name in methods else None
        for name, _ in COLUMNS
    }
    out["distance"] = methods["world_model"]["final_distance_mean"]
    out["ms_per_step"] = 1000 * methods["world_model"]["seconds_per_step"]
    out["episodes"] = report["episodes"]
    walls = json.loads((kept / "bench_wall.json").read_text())
    out["train_min"], out["plan_min"] = walls["train_s"] / 60, walls["plan_s"] / 60
    return out


def write(results: dict[str, list[dict[str, Any]]], footer: str, tables: Path) -> Path:
    heads = ["recipe", "seeds", "episodes a seed", *[f"{h}, success %" for _, h in COLUMNS]]
    heads += ["per seed (world model)", "final distance (world model)", "ms / step (world model)"]
    heads += ["min per seed (train)", "min per seed (plan)"]
    lines = ["| " + " | ".join(heads) + " |", "|---|" + "---:|" * (len(heads) - 1)]
    csv = ["recipe,seeds,episodes," + ",".join(f"{n}_mean,{n}_std" for n, _ in COLUMNS)]
    for recipe, rows in results.items():
        cells = [f"`{recipe}`", str(len(rows)), str(rows[0]["episodes"])]
        cells += [cell([r[name] for r in rows]) for name, _ in COLUMNS]
        cells.append(", ".join(f"{r['world_model']:.0f}" for r in rows))
        cells += [cell([r["distance"] for r in rows]), cell([r["ms_per_step"] for r in rows])]
        cells += [cell([r["train_min"] for r in rows], 2), cell([r["plan_min"] for r in rows], 2)]
        lines.append("| " + " | ".join(cells) + " |")
        stats = []
        for name, _ in COLUMNS:
            present = [r[name] for r in rows if r[name] is not None]
            stats.append(f"{statistics.fmean(present):.4g}" if present else "")
            stats.append(f"{statistics.stdev(present):.3g}" if len(present) > 1 else "")
        csv.append(f"{recipe},{len(rows)},{rows[0]['episodes']},{','.join(stats)}")
    path = tables / "planning.md"
    publish(path, lines, footer, readme=False)
    (tables / "planning.csv").write_text("\n".join(csv) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--episodes", type=int, default=0, help="plan.episodes (0: recipe's)")
    parser.add_argument("--plan", nargs="*", default=[], help="more plan.* overrides")
    parser.add_argument("--jobs", type=int, default=1, help="seeds at once")
    parser.add_argument("--skip-done", action="store_true", help="keep runs already kept")
    parser.add_argument("--tables-only", action="store_true", help="rebuild from kept runs")
    parser.add_argument("--train-only", action="store_true", help="train, plan later")
    parser.add_argument(
        "--replan", action="store_true", help="plan with the runs trained before, if any"
    )
    parser.add_argument("--tables-dir", type=Path, default=TABLES)
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    plan = [*([f"plan.episodes={args.episodes}"] if args.episodes else []), *args.plan]
    kept_root = args.tables_dir / "runs" / "planning"
    targets = {(r, s): kept_root / f"{r}_seed-{s}" for r in args.recipes for s in seeds}
    todo = [
        key
        for key, target in targets.items()
        if not args.tables_only and not (args.skip_done and (target / "plan.json").is_file())
    ]
    started = time.perf_counter()

    def one(key: tuple[str, int]) -> None:
        recipe, seed = key
        out = OUT / recipe / f"seed-{seed}"
        run_dir = run_one(recipe, seed, out, None if args.train_only else plan, args.replan)
        if not args.train_only:
            keep(run_dir, targets[key])
            print(f"{recipe} seed {seed}: {numbers(targets[key])}", flush=True)

    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        list(pool.map(one, todo))  # each command is its own process; list() re-raises
    if args.train_only:
        return 0
    results: dict[str, list[dict[str, Any]]] = {}
    for recipe in RECIPES:  # every recipe's kept runs, so one recipe's rerun keeps the others
        for target in sorted(kept_root.glob(f"{recipe}_seed-*")):
            if (target / "plan.json").is_file():
                results.setdefault(recipe, []).append(numbers(target))
    import bench_results  # a sibling module: machine facts

    machine = bench_results.machine()
    how = (
        "tables rebuilt from the kept runs"
        if args.tables_only
        else f"{(time.perf_counter() - started) / 60:.1f} min wall, one thread a command, "
        f"{args.jobs} seed(s) at a time"
    )
    footer = (
        f"{stamp()}, {how} on {machine['cpus']} CPUs (torch {machine['torch']}); seeds "
        f"{', '.join(map(str, seeds))} asked for, `seeds` column the ones found. Success: "
        "the environment's rule on its true state (two_rooms: ending within 0.1 of the goal; "
        "pendulum_swingup: within 30 degrees of upright over the last 2 s of 10 s), the same "
        "planner and held-out start/goal pairs for every method of a seed. Plan overrides "
        f"of this command, for {', '.join(args.recipes)}: "
        f"{' '.join(plan) or 'none (the recipes as shipped)'}; every row's own settings are "
        "in its kept plan.json, a dash a method not planned. Minutes per seed: `jepa run` "
        "(collection and training), and `jepa plan` with the methods it planned (the "
        "reference models' training included)."
    )
    write(results, footer, args.tables_dir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
