"""Ablations: which lever made the forecasts work, one row per lever, mean ± std over seeds.

Each mode's rows start from the settings its built-in recipe had before (row 1) and add one
lever at a time up to the recipe as shipped (the row without overrides); rows after it, and a
few between, take one lever away from a recipe, to show what it is worth on its own. Every row
spells out the networks it ran with, so it reproduces whatever the recipe ships today.
Every row runs over the seeds with the baselines and the random-encoder control off
(``bench_results.py`` measures those), each run with one CPU thread and ``--jobs`` runs at a
time, scored on the validation trajectories (``eval.split=validation``: the test set is for
the result tables only). From each run's eval.json the table gives the headline VPT(0.5) (the
E>10 band for the pendulum), the state probe's mean R², whether the embedding collapsed, and the
minutes per run;
negative results stay in the table. Writes ``benchmarks/tables/ablations_<mode>.md`` (+ .csv)
and keeps the runs' config/eval/metrics JSON under ``benchmarks/tables/runs/ablations/``;
README shows the tables (``benchmarks/sync_readme.py``).

    uv run python benchmarks/bench_ablations.py --modes circle lissajous    # 3 seeds, 2 jobs
    uv run python benchmarks/bench_ablations.py --modes circle --rows 1,4 --seeds 0
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_results  # noqa: E402  (a sibling module: machine facts)
import sync_readme  # noqa: E402
from stamp import stamp  # noqa: E402  (a sibling module)

TABLES = ROOT / "benchmarks" / "tables"
OUT = bench_results.RUNS_OUT / "ablations"

#: the curves' previous recipe (before issue 10): 2,000 trajectories x 30 epochs, 4-step rollout
CURVES_BEFORE = [
    "model.predictor.name=residual_mlp",
    "objective.rollout_steps=4",
    "data.dataset.size=2000",
    "train.epochs=30",
    "decoder_train.epochs=30",
]
#: circle's and lissajous' networks before the oscillator: an MLP on the whole window, 16-d latent
WINDOW_MLP_ENCODER = [
    "model.embedding_dim=16",
    "model.encoder.name=mlp",
    "model.encoder.depth=2",
    "model.encoder.hidden_dim=128",
]
KOOPMAN = [
    *WINDOW_MLP_ENCODER,
    "model.predictor.name=koopman",
    "model.predictor.hidden_dim=128",
    "model.predictor.invariants=4",
]
#: the spiral recipe's networks before the oscillator (its predictor is set per row)
SPIRAL_BEFORE_NETWORKS = [
    "model.encoder.name=mlp",
    "model.encoder.depth=2",
    "model.encoder.hidden_dim=128",
    "model.decoder.depth=2",
    "model.decoder.hidden_dim=128",
    "decoder_train.solver=gradient",  # an MLP decoder has no closed form
]
#: (label, overrides of the shipped recipe) per mode; the row without overrides is the recipe
#: circle's decoder before the closed-form one: a 2 x 128 MLP trained 30 epochs
CIRCLE_MLP_DECODER = [
    "model.decoder.depth=2",
    "model.decoder.hidden_dim=128",
    "decoder_train.solver=gradient",
    "decoder_train.epochs=30",
]
LEVERS: dict[str, list[tuple[str, list[str]]]] = {
    "circle": [
        (
            "previous recipe (residual MLP, 4-step rollout, 2k x 30 epochs)",
            [
                *WINDOW_MLP_ENCODER,
                *CURVES_BEFORE,
                *CIRCLE_MLP_DECODER,
                "model.predictor.hidden_dim=128",
                "data.history=2",
            ],
        ),
        (
            "+ 2x data, 200 epochs",
            [
                *WINDOW_MLP_ENCODER,
                *CIRCLE_MLP_DECODER,
                "model.predictor.name=residual_mlp",
                "model.predictor.hidden_dim=128",
                "objective.rollout_steps=4",
                "data.history=2",
            ],
        ),
        (
            "+ 32-step rollout",
            [
                *WINDOW_MLP_ENCODER,
                *CIRCLE_MLP_DECODER,
                "model.predictor.name=residual_mlp",
                "model.predictor.hidden_dim=128",
                "data.history=2",
            ],
        ),
        (
            "+ koopman predictor (the recipe before the oscillator)",
            [*KOOPMAN, *CIRCLE_MLP_DECODER, "data.history=2"],
        ),
        (
            "koopman recipe, but a 4-step rollout",
            [*KOOPMAN, *CIRCLE_MLP_DECODER, "data.history=2", "objective.rollout_steps=4"],
        ),
        (
            "oscillator predictor, linear frame encoder, closed-form linear decoder (shipped "
            "recipe)",
            [],
        ),
        (
            "shipped, but the 2 x 128 MLP decoder trained 30 epochs (the recipe before the "
            "closed-form decoder)",
            CIRCLE_MLP_DECODER,
        ),
    ],
    "lissajous": [
        (
            "previous recipe (history 2)",
            [
                *WINDOW_MLP_ENCODER,
                *CURVES_BEFORE,
                "model.predictor.hidden_dim=128",
                "data.history=2",
            ],
        ),
        (
            "+ 2x data, 200 epochs, history 4",
            [
                *WINDOW_MLP_ENCODER,
                "model.predictor.name=residual_mlp",
                "model.predictor.hidden_dim=128",
                "objective.rollout_steps=4",
            ],
        ),
        (
            "+ 32-step rollout",
            [
                *WINDOW_MLP_ENCODER,
                "model.predictor.name=residual_mlp",
                "model.predictor.hidden_dim=128",
            ],
        ),
        ("+ koopman predictor (the recipe before the oscillator)", KOOPMAN),
        ("koopman recipe, but history 2", [*KOOPMAN, "data.history=2"]),
        ("oscillator predictor, linear frame encoder (shipped recipe)", []),
        (
            "shipped, but an MLP frame encoder (2 x 128, 8 channels a frame)",
            ["model.encoder.depth=2", "model.encoder.hidden_dim=128", "model.embedding_dim=32"],
        ),
    ],
    "spiral": [
        (
            "previous recipe",
            [
                *SPIRAL_BEFORE_NETWORKS,
                *CURVES_BEFORE,
                "model.predictor.hidden_dim=128",
                "data.history=2",
            ],
        ),
        (
            "+ koopman predictor, 32-step rollout, 2x data, 200 epochs (the recipe before the "
            "oscillator)",
            [
                *SPIRAL_BEFORE_NETWORKS,
                "model.predictor.name=koopman",
                "model.predictor.hidden_dim=128",
                "model.predictor.invariants=4",
                "objective.rollout_steps=32",
                "decoder_train.epochs=30",
                "data.history=2",
            ],
        ),
        (
            "growing oscillator, linear frame encoder and decoder, 8-step rollout (shipped)",
            [],
        ),
        (
            "shipped, but the decoder trained by gradient for 30 epochs",
            ["decoder_train.solver=gradient", "decoder_train.epochs=30"],
        ),
        (
            "shipped, but the decoder trained by gradient for 300 epochs (the recipe before the "
            "closed-form decoder)",
            ["decoder_train.solver=gradient", "decoder_train.epochs=300"],
        ),
    ],
}
#: ablations screen on the validation trajectories, never on the test set
QUIET = [
    "eval.baselines=false",
    "eval.controls=false",
    "eval.split=validation",
    "output.forecast_frames=60",
]


def run_one(mode: str, overrides: list[str], seed: int, out: Path) -> Path:
    """One `jepa run` in its own process with one thread; returns its run directory."""
    out.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "jepa_framework",
        "run",
        mode,
        *overrides,
        *QUIET,
        "train.threads=1",
        f"seed={seed}",
        f"output.dir={out}",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "JEPA_PROGRESS_SECONDS": "600"}
    log = out / "bench.log"
    with log.open("w") as handle:
        code = subprocess.call(command, stdout=handle, stderr=subprocess.STDOUT, env=env)
    runs = sorted(p for p in out.iterdir() if (p / "eval.json").is_file())
    if code or not runs:
        raise RuntimeError(f"{mode} {overrides} seed {seed} failed; see {log}")
    return runs[-1]


def headline(report: dict) -> float:
    """VPT(0.5) in frames: in the headline band where the dataset has one, else over all."""
    band = (report.get("summary") or {}).get("headline")
    if isinstance(band, dict) and band.get("vpt", {}).get("jepa") is not None:
        return float(band["vpt"]["jepa"])
    return float(report["forecast"]["methods"]["jepa"]["vpt"]["0.5"]["frames"])


def cell(values: list[float], digits: int = 3) -> str:
    if not values:
        return "—"
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):.{digits}g} ± {std:.2g}"


def shipped_runs(mode: str, seeds: list[int], tables: Path) -> list[Path] | None:
    """bench_results.py's kept runs of the shipped recipe with the recipe's own regularizer.

    They are the shipped row's runs already made (same recipe, seeds and training; only the
    baselines and the video differ), so ``--reuse-shipped`` takes them instead of training again.
    """
    import yaml

    from jepa_framework.config.recipe import load_recipe

    regularizer = load_recipe(mode)[0].objective.regularizer.name
    runs = [tables / "runs" / mode / f"{regularizer}_seed-{seed}" for seed in seeds]
    if not all((run / "eval.json").is_file() for run in runs):
        return None
    for run in runs:
        config = yaml.safe_load((run / "config.yaml").read_text())
        if config["objective"]["regularizer"]["name"] != regularizer:
            return None
    return runs


def measure(
    mode: str,
    rows: list[int],
    seeds: list[int],
    jobs: int,
    keep: Path,
    reuse: bool,
    skip_done: bool = False,
) -> list[dict]:
    """Run every (row, seed) not already available; returns one dict per row with its numbers.

    Runs already kept (``skip_done``) and the shipped row's bench_results runs (``reuse``) are
    read where they are; only fresh runs are copied under ``keep``.
    """
    levers = LEVERS[mode]
    shipped = shipped_runs(mode, seeds, keep.parent.parent) if reuse else None
    ready: dict[tuple[int, int], Path] = {}
    with cf.ThreadPoolExecutor(jobs) as pool:
        fresh = {}
        for i in rows:
            for seed in seeds:
                kept = keep / mode / f"row-{i}_seed-{seed}"
                if skip_done and (kept / "eval.json").is_file():
                    ready[i, seed] = kept
                elif shipped and not levers[i - 1][1]:
                    ready[i, seed] = shipped[seeds.index(seed)]
                else:
                    out = OUT / mode / f"row-{i}" / f"seed-{seed}"
                    if out.exists():
                        shutil.rmtree(out)
                    fresh[pool.submit(run_one, mode, levers[i - 1][1], seed, out)] = (i, seed)
        for future in cf.as_completed(fresh):
            i, seed = fresh[future]
            ready[i, seed] = copy_run(future.result(), keep / mode / f"row-{i}_seed-{seed}")
    return [{"row": i, "seeds": [numbers(ready[i, seed]) for seed in seeds]} for i in rows]


def copy_run(run_dir: Path, target: Path) -> Path:
    """Keep a run's config.yaml, eval.json and metrics.json under ``target``."""
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for name in ("config.yaml", "eval.json", "metrics.json"):
        shutil.copy2(run_dir / name, target / name)
    return target


def numbers(run_dir: Path) -> dict:
    """What the table shows of one run: headline VPT, probe R², collapse, minutes."""
    report = json.loads((run_dir / "eval.json").read_text())
    metrics = json.loads((run_dir / "metrics.json").read_text())
    return {
        "vpt": headline(report),
        "r2": report["probe"]["r2_mean"],
        "nrmse": report["forecast"]["methods"]["jepa"]["nrmse"][-1],
        "collapsed": bool(metrics.get("collapsed", False)),
        "minutes": wall_minutes(run_dir),
    }


def wall_minutes(run_dir: Path) -> float:
    """The run's wall time (metrics.json) plus its evaluation (eval.json's eval_seconds)."""
    metrics = json.loads((run_dir / "metrics.json").read_text())
    report = json.loads((run_dir / "eval.json").read_text())
    return (metrics.get("wall_time_s", 0.0) + report.get("eval_seconds", 0.0)) / 60


def r2_cell(values: list[float]) -> str:
    flat = [v if isinstance(v, float) else v[0] for v in values]
    return cell(flat)


def write(mode: str, results: list[dict], footer: str, tables: Path) -> Path:
    heads = ["#", "lever", "overrides of the shipped recipe", "seeds", "VPT(0.5), frames"]
    heads += ["NRMSE at the horizon", "probe R²", "collapsed", "min per run (1 thread)"]
    lines = ["| " + " | ".join(heads) + " |", "|---:|---|---|---:|---:|---:|---:|---:|---:|"]
    csv = ["row,lever,overrides,seeds,vpt_mean,vpt_std,nrmse_mean,r2_mean,collapsed,minutes"]
    for result in results:
        i, seeds = result["row"], result["seeds"]
        label, overrides = LEVERS[mode][i - 1]
        vpts = [s["vpt"] for s in seeds]
        row = [
            str(i),
            label,
            " ".join(f"`{o}`" for o in overrides) or "—",
            str(len(seeds)),
            cell(vpts),
            cell([s["nrmse"] for s in seeds]),
            r2_cell([s["r2"] for s in seeds]),
            f"{sum(s['collapsed'] for s in seeds)}/{len(seeds)}",
            f"{statistics.fmean(s['minutes'] for s in seeds):.1f}",
        ]
        lines.append("| " + " | ".join(row) + " |")
        std = statistics.stdev(vpts) if len(vpts) > 1 else 0.0
        r2 = statistics.fmean(s["r2"] for s in seeds)
        nrmse = statistics.fmean(s["nrmse"] for s in seeds)
        collapsed = sum(s["collapsed"] for s in seeds)
        minutes = statistics.fmean(s["minutes"] for s in seeds)
        csv.append(
            f'{i},"{label}","{" ".join(overrides)}",{len(seeds)},{statistics.fmean(vpts):.4g},'
            f"{std:.3g},{nrmse:.4g},{r2:.4g},{collapsed},{minutes:.2f}"
        )
    path = tables / f"ablations_{mode}.md"
    path.write_text("\n".join([*lines, "", footer]) + "\n")
    (tables / f"ablations_{mode}.csv").write_text("\n".join(csv) + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", nargs="+", default=list(LEVERS), choices=list(LEVERS))
    parser.add_argument("--rows", help="comma-separated row numbers (default: all)")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time, one thread each")
    parser.add_argument("--tables-dir", type=Path, default=TABLES)
    parser.add_argument("--no-readme", action="store_true")
    parser.add_argument(
        "--skip-done", action="store_true", help="keep rows and seeds already in the kept runs"
    )
    parser.add_argument(
        "--reuse-shipped",
        action="store_true",
        help="take the shipped row from bench_results.py's kept runs instead of training it",
    )
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    machine = bench_results.machine()
    for mode in args.modes:
        rows = (
            [int(r) for r in args.rows.split(",")]
            if args.rows
            else list(range(1, len(LEVERS[mode]) + 1))
        )
        started = time.perf_counter()
        kept = args.tables_dir / "runs" / "ablations"
        results = measure(mode, rows, seeds, args.jobs, kept, args.reuse_shipped, args.skip_done)
        minutes = (time.perf_counter() - started) / 60
        footer = (
            f"`{mode}`: {stamp()}, {minutes:.1f} min wall on {machine['cpus']} CPUs "
            f"({args.jobs} runs at a time, one thread each; torch {machine['torch']}); seeds "
            f"{', '.join(map(str, seeds))}, mean ± std over seeds; baselines in the results "
            f"tables. VPT over the recipe's evaluation horizon; NRMSE at its last frame (it still "
            f"separates rows that all reach the horizon)."
            + (
                " The shipped row's runs are those of bench_results.py (`--reuse-shipped`)."
                if args.reuse_shipped
                else ""
            )
            + (
                " Rows already kept were read from earlier invocations (`--skip-done`); the wall "
                "time above is this invocation's."
                if args.skip_done
                else ""
            )
        )
        print(write(mode, results, footer, args.tables_dir).read_text())
    if not args.no_readme:
        sync_readme.main([])


if __name__ == "__main__":
    main()
