"""Evaluation of trained runs: linear probes, forecasts against baselines, eval.json + figures.

Entry points: :func:`evaluate` (a run just trained, as `jepa run` does at its end) and
:func:`evaluate_run` (a finished run directory, `jepa eval`). Submodules are imported on use, so
low-level ones (metrics, ridge, baselines) can be imported without the whole evaluation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def evaluate(*args: Any, **kwargs: Any) -> dict[str, Any]:
    """See :func:`jepa_framework.evaluate.report.evaluate`."""
    from jepa_framework.evaluate.report import evaluate as run_evaluation

    return run_evaluation(*args, **kwargs)


def format_summary(report: dict[str, Any]) -> str:
    """See :func:`jepa_framework.evaluate.report.format_summary`."""
    from jepa_framework.evaluate.report import format_summary as fmt

    return fmt(report)


def evaluate_run(run_dir: Path, host: Any = None) -> dict[str, Any]:
    """Rebuild a finished run from its directory and evaluate it."""
    from jepa_framework.evaluate.loading import load_run
    from jepa_framework.evaluate.report import evaluate as run_evaluation
    from jepa_framework.pipeline.training import phase_plans

    if host is None:
        from jepa_framework.plugin.host import host as make_host

        host = make_host()
    recipe, assembly = load_run(run_dir, host)
    from jepa_framework.pipeline.eval_memory import check_eval_fits

    check_eval_fits(recipe, assembly.dataset)
    plans = phase_plans(recipe, len(assembly.split.train))
    return run_evaluation(recipe, assembly, run_dir, host, plans)


__all__ = ["evaluate", "evaluate_run", "format_summary"]
