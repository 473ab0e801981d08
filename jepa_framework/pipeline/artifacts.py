"""Everything a run writes besides its checkpoint, and reads back: one module owns the files.

models/*.pt (the list of names is :data:`MODEL_FILES`), reconstruction.png, forecast.mp4,
loss_curves.png, metrics.json and config.yaml. Every one is written atomically (into a temporary
name beside it, checked, fsynced, renamed: :func:`writing`), so a failed write (a full disk, a
folder that is not writable, ffmpeg failing) is a clear error that leaves no partial file and
keeps what was written before. A finished run whose models/ went missing gets them back from its
checkpoint (:func:`restore_models`).
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

import torch
from torch import nn

from jepa_framework.core.errors import JepaError
from jepa_framework.datasets.base import DynamicsDataset
from jepa_framework.datasets.render import plot_loss_curves, side_by_side, write_video
from jepa_framework.datasets.windows import every_window
from jepa_framework.models.jepa import JEPA
from jepa_framework.pipeline.checkpoint import (
    CHECKPOINT_NAME,
    atomic_path,
    load_checkpoint,
    load_state,
    load_weights,
    recipe_hash,
    serialise,
    write_error,
    write_file,
)

#: the weight files of a finished run, under models/
MODEL_FILES = ("encoder", "target_encoder", "predictor", "decoder")
MODELS_DIR = "models"
CONFIG_NAME = "config.yaml"
METRICS_NAME = "metrics.json"

log = logging.getLogger("jepa_framework")

#: ``with writing(path) as tmp: produce(tmp)``: the producer writes the temporary path it is
#: given; on success it is fsynced, checked and renamed over ``path``, on failure removed, and
#: an OSError becomes a clear error naming ``path`` (disk full, no permission)
writing = atomic_path


def _modules(model: JEPA, decoder: nn.Module) -> dict[str, nn.Module | None]:
    """Weight file name -> module (``None``: a stop-gradient target, the online encoder)."""
    return dict(
        zip(
            MODEL_FILES,
            (model.encoder, model.target_encoder, model.predictor, decoder),
            strict=True,
        )
    )


def save_models(model: JEPA, decoder: nn.Module, run_dir: Path) -> None:
    """State dicts of every network; a stop-gradient target is saved as the online encoder."""
    models = run_dir / MODELS_DIR
    try:
        models.mkdir(exist_ok=True)
    except OSError as exc:
        raise write_error(models, exc) from None
    for name, module in _modules(model, decoder).items():
        module = model.encoder if module is None else module
        path = models / f"{name}.pt"
        write_file(path, serialise(module.state_dict(), path))


def missing_models(run_dir: Path) -> list[str]:
    return [n for n in MODEL_FILES if not (run_dir / MODELS_DIR / f"{n}.pt").exists()]


def restore_models(model: JEPA, decoder: nn.Module, run_dir: Path, recipe: dict[str, Any]) -> None:
    """Write a finished run's missing models/*.pt again from its checkpoint.pt.

    The last checkpoint of a finished run is written after its last decoder epoch, and nothing
    trains after it, so it holds exactly the weights models/ held. ``recipe`` is the resolved
    recipe of the run's config.yaml (unstructured); the checkpoint must have been written with
    it. The networks are left holding the restored weights.
    """
    path = run_dir / CHECKPOINT_NAME
    missing = ", ".join(missing_models(run_dir))
    if not path.exists():
        raise JepaError(
            f"{run_dir} finished, but its trained weights ({missing} under {MODELS_DIR}/) are "
            f"missing and it holds no {CHECKPOINT_NAME} to restore them from. Put the run's own "
            f"{MODELS_DIR}/ back, or train again with `jepa run {run_dir / CONFIG_NAME}`."
        )
    state = load_checkpoint(path)
    if state.phase != "decoder" or state.recipe_hash != recipe_hash(recipe):
        raise JepaError(
            f"{run_dir} finished, but its trained weights ({missing} under {MODELS_DIR}/) are "
            f"missing and {path} is not the run's final state (it is from {state.phase} epoch "
            f"{state.epoch}{', another recipe' if state.recipe_hash != recipe_hash(recipe) else ''}"
            f"). Put the run's own {MODELS_DIR}/ back, or train again with "
            f"`jepa run {run_dir / CONFIG_NAME}`."
        )
    load_state(model, state.model, path)
    load_state(decoder, state.decoder, path)
    save_models(model, decoder, run_dir)
    log.warning("restored %s under %s from %s", missing, run_dir / MODELS_DIR, path)


def load_models(model: JEPA, decoder: nn.Module, run_dir: Path) -> None:
    """Load models/*.pt into the networks; damaged or foreign files are clear errors."""
    for name, module in _modules(model, decoder).items():
        if module is None:  # stop-gradient target: the online encoder serves as target
            continue
        path = run_dir / MODELS_DIR / f"{name}.pt"
        load_state(module, load_weights(path, f"the {name} weights"), path)


def write_config(run_dir: Path, text: str) -> None:
    write_file(run_dir / CONFIG_NAME, text.encode())


def write_json(path: Path, data: Any) -> None:
    """JSON with NaN/inf written as null (JSON has neither), atomically, a clear error on
    failure."""
    write_file(path, (json.dumps(_finite(data), indent=2, sort_keys=False) + "\n").encode())


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def write_loss_curves(history: dict[str, list[dict[str, float]]], run_dir: Path) -> None:
    with writing(run_dir / "loss_curves.png") as tmp:
        plot_loss_curves(history, tmp)


@torch.no_grad()
def write_reconstruction(
    dataset: DynamicsDataset,
    model: JEPA,
    decoder: nn.Module,
    val_idx: torch.Tensor,
    device: torch.device,
    run_dir: Path,
) -> float:
    """Decode every window of a few held-out trajectories; returns their reconstruction MSE."""
    clips = dataset.to_float(dataset.observations[val_idx[:4]].to(device))
    windows = every_window(clips, model.history)
    n, w = windows.shape[:2]
    decoded = decoder(model.encode(windows.flatten(0, 1)).float()).view(n, w, *dataset.obs_shape)
    truth = clips[:, model.history - 1 :]
    with writing(run_dir / "reconstruction.png") as tmp:
        dataset.plot_reconstruction(truth.cpu(), decoded.cpu(), tmp)
    return float(nn.functional.mse_loss(decoded, truth))


@torch.no_grad()
def write_forecast(
    dataset: DynamicsDataset,
    model: JEPA,
    decoder: nn.Module,
    frames: int,
    seed: int,
    device: torch.device,
    run_dir: Path,
    panel_size: int,
    fps: int,
) -> int:
    """Ground truth beside the decoded latent rollout from one context window; returns frames.

    A fresh trajectory is generated long enough for ``frames`` steps past its first window;
    an action-conditioned model is rolled out under that trajectory's own actions.
    """
    arrays = dataset.generate_arrays(1, model.history + frames, seed)
    clip = dataset.to_float(arrays["observations"].to(device))
    z = model.encode(clip[:, : model.history])
    actions = None
    if model.action_dim:
        actions = arrays["actions"][:, model.history - 1 : model.history - 1 + frames]
        actions = actions.float().to(device)
    predicted = decoder(model.rollout(z, frames, actions).squeeze(1).float())
    truth = clip[0, model.history :]
    video = side_by_side(
        dataset.frames_for_video(truth.cpu(), panel_size),
        dataset.frames_for_video(predicted.cpu(), panel_size),
        captions=("truth", "forecast"),
    )
    with writing(run_dir / "forecast.mp4") as tmp:
        write_video(video, tmp, fps)
    return video.shape[0]
