"""Rebuild a finished run from its directory: config.yaml, then models/*.pt."""

from __future__ import annotations

from pathlib import Path

import attrs
import torch

from jepa_framework.errors import JepaError
from jepa_framework.recipe import Recipe, load_recipe
from jepa_framework.runner import Built, build_all

MODEL_FILES = ("encoder", "target_encoder", "predictor", "decoder")


def load_run(run_dir: Path, host=None) -> tuple[Recipe, Built]:
    """The run's recipe and its components with trained weights (trackers are not built)."""
    if host is None:
        from jepa_framework.plugins import host as make_host

        host = make_host()
    config = run_dir / "config.yaml"
    if not config.exists():
        raise JepaError(f"{run_dir} is not a run directory: it holds no config.yaml.")
    models = run_dir / "models"
    missing = [n for n in MODEL_FILES if not (models / f"{n}.pt").exists()]
    if missing:
        raise JepaError(
            f"{run_dir} has no trained weights ({', '.join(missing)} missing under models/): "
            f"the run did not finish. Resume it with `jepa run --resume {run_dir}`."
        )
    recipe, _ = load_recipe(str(config), registries=host)
    built = build_all(attrs.evolve(recipe, tracking=[]), host)
    model = built.model
    modules = {
        "encoder": model.encoder,
        "target_encoder": model.target_encoder,
        "predictor": model.predictor,
        "decoder": built.decoder,
    }
    for name, module in modules.items():
        if module is None:  # stop-gradient target: the online encoder serves as target
            continue
        state = torch.load(models / f"{name}.pt", map_location=built.device, weights_only=True)
        module.load_state_dict(state)
    return recipe, built
