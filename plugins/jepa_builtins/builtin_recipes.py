"""Built-in recipes, addressable by name: `jepa run pendulum`."""

from __future__ import annotations

from pathlib import Path

from jepa_framework import hookimpl


def recipe_dir() -> Path:
    """Recipes ship inside the wheel; in a source checkout they live in examples/recipes."""
    packaged = Path(__file__).parent / "recipes"
    return packaged if packaged.is_dir() else Path(__file__).parents[2] / "examples" / "recipes"


@hookimpl
def register_recipes(register):
    for path in sorted(recipe_dir().glob("*.yaml")):
        register(path.stem, path)
