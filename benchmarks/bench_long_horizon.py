"""Finished runs re-scored over a longer horizon, where the recipe's own has every method censored.

When the JEPA and a baseline both stay valid to the end of the recipe's horizon (the curves), the
results table cannot tell them apart. This script copies each finished run of a
``bench_results.py`` sweep (the newest under ``benchmarks/results/<mode>/`` unless ``--runs``
names them) to a temporary folder, sets ``eval.horizon`` (controls off), evaluates it again
(``LoadedRun.evaluate``: the baselines are trained again, with the run's seed) and writes
``benchmarks/tables/long_horizon_<mode>.md``: VPT(0.5), the censored fraction and the NRMSE
at the last frame per method, mean ± std over the runs, and each run's VPT and NRMSE (runs in
the footer's order, so methods compare run by run; the NRMSE still separates methods that all
reach the horizon). ``--jobs`` re-scores that many runs at once, one thread each. The NRMSE
normaliser is the spread over the scored frames, so it grows with the horizon on the spiral; it
is the same for every method.

    uv run python benchmarks/bench_long_horizon.py --mode spiral --horizon 300
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import multiprocessing
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import attrs
import torch
from stamp import publish, stamp  # a sibling module of this script

from jepa_framework import api
from jepa_framework.core.threads import one_torch_thread

ROOT = Path(__file__).resolve().parent.parent
TABLES = ROOT / "benchmarks" / "tables"
RESULTS = ROOT / "benchmarks" / "results"


def newest_sweep_runs(mode: str) -> list[Path]:
    """The run folders of the newest sweep of ``mode`` that bench_results.py left."""
    sweeps = sorted((RESULTS / mode).glob("sweep_*"))
    if not sweeps:
        raise SystemExit(f"no sweep under {RESULTS / mode}: run benchmarks/bench_results.py first")
    return sorted(p for p in sweeps[-1].iterdir() if (p / "eval.json").is_file())


def rescore(run_dir: Path, horizon: int) -> dict[str, tuple[float, float, float]]:
    """{method: (VPT(0.5) frames, censored fraction, NRMSE at the last frame)} of a copy of
    ``run_dir`` at ``horizon``."""
    with one_torch_thread(), tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / run_dir.name
        shutil.copytree(run_dir, copy)
        run = api.load_run(copy, device="cpu")
        run.recipe = attrs.evolve(
            run.recipe, eval=attrs.evolve(run.recipe.eval, horizon=horizon, controls=False)
        )
        methods = run.evaluate()["forecast"]["methods"]
    return {
        name: (entry["vpt"]["0.5"]["frames"], entry["vpt"]["0.5"]["censored"], entry["nrmse"][-1])
        for name, entry in methods.items()
    }


def cell(values: list[float], digits: int = 3) -> str:
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):.{digits}g} ± {std:.2g}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", default="spiral")
    parser.add_argument("--horizon", type=int, default=300)
    parser.add_argument("--runs", nargs="+", type=Path, help="run folders (default: newest sweep)")
    parser.add_argument("--jobs", type=int, default=1, help="runs re-scored at once")
    parser.add_argument("--no-readme", action="store_true")
    args = parser.parse_args()
    runs = args.runs or newest_sweep_runs(args.mode)
    started = time.perf_counter()
    spawn = multiprocessing.get_context("spawn")  # fresh interpreters: no forked torch state
    with cf.ProcessPoolExecutor(args.jobs, mp_context=spawn) as pool:
        scores = list(pool.map(rescore, runs, [args.horizon] * len(runs)))
    minutes = (time.perf_counter() - started) / 60
    lines = [
        f"| method | runs | VPT(0.5) over {args.horizon} frames | censored | NRMSE at frame "
        f"{args.horizon} | VPT per run | NRMSE per run |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    for name in scores[0]:
        vpts, censored, errors = ([s[name][i] for s in scores] for i in range(3))
        each = ", ".join(f"{v:g}" for v in vpts)
        each_error = ", ".join(f"{e:.2g}" for e in errors)
        lines.append(
            f"| `{name}` | {len(scores)} | {cell(vpts)} | {cell(censored, 2)} | "
            f"{cell(errors, 2)} | {each} | {each_error} |"
        )
    footer = (
        f"`{args.mode}`: {stamp()}, {minutes:.1f} min wall on the CPU ({args.jobs} at a time, "
        f"one thread each; torch "
        f"{torch.__version__}); runs {', '.join(run.name for run in runs)}, mean ± std over "
        f"them; baselines trained again at their usual budget."
    )
    publish(TABLES / f"long_horizon_{args.mode}.md", lines, footer, readme=not args.no_readme)


if __name__ == "__main__":
    main()
