"""Helpers for testing jepa-framework and its plugins with pytest: tiny runs and plugin hosts.

A plugin's tests use them the way the framework's own tests do::

    from jepa_framework.testing import plugin_host, run_tiny

    def test_my_recipe_runs(tmp_path):
        with plugin_host(my_package.plugin, disable=["my_plugin"]):
            run_dir = run_tiny("my_recipe", tmp_path)
        assert (run_dir / "metrics.json").exists()

Importing this module is cheap; torch is imported when a run starts.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

#: a curve recipe with networks whose latent is linear in the frames and nothing to learn in the
#: predictor: a linear frame encoder without bias, the parameter-free ``oscillator`` and a linear
#: decoder, whatever the recipe ships; add ``model.predictor.growing=true`` for the spiral
OSCILLATOR_NETWORKS = (
    "model.embedding_dim=16",
    "model.encoder.name=frame_mlp",
    "model.encoder.depth=0",
    "model.encoder.bias=false",
    "model.predictor.name=oscillator",
    "model.decoder.depth=0",
)

#: overrides that make any built-in recipe (and a typical plugin's) train in about a second
TINY_OVERRIDES = (
    "data.dataset.size=24",
    "data.dataset.sequence_length=12",
    "objective.rollout_steps=2",  # recipes may roll out further than 12 frames allow
    "model.embedding_dim=8",
    "train.epochs=2",
    "train.batch_size=8",
    "decoder_train.epochs=1",
    "decoder_train.batch_size=8",
    "output.video_panel_size=64",
)


def run_tiny(recipe: str, tmp_path: str | os.PathLike[str], *overrides: str) -> Path:
    """Run ``jepa run RECIPE`` in this process at tiny sizes; returns the new run directory.

    ``overrides`` come after :data:`TINY_OVERRIDES`, so they win. The run directory is created
    under a fresh folder inside ``tmp_path``; a failed run raises ``AssertionError`` with the
    exit code (the error itself is on stderr, which pytest shows).
    """
    from jepa_framework.commands.cli import main
    from jepa_framework.plugin.host import host

    os.environ.setdefault("MPLBACKEND", "Agg")
    registered = host().recipes
    if not Path(recipe).is_file() and recipe in registered:
        recipe = str(registered[recipe])  # a plugin's package folder may share the recipe's name
    Path(tmp_path).mkdir(parents=True, exist_ok=True)
    out = Path(tempfile.mkdtemp(prefix="runs-", dir=tmp_path))
    args = ["run", recipe, *TINY_OVERRIDES, *overrides, f"output.dir={out}"]
    code = main(args)
    if code != 0:
        raise AssertionError(f"`jepa {' '.join(args)}` exited with code {code} (see stderr)")
    (run_dir,) = (p for p in out.iterdir() if p.is_dir())
    return run_dir


@contextlib.contextmanager
def plugin_host(
    *modules: Any, disable: Iterable[str] = (), cache_dir: str | os.PathLike[str] | None = None
) -> Iterator[Any]:
    """Make a plugin host of the installed plugins plus ``modules`` the process-wide one.

    ``disable`` names entry points to skip: a plugin's own, so a module passed in directly is not
    registered twice when its package is also installed. ``cache_dir`` (e.g. a pytest
    ``tmp_path``) keeps generated datasets out of the user's cache. Everything is restored on
    exit.
    """
    from jepa_framework.plugin import host as plugins

    saved = {k: os.environ.get(k) for k in ("JEPA_DISABLE_PLUGINS", "JEPA_CACHE_DIR")}
    names = [n for n in (saved["JEPA_DISABLE_PLUGINS"] or "").split(",") if n] + list(disable)
    os.environ["JEPA_DISABLE_PLUGINS"] = ",".join(names)
    if cache_dir is not None:
        os.environ["JEPA_CACHE_DIR"] = str(cache_dir)
    try:
        host = plugins.PluginHost(extra_plugins=list(modules))
        plugins.reset(host)
        yield host
    finally:
        plugins.reset()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
