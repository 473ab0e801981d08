"""Everything a run writes besides its checkpoint, and reads back: one module owns the files.

models/*.pt (the list of names is :data:`MODEL_FILES`), reconstruction.png, forecast.mp4,
loss_curves.png, metrics.json and config.yaml. A failed write (a full disk, a folder that is not
writable) is a clear error that keeps what was written before.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

from jepa_framework.checkpoint import load_state, load_weights, write_error
from jepa_framework.data import DynamicsDataset
from jepa_framework.model import JEPA
from jepa_framework.render import plot_loss_curves, side_by_side, write_video
from jepa_framework.windows import every_window

#: the weight files of a finished run, under models/
MODEL_FILES = ("encoder", "target_encoder", "predictor", "decoder")
MODELS_DIR = "models"
CONFIG_NAME = "config.yaml"
METRICS_NAME = "metrics.json"


@contextlib.contextmanager
def writing(path: Path) -> Iterator[Path]:
    """Turn an OSError while writing ``path`` into a clear error (disk full, no permission)."""
    try:
        yield path
    except OSError as exc:
        raise write_error(path, exc) from None


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
    with writing(models):
        models.mkdir(exist_ok=True)
    for name, module in _modules(model, decoder).items():
        module = model.encoder if module is None else module
        with writing(models / f"{name}.pt") as path:
            torch.save(module.state_dict(), path)


def missing_models(run_dir: Path) -> list[str]:
    return [n for n in MODEL_FILES if not (run_dir / MODELS_DIR / f"{n}.pt").exists()]


def load_models(model: JEPA, decoder: nn.Module, run_dir: Path) -> None:
    """Load models/*.pt into the networks; damaged or foreign files are clear errors."""
    for name, module in _modules(model, decoder).items():
        if module is None:  # stop-gradient target: the online encoder serves as target
            continue
        path = run_dir / MODELS_DIR / f"{name}.pt"
        load_state(module, load_weights(path, f"the {name} weights"), path)


def write_config(run_dir: Path, text: str) -> None:
    with writing(run_dir / CONFIG_NAME) as path:
        path.write_text(text)


def write_json(path: Path, data: Any) -> None:
    """JSON with NaN/inf written as null (JSON has neither), via a clear error on failure."""
    with writing(path):
        path.write_text(json.dumps(_finite(data), indent=2, sort_keys=False) + "\n")


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def write_loss_curves(history: dict[str, list[dict[str, float]]], run_dir: Path) -> None:
    with writing(run_dir / "loss_curves.png") as path:
        plot_loss_curves(history, path)


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
    with writing(run_dir / "reconstruction.png") as path:
        dataset.plot_reconstruction(truth.cpu(), decoded.cpu(), path)
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

    A fresh trajectory is generated long enough for ``frames`` steps past its first window.
    """
    stored, _ = dataset.generate(1, model.history + frames, seed)
    clip = dataset.to_float(stored.to(device))
    z = model.encode(clip[:, : model.history])
    predicted = decoder(model.rollout(z, frames).squeeze(1).float())
    truth = clip[0, model.history :]
    video = side_by_side(
        dataset.frames_for_video(truth.cpu(), panel_size),
        dataset.frames_for_video(predicted.cpu(), panel_size),
    )
    with writing(run_dir / "forecast.mp4") as path:
        write_video(video, path, fps)
    return video.shape[0]
