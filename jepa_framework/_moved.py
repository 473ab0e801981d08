"""Old module paths keep importing: ``jepa_framework.data`` is ``jepa_framework.datasets.base``.

The modules live in layer packages (``core``, ``plugin``, ``config``, ``datasets``, ``models``,
``pipeline``, ``evaluate``, ``jobs``, ``commands``); plugins written against the flat layout
(``from jepa_framework.data import VectorDataset``) import the same module objects through this
finder, so ``isinstance`` checks and monkeypatching see one module, not a copy.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
from types import ModuleType

#: old module (relative to jepa_framework) -> where it lives now
MOVED = {
    "errors": "core.errors",
    "components": "core.components",
    "validators": "core.validators",
    "threads": "core.threads",
    "seeds": "core.seeds",
    "distributed": "core.distributed",
    "progress": "core.progress",
    "provenance": "core.provenance",
    "hookspecs": "plugin.spec",
    "registry": "plugin.registry",
    "plugins": "plugin.host",
    "faults": "plugin.faults",
    "recipe": "config.recipe",
    "converter": "config.converter",
    "problems": "config.problems",
    "overrides": "config.overrides",
    "safe_yaml": "config.safe_yaml",
    "data": "datasets.base",
    "datacache": "datasets.cache",
    "batches": "datasets.batches",
    "windows": "datasets.windows",
    "observations": "datasets.observations",
    "render": "datasets.render",
    "model": "models.jepa",
    "framewise": "models.framewise",
    "encoding": "models.encoding",
    "diagnostics": "models.diagnostics",
    "training": "pipeline.training",
    "optim": "pipeline.optim",
    "schedules": "pipeline.schedules",
    "decoder_fit": "pipeline.decoder_fit",
    "latents": "pipeline.latents",
    "checkpoint": "pipeline.checkpoint",
    "assemble": "pipeline.assemble",
    "eval_memory": "pipeline.eval_memory",
    "run": "pipeline.run",
    "artifacts": "pipeline.artifacts",
    "runner": "jobs.runner",
    "sweep": "jobs.sweep",
    "launch": "jobs.launch",
    "cli": "commands.cli",
    "scaffold": "commands.scaffold",
}


class _Alias(importlib.abc.Loader):
    def __init__(self, target: str) -> None:
        self.target = target

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return importlib.import_module(self.target)

    def exec_module(self, module: ModuleType) -> None:
        """The target module ran when it was imported; nothing more to do."""


class MovedModules(importlib.abc.MetaPathFinder):
    """Finds ``jepa_framework.<old>`` as the module it moved to."""

    def find_spec(self, name: str, path: object = None, target: object = None):
        prefix, _, old = name.partition(".")
        if prefix != "jepa_framework" or old not in MOVED:
            return None
        return importlib.util.spec_from_loader(name, _Alias(f"jepa_framework.{MOVED[old]}"))


def install() -> None:
    """Put the finder on ``sys.meta_path`` once (the real modules are always found first)."""
    if not any(isinstance(f, MovedModules) for f in sys.meta_path):
        sys.meta_path.append(MovedModules())
