"""User-facing errors: the CLI prints them as one paragraph and exits with code 2, no traceback."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class JepaError(Exception):
    """An error caused by the user's input (recipe, plugin, command line), not by a bug."""

    exit_code = 2


class RecipeError(JepaError):
    """A recipe that cannot be used; carries every problem found, each with its dotted path.

    At most :attr:`MAX_LISTED` problems are printed (then "... and K more"), so a recipe full of
    junk gives a short message; ``problems`` keeps them all.
    """

    MAX_LISTED = 20

    def __init__(self, problems: list[str], source: str = "recipe") -> None:
        self.problems = problems
        self.source = source
        lines = [f"  - {p}" for p in problems[: self.MAX_LISTED]]
        if len(problems) > self.MAX_LISTED:
            lines.append(f"  ... and {len(problems) - self.MAX_LISTED} more")
        text = "\n".join(lines)
        super().__init__(f"{source} has {len(problems)} problem(s):\n{text}")


class PluginError(JepaError):
    """A plugin that cannot be loaded or that conflicts with another one."""


class TrainingError(JepaError):
    """Training cannot go on (non-finite loss, unusable device); the last good state is kept."""


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest candidate, or ``""`` if none is close."""
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
