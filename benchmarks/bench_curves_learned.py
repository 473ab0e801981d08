"""The curve recipes with a learned predictor, against their controls, over seeds.

Runs each built-in curve recipe (``circle``, ``lissajous``, ``spiral``) as shipped, one
``jepa run`` per seed (``seed=N``) with its baselines and controls on, and writes
``benchmarks/tables/curves_learned.md`` (+ .csv): mean ± std over seeds of VPT(0.5) in frames
for the JEPA, the random-encoder control (the recipe's encoder randomly initialised and frozen,
the recipe's predictor trained on its standardised latents with the JEPA phase's budget), the
``supervised`` baseline (the recipe's encoder, predictor and decoder trained end to end on the
observation loss), the parameter-free ``oscillator`` run on the raw coordinates
(``oscillator_raw``, nothing learned) where eval.json has it, and the wall time per run.

Where a run's eval.json has no ``random_encoder`` forecast (controls that only read a state
probe skip datasets without probe positions), this script trains that control itself, as
``jepa_framework.evaluate.report.make_control`` does, fits the recipe's decoder to the frozen
random encoder's latents (by least squares or by gradient, as ``decoder_train`` says) and
scores its decoded forecasts on the run's own held-out trajectories; the table says which.

Run directories go under ``benchmarks/results/curves_learned/`` (git-ignored); each run's
config.yaml, eval.json, metrics.json and the control's scores are kept under
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
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from stamp import publish, stamp  # noqa: E402  (a sibling module)

MODES = ("circle", "lissajous", "spiral")
TABLES = ROOT / "benchmarks" / "tables"
KEEP = TABLES / "runs" / "curves_learned"
OUT = ROOT / "benchmarks" / "results" / "curves_learned"
#: the file beside a kept run that holds the control this script trained itself
CONTROL_FILE = "random_encoder.json"
#: the table's methods: (eval.json name, column heading)
COLUMNS = (
    ("jepa", "JEPA"),
    ("random_encoder", "random encoder (control)"),
    ("refit_predictor", "JEPA encoder, predictor refitted (control)"),
    ("supervised", "`supervised`"),
    ("oscillator_raw", "`oscillator` on raw coordinates (nothing learned)"),
)
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


def train_control(run_dir: Path, threads: int) -> dict[str, Any]:
    """The random-encoder control of a finished run, decoded and scored like its forecasts.

    The recipe's encoder freshly initialised and frozen; a fresh predictor of the recipe's
    architecture trained on its standardised latents with the JEPA phase's step plan, learning
    rate, weight decay, clipping and ``objective.rollout_steps``-step latent loss; the recipe's
    decoder fitted to its latents as ``decoder_train`` says; scored on the run's held-out
    trajectories (eval.split) by the NRMSE its evaluation uses.
    """
    import torch

    from jepa_framework.api import load_run
    from jepa_framework.core.seeds import derive_seed
    from jepa_framework.datasets.windows import gather_windows
    from jepa_framework.evaluate.metrics import valid_frames
    from jepa_framework.evaluate.rollout import held_out, training_observations
    from jepa_framework.evaluate.spaces import scoring_of
    from jepa_framework.models.jepa import JEPA, StandardisedPredictor
    from jepa_framework.pipeline.assemble import build, random_encoder, shapes_of
    from jepa_framework.pipeline.decoder_fit import fit_linear_decoder
    from jepa_framework.pipeline.latents import window_latents
    from jepa_framework.pipeline.optim import Optimisation
    from jepa_framework.pipeline.training import RefitObjective, jepa_plan

    torch.set_num_threads(threads)
    started = time.perf_counter()
    run = load_run(run_dir, device="cpu")
    recipe, assembly, dataset = run.recipe, run.assembly, run.dataset
    train_idx, history, cfg = assembly.split.train, recipe.data.history, recipe.train
    shapes = shapes_of(recipe, dataset)
    encoder = random_encoder(recipe, run.host, assembly).requires_grad_(False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(recipe.seed, "random_encoder_predictor"))
        predictor = build(run.host, recipe.model.predictor, shapes)
        decoder = build(run.host, recipe.model.decoder, shapes)
    z = window_latents(encoder, dataset, train_idx, history, "cpu")  # [N, W, D]
    stepper = StandardisedPredictor(predictor, z.shape[-1])
    normed = stepper.standardise_by(z)
    control = JEPA(encoder, stepper, "online", history).eval()
    plan = jepa_plan(recipe, len(train_idx))
    n, windows = normed.shape[:2]
    steps = max(1, min(recipe.objective.rollout_steps, windows - 1))
    params = list(predictor.parameters())
    if params:
        objective = RefitObjective(predictor)
        optimisation = Optimisation(params, plan, cfg.lr, cfg.weight_decay, cfg.grad_clip)
        g = torch.Generator().manual_seed(derive_seed(recipe.seed, "random_encoder_batches"))
        predictor.train()
        for _ in range(plan.total_steps):
            traj = torch.randint(0, n, (cfg.batch_size,), generator=g)
            start = torch.randint(0, windows - steps, (cfg.batch_size,), generator=g)
            optimisation.step(objective(gather_windows(normed, traj, start, steps + 1))[0])
        predictor.eval()
    dcfg = recipe.decoder_train
    if dcfg.solver == "least_squares":
        with torch.no_grad():
            fit_linear_decoder(
                encoder, decoder, recipe.model.decoder.name, dataset, train_idx, history, "cpu"
            )
    else:  # the decoder phase: every training window's last frame from its latent
        flat = z.flatten(0, 1)
        frames = dataset.to_float(dataset.observations[train_idx])[:, history - 1 :]
        frames = frames.flatten(0, 1)
        per_epoch = -(-len(train_idx) // dcfg.batch_size)
        optimisation = Optimisation(
            decoder.parameters(),
            type(plan)(dcfg.epochs, per_epoch, min(100, dcfg.epochs * per_epoch // 10)),
            dcfg.lr,
            0.0,
            cfg.grad_clip,
        )
        g = torch.Generator().manual_seed(derive_seed(recipe.seed, "random_encoder_decoder"))
        decoder.train()
        for _ in range(dcfg.epochs * per_epoch):
            pick = torch.randint(0, len(flat), (dcfg.batch_size,), generator=g)
            optimisation.step(torch.nn.functional.mse_loss(decoder(flat[pick]), frames[pick]))
    decoder.eval()
    ev = recipe.eval
    context = max(history, ev.ar_order)
    trajectories = min(ev.trajectories, len(dataset))
    held = held_out(dataset, trajectories, context, ev.horizon, recipe.trajectory_seed(), train_idx)
    scorer = scoring_of(dataset).scorer(lambda: training_observations(dataset, held))
    clip = dataset.to_float(held.stored)
    with torch.no_grad():
        rolled = control.rollout(control.encode_context(clip[:, :context]), held.horizon)
        decoded = decoder(rolled.movedim(0, 1).flatten(0, 1))
    decoded = decoded.view(trajectories, held.horizon, *dataset.obs_shape)
    curves = scorer(decoded, clip[:, context:])["nrmse"]
    return {
        "what": "the recipe's encoder randomly initialised and frozen, the recipe's predictor "
        "trained on its standardised latents with the JEPA phase's budget, the recipe's decoder "
        "fitted to its latents",
        "trained_by": "benchmarks/bench_curves_learned.py",
        "seed": recipe.trajectory_seed(),
        "vpt": {"0.5": {"frames": float(valid_frames(curves, 0.5).float().median())}},
        "nrmse": curves.mean(0).tolist(),
        "optimizer_steps": plan.total_steps if params else 0,
        "rollout_steps": steps,
        "wall_s": round(time.perf_counter() - started, 1),
    }


def keep(run_dir: Path, target: Path) -> Path:
    """Keep a run's small files under ``target``, with where the run directory is."""
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for name in ("config.yaml", "eval.json", "metrics.json", "bench_wall.json"):
        if (run_dir / name).is_file():
            shutil.copy2(run_dir / name, target / name)
    (target / "run_dir.txt").write_text(str(run_dir.relative_to(ROOT)) + "\n")
    return target


def run_dir_of(kept: Path) -> Path:
    return ROOT / (kept / "run_dir.txt").read_text().strip()


def needs_control(kept: Path) -> bool:
    """Whether a kept run has no random-encoder forecast yet (in eval.json or beside it)."""
    if not (kept / "eval.json").is_file() or (kept / CONTROL_FILE).is_file():
        return False
    report = json.loads((kept / "eval.json").read_text())
    return "random_encoder" not in report["forecast"]["methods"]


def numbers(kept: Path) -> dict[str, Any]:
    """One kept run's VPT per method (None where it has none) and its wall time in minutes."""
    report = json.loads((kept / "eval.json").read_text())
    methods = report["forecast"]["methods"]
    out: dict[str, Any] = {
        name: vpt_of(methods[name]) if name in methods else None for name, _ in COLUMNS
    }
    out["control_source"] = "eval.json" if "random_encoder" in methods else None
    if out["random_encoder"] is None and (kept / CONTROL_FILE).is_file():
        out["random_encoder"] = vpt_of(json.loads((kept / CONTROL_FILE).read_text()))
        out["control_source"] = "this script"
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


def cell(values: list[float | None], digits: int = 3) -> str:
    present = [v for v in values if v is not None]
    if not present:
        return "—"
    if len(present) == 1:  # one seed has no spread to show
        return f"{present[0]:.{digits}g}"
    return f"{statistics.fmean(present):.{digits}g} ± {statistics.stdev(present):.2g}"


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
    sources = {r["control_source"] for rows in results.values() for r in rows}
    note = (
        " The random-encoder control was trained by this script (eval.json had none for these "
        "datasets), decoded by the recipe's decoder fitted to its latents."
        if "this script" in sources
        else " The controls are eval.json's: each read through a linear decoder solved by least "
        "squares on its latents (the JEPA through the recipe's own decoder)."
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
    results: dict[str, list[dict[str, Any]]] = {}
    for mode in args.modes:
        rows = []
        for seed in seeds:
            target = kept_root / f"{mode}_seed-{seed}"
            done = args.skip_done and (target / "eval.json").is_file()
            if not (args.tables_only or done):
                out = OUT / args.split / mode / f"seed-{seed}"
                keep(run_one(mode, seed, args.threads, out, extra), target)
            if not args.tables_only and needs_control(target):
                control = train_control(run_dir_of(target), args.threads)
                (target / CONTROL_FILE).write_text(json.dumps(control, indent=1) + "\n")
            if (target / "eval.json").is_file():
                rows.append(numbers(target))
                print(f"{mode} seed {seed}: {rows[-1]}", flush=True)
        if rows:
            results[mode] = rows
    minutes = (time.perf_counter() - started) / 60
    if args.split == "validation":
        print(json.dumps(results, indent=1))
        return 0
    import bench_results  # a sibling module: machine facts

    machine = bench_results.machine()
    how = (
        "tables rebuilt from the kept runs"
        if args.tables_only
        else f"{minutes:.1f} min wall, {args.threads} threads a run, one run at a time"
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
