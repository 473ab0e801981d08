"""Built-in trackers: `local` writes every logged scalar as JSON lines in the run directory."""

from __future__ import annotations

import json
from typing import Any

import attrs

from jepa_framework import hookimpl
from jepa_framework.core.validators import folder_name


@attrs.frozen
class LocalTrackerParams:
    #: a file in the run directory (a plain name, so nothing is written outside it)
    filename: str = attrs.field(default="scalars.jsonl", validator=folder_name)


class LocalTracker:
    """Appends one ``{"step": n, "key": value, ...}`` JSON line per log call."""

    def __init__(self, params: LocalTrackerParams) -> None:
        self.params = params
        self._file: Any = None

    def start(self, run: Any) -> None:
        self._file = open(run.dir / self.params.filename, "a", encoding="utf-8")  # noqa: SIM115

    def log(self, scalars: dict[str, float], step: int) -> None:
        if self._file is not None:
            self._file.write(json.dumps({"step": step, **scalars}) + "\n")
            self._file.flush()

    def finish(self, run: Any, metrics: dict[str, Any]) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


@hookimpl
def register_trackers(register):
    register("local", LocalTracker, params=LocalTrackerParams)
