"""A run: its directory, its log file, its trackers and the lifecycle hooks around it."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

import attrs

from jepa_framework.errors import JepaError
from jepa_framework.recipe import Recipe

log = logging.getLogger("jepa_framework")


def new_run_dir(root: Path, name: str) -> Path:
    """``root/<name>_<timestamp>``, never an existing folder (a suffix is added instead)."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    try:
        root.mkdir(parents=True, exist_ok=True)
        for attempt in range(1000):
            path = root / (f"{name}_{stamp}" + (f"-{attempt}" if attempt else ""))
            try:
                path.mkdir()
                return path
            except FileExistsError:
                continue
    except OSError as exc:
        raise JepaError(
            f"cannot create a run folder under {root} (output.dir): "
            f"{exc.strerror or exc}. Choose a writable folder with output.dir=PATH."
        ) from None
    raise JepaError(f"could not create a fresh run directory under {root}; clean it up.")


class _RunLogHandler(logging.FileHandler):
    """run.log is a record, not a reason to crash: a failed write (disk full) is dropped
    silently; the artifact writers report the fault as a clear error."""

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 (logging's name)
        pass


def attach_log_file(path: Path) -> logging.Handler:
    """Send the framework's log records to ``run.log`` (and keep them on the console)."""
    try:
        handler = _RunLogHandler(path, encoding="utf-8")
    except OSError as exc:
        raise JepaError(
            f"cannot write {path}: {exc.strerror or exc}. Choose a writable output.dir."
        ) from None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger = logging.getLogger("jepa_framework")
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    return handler


@attrs.define(eq=False)
class Run:
    """What hooks and trackers see: the recipe, the directory and a way to log scalars.

    Both observer channels, trackers and lifecycle hooks, learn the same things at the same
    moments: :meth:`start` (``start`` / ``on_run_start``), :meth:`epoch_end` and :meth:`finish`
    (``finish`` / ``on_run_end``) with metrics.json, or ``{"failed": True, "error": ...}``.
    """

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

    def start(self) -> None:
        self._each_tracker("start", self)
        if self.hook is not None:
            self.hook.on_run_start(run=self)

    def finish(self, metrics: dict[str, Any]) -> None:
        """``metrics`` is metrics.json, or ``{"failed": True, "error": ...}`` after a failure.

        Trackers first, then the ``on_run_end`` hook, with the same dictionary.
        """
        self._each_tracker("finish", self, metrics)
        if self.hook is not None:
            self.hook.on_run_end(run=self, metrics=metrics)

    def fail(self, error: BaseException) -> None:
        """Tell every observer the run failed; an observer's own error never hides ``error``."""
        try:
            self.finish({"failed": True, "error": f"{type(error).__name__}: {error}"})
        except Exception as exc:
            log.warning("a plugin's on_run_end failed while reporting a failed run: %s", exc)

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
