"""The module named by this package's entry point: jepa-framework calls the hooks defined here.

Heavy imports (torch, numpy) are fine at module level here: the plugin host imports plugin
modules only when a command needs components, never for `jepa --help`.
"""

from __future__ import annotations

from pathlib import Path

from jepa_framework import hookimpl
from jepa_lorenz.dataset import LorenzDataset, LorenzParams
from jepa_lorenz.predictor import GRUParams, build_gru_predictor


def recipe_dir() -> Path:
    """Recipes ship inside the wheel; an editable install or a checkout reads ./recipes."""
    packaged = Path(__file__).parent / "recipes"
    return packaged if packaged.is_dir() else Path(__file__).parents[1] / "recipes"


@hookimpl
def register_datasets(register):
    register("lorenz", LorenzDataset, params=LorenzParams)


@hookimpl
def register_predictors(register):
    register("gru", build_gru_predictor, params=GRUParams)


@hookimpl
def register_recipes(register):
    register("lorenz", recipe_dir() / "lorenz.yaml")
