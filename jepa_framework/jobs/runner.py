"""`jepa run`: the run lifecycle, and only that.

Assemble the components (:mod:`~jepa_framework.pipeline.assemble`), open the run directory and its
log,
start the observers, train (:mod:`~jepa_framework.pipeline.training`), write the artifacts
(:mod:`~jepa_framework.pipeline.artifacts`), evaluate, and tell the observers how it ended.
"""

from __future__ import annotations

import logging
import platform
import time
from pathlib import Path
from typing import Any

import torch

from jepa_framework import __version__
from jepa_framework.config.recipe import Recipe, dump_recipe, load_recipe, unstructure_recipe
from jepa_framework.core.distributed import barrier, broadcast_object, teardown
from jepa_framework.core.errors import JepaError
from jepa_framework.core.seeds import derive_seed
from jepa_framework.datasets.base import describe
from jepa_framework.pipeline.artifacts import (
    CONFIG_NAME,
    METRICS_NAME,
    save_models,
    write_config,
    write_forecast,
    write_json,
    write_loss_curves,
    write_reconstruction,
)
from jepa_framework.pipeline.assemble import Assembly, assemble
from jepa_framework.pipeline.checkpoint import TrainState, is_finished, resume_state
from jepa_framework.pipeline.run import (
    FolderWatch,
    Run,
    attach_console,
    attach_log_file,
    discard_new_run_dir,
    new_run_dir,
)
from jepa_framework.pipeline.training import Trainer

log = logging.getLogger("jepa_framework")


def provenance(host: Any) -> str:
    dists = {
        f"{i.distribution or i.name} {i.version}".strip()
        for i in host.info.values()
        if not i.error and not i.disabled
    }
    return (
        f"resolved by jepa-framework {__version__} (torch {torch.__version__}, "
        f"python {platform.python_version()})\nplugin distributions: {', '.join(sorted(dists))}\n"
        f"reproduce with: jepa run <this file>"
    )


def resume_run(run_dir: Path, host: Any) -> bool:
    """Continue an interrupted run from its checkpoint; ``False`` when it had already finished
    (a requeued job that already finished has nothing to do, which is not an error).

    A finished run whose models/ lost files gets them back from its checkpoint (which holds
    the final weights) and counts as done (``True``).
    """
    if is_finished(run_dir):
        from jepa_framework.pipeline.artifacts import missing_models

        if not missing_models(run_dir):
            return False
        from jepa_framework.evaluate.loading import load_run

        load_run(run_dir, host)  # restores models/ from checkpoint.pt
        return True
    recipe, _ = load_recipe(str(run_dir / CONFIG_NAME), registries=host)
    run_recipe(recipe, host, resume_dir=run_dir)
    return True


def run_recipe(recipe: Recipe, host: Any, resume_dir: Path | None = None) -> Path:
    """Train and evaluate one recipe, or finish the interrupted run in ``resume_dir``.

    ``resume_dir`` must hold the config.yaml that ``recipe`` was read from; a run there that
    already finished is left as it is.
    """
    started = time.perf_counter()
    state = None
    if resume_dir is not None:
        state = resume_state(resume_dir, unstructure_recipe(recipe))
        if state is None:
            log.info("%s already finished; nothing to do", resume_dir)
            return resume_dir
    assembly = assemble(recipe, host)
    try:
        if not assembly.dist.is_main:  # other ranks train their shard; rank 0 writes everything
            run_dir = broadcast_object(None, assembly.dist)
            Trainer.create(recipe, assembly, Run(recipe, run_dir)).fit(state)
            barrier(assembly.dist)
            return run_dir
        run_dir = resume_dir or new_run_dir(Path(recipe.output.dir), recipe.name)
        broadcast_object(run_dir, assembly.dist)
        _run_main(recipe, host, assembly, run_dir, state, started)
        barrier(assembly.dist)
    finally:
        teardown()
    return run_dir


def _run_main(
    recipe: Recipe,
    host: Any,
    assembly: Assembly,
    run_dir: Path,
    state: TrainState | None,
    started: float,
) -> None:
    """The main rank's part: run directory, log, observers, training, artifacts, evaluation.

    A fresh run's folder is removed again when its first files (config.yaml, run.log) cannot be
    written, so a full disk leaves no half-made run behind. Once the observers have started,
    the folder is watched: files of the run deleted under it (``rm -r`` racing the run) stop it
    with an error naming them, never a success in a gutted folder.
    """
    if state is None:
        try:
            write_config(run_dir, dump_recipe(recipe, provenance(host)))
            handler = attach_log_file(run_dir / "run.log")
        except JepaError as exc:
            gone = discard_new_run_dir(run_dir)
            raise JepaError(
                f"{exc} The new run folder {run_dir} was "
                f"{'removed again (nothing else had been written there)' if gone else 'left'}."
            ) from None
    else:
        handler = attach_log_file(run_dir / "run.log")
    console = attach_console()
    try:
        run = Run(recipe, run_dir, assembly.trackers, host.hook)
        if state is not None:
            run.state.update(state.tracker_state)
            log.info("resuming %s after %s epoch %d", run_dir, state.phase, state.epoch)
        log.info(
            "run directory %s, device %s, %d threads, %d process(es)",
            run_dir,
            assembly.device,
            torch.get_num_threads(),
            assembly.dist.world_size,
        )
        log.info(
            "dataset %s: %s, ready in %.2fs (%s)",
            recipe.data.dataset.name,
            describe(assembly.dataset),
            assembly.data_seconds,
            ", ".join(f"{k} {v:.2f}" for k, v in assembly.dataset.timings.items()),
        )
        run.start()
        report = None
        try:
            run.watch = FolderWatch.of(run_dir)
            trainer = Trainer.create(recipe, assembly, run)
            fit_started = time.perf_counter()
            trainer.fit(state)
            train_seconds = time.perf_counter() - fit_started
            run.watch.check("while the run was training")
            metrics = write_artifacts(recipe, assembly, trainer, run_dir)
            metrics["data_seconds"] = {"total": assembly.data_seconds, **assembly.dataset.timings}
            metrics["train_seconds"] = train_seconds  # this session's, when resumed
            metrics["wall_time_s"] = time.perf_counter() - started  # up to the evaluation
            if assembly.model.action_dim:  # a world model of actions: `jepa plan` scores it
                metrics["action_dim"] = assembly.model.action_dim
            run.watch.check("while the run was writing its artifacts")
            write_json(run_dir / METRICS_NAME, metrics)
            if recipe.eval.enabled:
                from jepa_framework.evaluate import evaluate

                eval_started = time.perf_counter()
                report = evaluate(recipe, assembly, run_dir, host, trainer.plans)
                metrics["eval_seconds"] = time.perf_counter() - eval_started
                metrics["total_seconds"] = time.perf_counter() - started
                write_json(run_dir / METRICS_NAME, metrics)
            run.watch.check("before the run ended")
        except BaseException as exc:  # every observer learns that the run failed, then it goes on
            run.fail(exc)
            raise
        run.finish(metrics)
        closing_report(run_dir, metrics, report, time.perf_counter() - started)
    finally:
        for each in (handler, console):
            logging.getLogger("jepa_framework").removeHandler(each)
            each.close()


#: the main files of a run folder, in the order the closing report names them
MAIN_FILES = {
    "config.yaml": "the resolved recipe; `jepa run` it to reproduce the run",
    "run.log": "everything logged: per-epoch losses, collapse diagnostics, warnings",
    "metrics.json": "final losses, collapse diagnostics, timings",
    "eval.json": "the evaluation: probes, forecasts against baselines (the table above)",
    "forecast.mp4": "ground truth beside the decoded latent forecast",
    "forecast_eval.png": "forecast error per horizon, every method",
    "probe_r2.png": "probe R² per state variable",
    "reconstruction.png": "originals beside decodings",
    "loss_curves.png": "per-epoch losses of each phase",
    "models": "the trained networks (state dicts)",
}
GLOSSARY = "VPT, NRMSE, censored, Lyapunov times, probe R², bands: see docs/glossary.md"


def closing_report(
    run_dir: Path,
    metrics: dict[str, Any],
    report: dict[str, Any] | None,
    total_seconds: float,
) -> None:
    """The end of a run on the console (stderr) and in run.log: the evaluation summary table
    (on the console; run.log has it from the evaluation), where the outputs are, and the time
    split between data, training, evaluation and the rest (setup, figures, video)."""
    from jepa_framework.core.progress import say

    if report is not None:
        from jepa_framework.evaluate import format_summary

        say(f"\nevaluation ({metrics['eval_seconds']:.1f}s):\n\n{format_summary(report)}\n")
        say(GLOSSARY)
    elif metrics.get("action_dim"):
        say(f"\nno forecast evaluation (it does not pass actions yet): `jepa plan {run_dir}`")
        say("plans toward held-out goals with this world model and scores it (plan.json)")
    else:
        say("\nno evaluation (eval.enabled is false): `jepa eval RUN_DIR` evaluates it later")
    present = [name for name in MAIN_FILES if (run_dir / name).exists()]
    others = sorted(
        p.name + ("/" if p.is_dir() else "")
        for p in run_dir.iterdir()
        if p.name not in MAIN_FILES and not p.name.startswith(".")
    )
    width = max((len(n) for n in present), default=0) + 1
    lines = [f"\noutputs in {run_dir}/ (docs/tutorial/outputs.md describes each file):"]
    for name in present:
        shown = name + ("/" if (run_dir / name).is_dir() else "")
        lines.append(f"  {shown:<{width}} {MAIN_FILES[name]}")
    if others:
        lines.append(f"  also: {', '.join(others)}")
    say("\n".join(lines))
    split = [
        f"data {metrics['data_seconds']['total']:.1f}s",
        f"training {metrics['train_seconds']:.1f}s",
    ]
    evaluated = metrics.get("eval_seconds")
    if evaluated is not None:
        split.append(f"evaluation {evaluated:.1f}s")
    rest = total_seconds - metrics["data_seconds"]["total"] - metrics["train_seconds"]
    split.append(f"setup, figures and video {max(0.0, rest - (evaluated or 0.0)):.1f}s")
    log.info(
        "done in %.1fs (%s): %s",
        total_seconds,
        ", ".join(split),
        run_dir,
        extra={"console": True},
    )


def write_artifacts(
    recipe: Recipe, assembly: Assembly, trainer: Trainer, run_dir: Path
) -> dict[str, Any]:
    """Weights, reconstruction.png, forecast.mp4, loss curves; returns the metrics dictionary."""
    model, decoder, dataset, device = (
        assembly.model,
        assembly.decoder,
        assembly.dataset,
        assembly.device,
    )
    out = recipe.output
    save_models(model, decoder, run_dir)
    recon_mse = write_reconstruction(dataset, model, decoder, assembly.split.val, device, run_dir)
    recorded = dataset.max_held_out_frames  # recorded data: no longer than a recording
    video_frames = out.forecast_frames
    if recorded is not None:
        video_frames = min(video_frames, recorded - model.history)
    frames = write_forecast(
        dataset,
        model,
        decoder,
        video_frames,
        derive_seed(recipe.seed, "forecast_video"),
        device,
        run_dir,
        out.video_panel_size,
        out.fps,
    )
    write_loss_curves(trainer.history, run_dir)
    diagnostics, per_dim_std = trainer.final_diagnostics()
    return {
        "collapsed": bool(diagnostics.pop("collapsed")),
        "jepa": trainer.last_epoch("jepa"),
        "refit": trainer.last_epoch("refit"),  # empty when the recipe does not refit
        "decoder": trainer.last_epoch("decoder"),
        "embedding": {**diagnostics, "per_dim_std": per_dim_std},
        "reconstruction_mse": recon_mse,
        "forecast_frames": frames,
        "history": trainer.history,
    }
