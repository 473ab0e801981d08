"""`jepa run`: build components from a recipe, train both phases, write every artifact."""

from __future__ import annotations

import logging
import os
import platform
import time
from pathlib import Path
from typing import Any

import attrs
import torch

from jepa_framework import __version__
from jepa_framework.artifacts import write_forecast, write_reconstruction
from jepa_framework.batches import Clips
from jepa_framework.checkpoint import CHECKPOINT_NAME, load_checkpoint
from jepa_framework.components import Shapes
from jepa_framework.data import DynamicsDataset, describe
from jepa_framework.diagnostics import collapse_diagnostics
from jepa_framework.distributed import Dist, barrier, broadcast_object, setup, teardown
from jepa_framework.errors import JepaError
from jepa_framework.model import JEPA
from jepa_framework.plugins import PluginHost
from jepa_framework.recipe import ComponentSpec, Recipe, dump_recipe
from jepa_framework.render import plot_loss_curves
from jepa_framework.run import Run, attach_log_file, new_run_dir, write_json
from jepa_framework.train import Trainer

log = logging.getLogger("jepa_framework")

#: held-out clips for per-epoch validation and collapse diagnostics (enough for a 64-d rank)
VALIDATION_CLIPS = 512


def pick_device(name: str) -> torch.device:
    """``auto`` means CUDA when present, else CPU; asking for absent CUDA is a user error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise JepaError(f"train.device: '{name}' is not a device; use auto, cpu or cuda.") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise JepaError("train.device: CUDA was asked for but is not available; use auto or cpu.")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise JepaError(
            f"train.device: '{name}' does not exist; this machine has "
            f"{torch.cuda.device_count()} CUDA device(s). Use auto or cuda:0."
        )
    return device


def build(host: PluginHost, spec: ComponentSpec, *args: Any) -> Any:
    component = host.registry(spec.kind).get(spec.name)
    return component.factory(spec.params, *args)


def provenance(host: PluginHost) -> str:
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


@attrs.frozen
class Built:
    """Everything a recipe names, built and on its device."""

    dataset: DynamicsDataset
    model: JEPA
    decoder: torch.nn.Module
    regularizer: Any
    trackers: list[Any]
    device: torch.device
    data_seconds: float
    dist: Dist


def build_all(recipe: Recipe, host: PluginHost) -> Built:
    """Build trackers first (an uninstalled extra fails before any work), then the rest."""
    trackers = [build(host, spec) for spec in recipe.tracking]
    dist_info, device = setup(pick_device(recipe.train.device))
    cores = (os.cpu_count() or 1) // dist_info.local_world_size
    torch.set_num_threads(recipe.train.threads or max(1, cores))
    torch.manual_seed(recipe.seed)
    t0 = time.perf_counter()
    dataset = build(host, recipe.data.dataset)
    data_seconds = time.perf_counter() - t0
    shapes = Shapes(tuple(dataset.obs_shape), recipe.data.history, recipe.model.embedding_dim)
    encoder = build(host, recipe.model.encoder, shapes)
    predictor = build(host, recipe.model.predictor, shapes)
    decoder = build(host, recipe.model.decoder, shapes).to(device)
    regularizer = build(host, recipe.objective.regularizer)
    model = JEPA(encoder, predictor, regularizer.target).to(device)
    if recipe.train.compile:  # in place, so state_dict keys stay those of the plain modules
        for module in (model.encoder, model.target_encoder, model.predictor, decoder):
            if module is not None:
                module.compile()
    return Built(dataset, model, decoder, regularizer, trackers, device, data_seconds, dist_info)


def make_trainer(recipe: Recipe, built: Built, run: Run) -> Trainer:
    history, steps, seed = recipe.data.history, recipe.objective.rollout_steps, recipe.seed
    train_idx, val_idx = built.dataset.split(recipe.data.val_fraction, seed)
    g = torch.Generator().manual_seed(seed)

    def clips(idx: torch.Tensor, length: int, batch: int) -> Clips:
        rank, world = built.dist.rank, built.dist.world_size
        return Clips(built.dataset, idx, length, batch, built.device, g, rank, world)

    return Trainer(
        recipe=recipe,
        model=built.model,
        decoder=built.decoder,
        regularizer=built.regularizer,
        run=run,
        clips=clips(train_idx, history + steps, recipe.train.batch_size),
        val_batch=clips(val_idx, history + steps, recipe.train.batch_size).fixed_batch(
            1024, seed + 1
        ),
        windows=clips(train_idx, history, recipe.decoder_train.batch_size),
        val_windows=clips(val_idx, history, recipe.train.batch_size).fixed_batch(
            VALIDATION_CLIPS, seed + 2
        ),
        generator=g,
        dist=built.dist,
    )


def run_recipe(recipe: Recipe, host: PluginHost, resume_dir: Path | None = None) -> Path:
    """Train and evaluate one recipe (or finish an interrupted run); returns its directory."""
    started = time.perf_counter()
    state = _resume_state(resume_dir) if resume_dir else None
    built = build_all(recipe, host)
    try:
        if not built.dist.is_main:  # other ranks train their shard; rank 0 writes everything
            run_dir = broadcast_object(None, built.dist)
            run = Run(recipe, run_dir)
            make_trainer(recipe, built, run).fit(state)
            barrier(built.dist)
            return run_dir
        run_dir = resume_dir or new_run_dir(Path(recipe.output.dir), recipe.name)
        broadcast_object(run_dir, built.dist)
        _run_main(recipe, host, built, run_dir, state, started)
        barrier(built.dist)
    finally:
        teardown()
    return run_dir


def _run_main(
    recipe: Recipe,
    host: PluginHost,
    built: Built,
    run_dir: Path,
    state: dict[str, Any] | None,
    started: float,
) -> None:
    """The main rank's part: run directory, log, trackers, training, artifacts, metrics."""
    handler = attach_log_file(run_dir / "run.log")
    try:
        if state is None:
            (run_dir / "config.yaml").write_text(dump_recipe(recipe, provenance(host)))
        run = Run(recipe, run_dir, built.trackers, host.hook)
        if state is not None:
            run.state.update(state["tracker_state"])
            log.info("resuming %s after %s epoch %d", run_dir, state["phase"], state["epoch"])
        log.info(
            "run directory %s, device %s, %d threads, %d process(es)",
            run_dir,
            built.device,
            torch.get_num_threads(),
            built.dist.world_size,
        )
        log.info(
            "dataset %s: %s, ready in %.2fs (%s)",
            recipe.data.dataset.name,
            describe(built.dataset),
            built.data_seconds,
            ", ".join(f"{k} {v:.2f}" for k, v in built.dataset.timings.items()),
        )
        run.start_trackers()
        host.hook.on_run_start(run=run)
        trainer = make_trainer(recipe, built, run)
        try:
            trainer.fit(state)
        except BaseException as exc:  # trackers learn that the run failed, then it propagates
            run.finish_trackers({"failed": True, "error": f"{type(exc).__name__}: {exc}"})
            raise
        metrics = report(recipe, built, trainer, run)
        metrics["data_seconds"] = {"total": built.data_seconds, **built.dataset.timings}
        metrics["wall_time_s"] = time.perf_counter() - started
        write_json(run_dir / "metrics.json", metrics)
        if recipe.eval.enabled:
            from jepa_framework.evaluate import evaluate

            evaluate(recipe, built, run_dir, host)
        run.finish_trackers(metrics)
        host.hook.on_run_end(run=run, metrics=metrics)
        log.info("done in %.1fs: %s", metrics["wall_time_s"], run_dir)
    finally:
        logging.getLogger("jepa_framework").removeHandler(handler)
        handler.close()


def _resume_state(run_dir: Path) -> dict[str, Any]:
    path = run_dir / CHECKPOINT_NAME
    if (run_dir / "metrics.json").exists():
        raise JepaError(f"{run_dir} is a finished run; there is nothing to resume.")
    if not path.exists():
        raise JepaError(
            f"{run_dir} holds no {CHECKPOINT_NAME}: it stopped before its first epoch ended. "
            f"Start it again with `jepa run {run_dir / 'config.yaml'}`."
        )
    return load_checkpoint(path)


def save_models(model: JEPA, decoder: torch.nn.Module, models: Path) -> None:
    models.mkdir(exist_ok=True)
    target = model.target_encoder if model.target_encoder is not None else model.encoder
    for name, module in (
        ("encoder", model.encoder),
        ("target_encoder", target),
        ("predictor", model.predictor),
        ("decoder", decoder),
    ):
        torch.save(module.state_dict(), models / f"{name}.pt")


def report(recipe: Recipe, built: Built, trainer: Trainer, run: Run) -> dict[str, Any]:
    """Weights, reconstruction.png, forecast.mp4, loss curves and the metrics dictionary."""
    model, decoder, dataset, device = built.model, built.decoder, built.dataset, built.device
    history, out = recipe.data.history, recipe.output
    save_models(model, decoder, run.dir / "models")
    _, val_idx = dataset.split(recipe.data.val_fraction, recipe.seed)
    recon_mse = write_reconstruction(
        dataset, model, decoder, val_idx, history, device, run.dir / "reconstruction.png"
    )
    frames = write_forecast(
        dataset,
        model,
        decoder,
        history,
        out.forecast_frames,
        recipe.seed + 3,
        device,
        run.dir / "forecast.mp4",
        out.video_panel_size,
        out.fps,
    )
    plot_loss_curves(trainer.history, run.dir / "loss_curves.png")
    with torch.no_grad():
        model.eval()
        z = model.encode(trainer.val_windows).float().cpu()
    diagnostics = collapse_diagnostics(z)
    if diagnostics["collapsed"]:
        log.warning(
            "final embeddings are collapsed: effective rank %.2f of %d",
            diagnostics["rankme"],
            z.shape[1],
        )

    def last(phase: str) -> dict[str, float]:
        entries = trainer.history[phase]
        return {**entries[-1], "samples_per_s": trainer.speed.get(phase, 0.0)} if entries else {}

    return {
        "collapsed": bool(diagnostics["collapsed"]),
        "jepa": last("jepa"),
        "decoder": last("decoder"),
        "embedding": {
            **{k: v for k, v in diagnostics.items() if k != "collapsed"},
            "per_dim_std": [float(s) for s in z.std(0)],
        },
        "reconstruction_mse": recon_mse,
        "forecast_frames": frames,
        "history": trainer.history,
    }
