"""Rebuild a finished run from its directory: config.yaml, then models/*.pt (restored from
checkpoint.pt first when a finished run's models/ lost files)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs

from jepa_framework.config.recipe import Recipe, load_recipe, unstructure_recipe
from jepa_framework.core.errors import JepaError
from jepa_framework.pipeline.artifacts import (
    CONFIG_NAME,
    MODELS_DIR,
    load_models,
    missing_models,
    restore_models,
)
from jepa_framework.pipeline.assemble import Assembly, assemble
from jepa_framework.pipeline.checkpoint import is_finished


def load_run(run_dir: Path, host: Any = None, device: str | None = None) -> tuple[Recipe, Assembly]:
    """The run's recipe and its components with trained weights (trackers are not built).

    ``device`` overrides the recipe's ``train.device`` (e.g. ``"cpu"`` for a run trained on GPU).
    A finished run missing files under models/ has them written again from its checkpoint.
    """
    if host is None:
        from jepa_framework.plugin.host import host as make_host

        host = make_host()
    if not (run_dir / CONFIG_NAME).exists():
        raise JepaError(f"{run_dir} is not a run directory: it holds no {CONFIG_NAME}.")
    missing = missing_models(run_dir)
    if missing and not is_finished(run_dir):
        raise JepaError(
            f"{run_dir} has no trained weights ({', '.join(missing)} missing under "
            f"{MODELS_DIR}/): the run did not finish. Resume it with "
            f"`jepa run --resume {run_dir}`."
        )
    recipe, _ = load_recipe(str(run_dir / CONFIG_NAME), registries=host)
    built = attrs.evolve(recipe, tracking=[])
    if device is not None:
        built = attrs.evolve(built, train=attrs.evolve(built.train, device=device))
    assembly = assemble(built, host, trackers=False)
    if missing:
        restore_models(assembly.model, assembly.decoder, run_dir, unstructure_recipe(recipe))
    else:
        load_models(assembly.model, assembly.decoder, run_dir)
    return recipe, assembly
