"""A run: its directory, its log file, its trackers and the lifecycle hooks around it."""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import logging
import os
from pathlib import Path
from typing import Any

import attrs

from jepa_framework.config.recipe import Recipe
from jepa_framework.core.errors import JepaError

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
        fix = (
            "Free some space, or choose another folder with output.dir=PATH."
            if exc.errno in (errno.ENOSPC, errno.EDQUOT)
            else "Choose a writable folder with output.dir=PATH."
        )
        raise JepaError(
            f"cannot create a run folder under {root} (output.dir): {exc.strerror or exc}. {fix}"
        ) from None
    raise JepaError(f"could not create a fresh run directory under {root}; clean it up.")


def discard_new_run_dir(path: Path) -> bool:
    """Remove a run folder whose very first files could not be written; ``True`` if it is gone.

    Only this run's own first files are removed (config.yaml, run.log, leftover temporaries)
    and the folder only if that leaves it empty: nothing anyone else wrote is ever deleted.
    """
    for name in ("config.yaml", "run.log", *(p.name for p in path.glob(".*-*.tmp*"))):
        with contextlib.suppress(OSError):
            (path / name).unlink(missing_ok=True)
    try:
        path.rmdir()
    except OSError:
        return not path.exists()
    return True


@attrs.define(eq=False)
class FolderWatch:
    """What a run folder held once the run had started, to notice it being deleted under it.

    ``rm -r`` racing the run can remove its files (config.yaml, run.log, a tracker's
    scalars.jsonl) while the run keeps writing others; :meth:`check` raises a clear error
    naming what was lost instead of letting the run report success in a gutted folder.
    """

    path: Path
    identity: tuple[int, int]
    names: set[str]

    @classmethod
    def of(cls, path: Path) -> FolderWatch:
        from jepa_framework.pipeline.checkpoint import folder_gone_error

        try:
            st = os.stat(path)
        except FileNotFoundError:
            raise folder_gone_error(path, "as the run started") from None
        return cls(path, (st.st_dev, st.st_ino), _own_names(path))

    def lost(self) -> list[str] | None:
        """Files gone since the watch began (or learned of them); ``None``: the folder is gone."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        if (st.st_dev, st.st_ino) != self.identity:  # deleted, and made again by someone
            return None
        return sorted(self.names - _own_names(self.path))

    def check(self, when: str) -> None:
        """Raise if anything the run wrote is gone; then also watch what it wrote since."""
        from jepa_framework.pipeline.checkpoint import folder_gone_error

        lost = self.lost()
        if lost is None:
            raise folder_gone_error(self.path, when, sorted(self.names))
        if lost:
            kept = sorted(_own_names(self.path))
            raise JepaError(
                f"files of the run in {self.path} were deleted {when}: {', '.join(lost)} "
                f"{'is' if len(lost) == 1 else 'are'} gone (kept: {', '.join(kept) or 'nothing'}"
                f"). The run is stopped, as it could not end complete: start it again from its "
                f"recipe with `jepa run RECIPE`."
            )
        self.names |= _own_names(self.path)


def _own_names(path: Path) -> set[str]:
    """The names in a run folder, less the temporary files of writes under way."""
    try:
        return {p.name for p in path.iterdir() if not (p.name.startswith(".") and ".tmp" in p.name)}
    except FileNotFoundError:
        return set()


class _RunLogHandler(logging.FileHandler):
    """run.log is a record, not a reason to crash: a failed write (disk full) is dropped
    silently; the artifact writers report the fault as a clear error."""

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 (logging's name)
        pass


def attach_log_file(path: Path) -> logging.Handler:
    """Send the framework's log records to ``run.log`` (:func:`attach_console` shows some of
    them on the console too)."""
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


def attach_console() -> logging.Handler:
    """Show the run's warnings on stderr, each kind once (collapse warnings as they happen),
    and the records logged with ``extra={"console": True}`` (the run's closing report)."""
    from jepa_framework.core.progress import ConsoleHandler

    handler = ConsoleHandler()
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
    watch: FolderWatch | None = None  # the main rank's: the run folder's files, kept whole

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
        """Call ``method`` on every tracker; a failure never kills training. The first failure
        of a tracker is one warning on stderr naming its plugin; the rest go to run.log."""
        from jepa_framework.plugin.faults import tracker_failed

        for tracker in self.trackers:
            try:
                getattr(tracker, method)(*args)
            except Exception as exc:
                tracker_failed(tracker, method, exc)

    def epoch_end(self, phase: str, epoch: int, metrics: dict[str, float], step: int) -> None:
        log.info(
            "%s epoch %d: %s", phase, epoch, ", ".join(f"{k}={v:.4g}" for k, v in metrics.items())
        )
        self.log_scalars({f"{phase}/{k}": v for k, v in metrics.items()}, step)
        if self.hook is not None:
            self.hook.on_epoch_end(run=self, phase=phase, epoch=epoch, metrics=metrics)
        if self.watch is not None:  # before the checkpoint of this epoch is written
            self.watch.check(f"while the run was training ({phase} epoch {epoch})")
