"""Evaluation of trained runs: linear probes, forecasts against baselines, eval.json + figures.

Definitions follow shared/EVALUATION.md. Entry points: :func:`evaluate` (a run just trained, as
`jepa run` does at its end) and :func:`evaluate_run` (a finished run directory, `jepa eval`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jepa_framework.evaluate.report import evaluate, format_summary


def evaluate_run(run_dir: Path, host: Any = None) -> dict[str, Any]:
    """Rebuild a finished run from its directory and evaluate it."""
    from jepa_framework.evaluate.loading import load_run

    if host is None:
        from jepa_framework.plugins import host as make_host

        host = make_host()
    recipe, built = load_run(run_dir, host)
    return evaluate(recipe, built, run_dir, host)


__all__ = ["evaluate", "evaluate_run", "format_summary"]
