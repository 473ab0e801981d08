"""Budget curve: do the supervised baselines catch up with the JEPA given more optimizer steps?

Runs `jepa sweep pendulum` at the sizes of `bench_results.py` (JEPA + `mse`, the best
regularizer there) over seeds, with the supervised baselines trained at several multiples of the
JEPA's optimizer steps (``eval.baseline_budgets``), then writes from each run's
``budget_curve`` (eval.json) a table, mean ± std over seeds: per method and budget, the
optimizer steps, VPT(0.5) in the chaotic band E>10 and over all trajectories, and the training
wall time. The runs' eval.json and metrics.json are kept under
``benchmarks/tables/runs/budgets/``; the table is ``benchmarks/tables/budgets.md`` (+ .csv),
which README shows (``benchmarks/sync_readme.py``).

    uv run python benchmarks/bench_budgets.py                       # budgets 1,4; seeds 0,1,2
    uv run python benchmarks/bench_budgets.py --budgets 1,4,16 --seeds 0

Measured on 2 cores: about 6 minutes per seed for budgets 1 and 4 (the supervised baselines at
4x take about 140 s and 85 s); 16x adds about 15 minutes per seed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_results  # noqa: E402  (a sibling module: the same sizes and machine facts)
from stamp import stamp  # noqa: E402  (a sibling module)

TABLES = ROOT / "benchmarks" / "tables"


def run(budgets: str, seeds: str, out: Path) -> Path:
    from jepa_framework.jobs.sweep import run_sweep
    from jepa_framework.plugin.host import host

    overrides = [
        *bench_results.COMMON,
        *bench_results.FULL["pendulum"],
        bench_results.WITH_BASELINES,
        f"eval.baseline_budgets=[{budgets}]",
        "objective.regularizer.name=mse",
        f"output.dir={out}",
        f"seed={seeds}",
    ]
    sweep_dir, _ = run_sweep("pendulum", overrides, host())
    return sweep_dir


def collect(sweep_dir: Path, keep: Path) -> dict[tuple[str, int], list[dict]]:
    """(method, multiple) -> one budget-curve point per seed; copies the runs' JSON files."""
    points: dict[tuple[str, int], list[dict]] = {}
    if keep.exists():
        shutil.rmtree(keep)
    for run_dir in sorted(p for p in sweep_dir.iterdir() if (p / "eval.json").is_file()):
        seed = json.loads((run_dir / "eval.json").read_text())
        target = keep / run_dir.name.rsplit("_", 1)[0]
        target.mkdir(parents=True)
        for name in ("config.yaml", "eval.json", "metrics.json"):
            shutil.copy2(run_dir / name, target / name)
        for method, by_multiple in seed["budget_curve"].items():
            for multiple, point in by_multiple.items():
                points.setdefault((method, int(multiple)), []).append(point)
    return points


def cell(values: list[float | None]) -> str:
    numbers = [v for v in values if v is not None]
    if not numbers:
        return "—"
    mean = statistics.fmean(numbers)
    std = statistics.stdev(numbers) if len(numbers) > 1 else 0.0
    return f"{mean:.3g} ± {std:.2g}"


def write_table(points: dict[tuple[str, int], list[dict]], footer: str, tables: Path) -> Path:
    heads = ["method", "budget", "seeds", "optimizer steps", "E>10: VPT(0.5)", "all: VPT(0.5)"]
    heads.append("training wall s")
    lines = ["| " + " | ".join(heads) + " |", "|---|---:|---:|---:|---:|---:|---:|"]
    csv = [",".join(heads)]
    for (method, multiple), seeds in sorted(
        points.items(), key=lambda kv: (kv[0][0] != "jepa", kv[0])
    ):
        row = [
            "JEPA + `mse`" if method == "jepa" else f"`{method}`",
            f"{multiple}x",
            str(len(seeds)),
            f"{seeds[0]['optimizer_steps']:,}",
            cell([s["groups"].get("E>10") for s in seeds]),
            cell([s["vpt"] for s in seeds]),
            cell([s["wall_s"] for s in seeds]),
        ]
        lines.append("| " + " | ".join(row) + " |")
        csv.append(",".join(c.replace(",", "") for c in row))
    path = tables / "budgets.md"
    path.write_text("\n".join([*lines, "", footer]) + "\n")
    (tables / "budgets.csv").write_text("\n".join(csv) + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", default="1,4", help="multiples of the JEPA's steps")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--out-dir", type=Path, default=bench_results.RUNS_OUT / "budgets")
    parser.add_argument("--tables-dir", type=Path, default=TABLES)
    args = parser.parse_args()
    started = time.perf_counter()
    sweep_dir = run(args.budgets, args.seeds, args.out_dir)
    minutes = (time.perf_counter() - started) / 60
    points = collect(sweep_dir, args.tables_dir / "runs" / "budgets")
    machine = bench_results.machine()
    seeds = args.seeds.replace(",", ", ")
    footer = (
        f"`pendulum`, JEPA + `mse` at the sizes of `bench_results.py`, supervised baselines at "
        f"{args.budgets.replace(',', ', ')}x the JEPA's optimizer steps: {stamp()}, "
        f"{minutes:.1f} min wall on "
        f"{machine['cpus']} CPUs (torch {machine['torch']}); seeds {seeds}, "
        f"mean ± std over seeds. The JEPA's wall time is its whole run (both phases, artifacts)."
    )
    print(write_table(points, footer, args.tables_dir).read_text())


if __name__ == "__main__":
    main()
