"""Training progress on stderr: a live bar on a terminal, plain lines anywhere else; and the
run's console messages (warnings once each, the summary at the end) written around it.

A Slurm log or a redirected file gets one line every ``JEPA_PROGRESS_SECONDS`` seconds (30 by
default) and one at the end of every epoch, never tqdm's carriage-return stream.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import Any, TextIO

from tqdm import tqdm

INTERVAL_ENV = "JEPA_PROGRESS_SECONDS"
DEFAULT_INTERVAL_S = 30.0


def _interval() -> float:
    try:
        return max(0.0, float(os.environ.get(INTERVAL_ENV, DEFAULT_INTERVAL_S)))
    except ValueError:
        return DEFAULT_INTERVAL_S


class LineProgress:
    """tqdm's interface (update, set_postfix, close) written as occasional plain lines."""

    def __init__(self, total: int, initial: int, desc: str, stream: TextIO) -> None:
        self.total, self.n, self.desc, self.stream = total, initial, desc, stream
        self.postfix: dict[str, Any] = {}
        self.interval = _interval()
        self.started = self.last = time.monotonic()
        self.first = initial

    def update(self, n: int = 1) -> None:
        self.n += n
        if time.monotonic() - self.last >= self.interval:
            self.line()

    def set_postfix(self, **values: Any) -> None:
        self.postfix = values

    def epoch_end(self, epoch: int, epochs: int) -> None:
        self.line(f"epoch {epoch}/{epochs}")

    def line(self, note: str = "") -> None:
        now = time.monotonic()
        self.last = now
        pct = 100.0 * self.n / max(1, self.total)
        done = self.n - self.first
        eta = (self.total - self.n) * (now - self.started) / done if done > 0 else float("nan")
        parts = [f"{self.desc}: step {self.n}/{self.total} ({pct:.0f}%)"]
        if note:
            parts.append(note)
        parts.extend(f"{k} {v}" for k, v in self.postfix.items())
        if eta == eta:  # not NaN
            parts.append(f"eta {eta:.0f}s")
        print(", ".join(parts), file=self.stream, flush=True)

    def close(self) -> None:
        pass


class BarProgress(tqdm):
    """tqdm on a terminal; the epoch lines are already in the bar."""

    def epoch_end(self, epoch: int, epochs: int) -> None:
        pass


def progress(total: int, initial: int, desc: str, enabled: bool) -> Any:
    """A live bar when stderr is a terminal, else :class:`LineProgress`; nothing if disabled."""
    stream = sys.stderr
    if enabled and not stream.isatty():
        return LineProgress(total, initial, desc, stream)
    return BarProgress(
        total=total,
        initial=initial,
        desc=desc,
        unit="step",
        dynamic_ncols=True,
        disable=not enabled,
    )


def say(text: str, stream: TextIO | None = None) -> None:
    """Write ``text`` to the console (stderr), above a live progress bar if one is drawn."""
    tqdm.write(text, file=stream or sys.stderr)


class ConsoleHandler(logging.Handler):
    """The run's warnings on the console, each kind once (every one still goes to run.log).

    A warning's kind is its message template: "epoch %d: embeddings look collapsed ..." is
    shown at its first epoch and not again (run.log has every one). Records
    logged with ``extra={"console": True}`` are shown as they are, whatever their level. Faults
    of plugins (:mod:`jepa_framework.plugin.faults`) print their own one-line warning, so their
    records
    are left to run.log.
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__(logging.INFO)
        self.stream = stream
        self.seen: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            if getattr(record, "console", False):
                say(record.getMessage(), self.stream)
                return
            if record.levelno < logging.WARNING or record.module == "faults":
                return
            kind = str(record.msg)
            if kind in self.seen:
                return
            self.seen.add(kind)
            level = record.levelname.lower()
            say(f"jepa: {level}: {record.getMessage()}", self.stream)
        except Exception:  # the console is a courtesy, never a reason to stop a run
            self.handleError(record)
