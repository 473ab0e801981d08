"""A run: its directory, its log file, its trackers and the lifecycle hooks around it."""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
from pathlib import Path
from typing import Any

import attrs

from jepa_framework.recipe import Recipe

log = logging.getLogger("jepa_framework")


def new_run_dir(root: Path, name: str) -> Path:
    """``root/<name>_<timestamp>``, never an existing folder (a suffix is added instead)."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    root.mkdir(parents=True, exist_ok=True)
    for attempt in range(1000):
        path = root / (f"{name}_{stamp}" + (f"-{attempt}" if attempt else ""))
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise RuntimeError(f"could not create a fresh run directory under {root}")


def attach_log_file(path: Path) -> logging.Handler:
    """Send the framework's log records to ``run.log`` (and keep them on the console)."""
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger = logging.getLogger("jepa_framework")
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    return handler


@attrs.define(eq=False)
class Run:
    """What hooks and trackers see: the recipe, the directory and a way to log scalars."""

    recipe: Recipe
    dir: Path
    trackers: list[Any] = attrs.Factory(list)
    hook: Any = None
    state: dict[str, Any] = attrs.Factory(dict)  # trackers may keep e.g. their run id here

    @property
    def name(self) -> str:
        return self.dir.name

    def log_scalars(self, scalars: dict[str, float], step: int) -> None:
        clean = {k: float(v) for k, v in scalars.items() if isinstance(v, (int, float))}
        self._each_tracker("log", clean, step)

    def start_trackers(self) -> None:
        self._each_tracker("start", self)

    def finish_trackers(self, metrics: dict[str, Any]) -> None:
        """``metrics`` is metrics.json, or ``{"failed": True, "error": ...}`` after a failure."""
        self._each_tracker("finish", self, metrics)

    def _each_tracker(self, method: str, *args: Any) -> None:
        for tracker in self.trackers:
            try:
                getattr(tracker, method)(*args)
            except Exception as exc:  # a tracker failure never kills training
                log.warning("tracker %s failed in %s: %s", type(tracker).__name__, method, exc)

    def epoch_end(self, phase: str, epoch: int, metrics: dict[str, float], step: int) -> None:
        log.info(
            "%s epoch %d: %s", phase, epoch, ", ".join(f"{k}={v:.4g}" for k, v in metrics.items())
        )
        self.log_scalars({f"{phase}/{k}": v for k, v in metrics.items()}, step)
        if self.hook is not None:
            self.hook.on_epoch_end(run=self, phase=phase, epoch=epoch, metrics=metrics)


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(_finite(data), indent=2, sort_keys=False) + "\n")


def _finite(value: Any) -> Any:
    """JSON has no NaN/inf: write them as null rather than producing an invalid file."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value
