"""One figure per comparison: every method's forecast error against horizon, shaded across seeds.

Several runs (seeds, regularizers, ...) are read from their eval.json reports. The JEPA of each
labelled group of runs is one line, every baseline another (baselines do not depend on the JEPA's
settings, so they are pooled over all runs); each line is the mean over runs with the min-max
range shaded, so a reader sees at once how far seeds spread. Used by `jepa sweep` and by
``benchmarks/bench_results.py``. Only matplotlib and numpy: no torch import.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import attrs
import numpy as np

#: per-horizon error of a method entry, in order of preference (the VPT metric first)
ERROR_KEYS = ("nrmse", "relative", "mse")
#: the JEPA's method name in eval.json
JEPA = "jepa"


@attrs.frozen
class Panel:
    """One axes: a title, the error's name, and method -> error curves (one per run)."""

    title: str
    ylabel: str
    series: dict[str, list[list[float]]]
    threshold: float | None = None


def error_curve(entry: dict[str, Any]) -> tuple[str, list[float]] | None:
    """(metric key, mean error per horizon) of one method entry of eval.json, if it has one."""
    for key in ERROR_KEYS:
        curve = entry.get(key)
        if curve:
            return key, curve
    return None


def comparison_panels(runs: Iterable[tuple[str, dict[str, Any]]]) -> list[Panel]:
    """Panels (observations; probed state where evaluated) from (JEPA label, eval.json) pairs."""
    runs = list(runs)
    panels = []
    for section, title in (("forecast", "forecast"), ("state_forecast", "probed state")):
        series: dict[str, list[list[float]]] = {}
        metric, threshold = "", None
        for label, report in runs:
            block = report.get(section) or {}
            if section == "forecast":
                threshold = block.get("headline_threshold", threshold)
            for method, entry in (block.get("methods") or {}).items():
                found = error_curve(entry)
                if found is None:
                    continue
                metric, curve = found
                name = label if method == JEPA else method
                series.setdefault(name, []).append([float(x) for x in curve])
        if series:
            series = dict(sorted(series.items(), key=lambda item: not item[0].startswith(JEPA)))
            ylabel = {"nrmse": "NRMSE", "relative": "relative pixel error"}.get(metric, metric)
            if section == "state_forecast":
                threshold = 0.5
            panels.append(Panel(title, ylabel, series, threshold))
    return panels


def _band(curves: list[list[float]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, min and max over runs, over the horizons every run reached."""
    length = min(len(c) for c in curves)
    stack = np.asarray([c[:length] for c in curves], dtype=float)
    return stack.mean(0), stack.min(0), stack.max(0)


def plot_comparison(panels: list[Panel], path: Path, title: str = "", dpi: int = 90) -> Path:
    """Write the panels side by side (log y); JEPA lines solid, baselines dashed."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    names = list(dict.fromkeys(n for p in panels for n in p.series))
    ncol = 4
    legend_rows = -(-(len(names) + 1) // ncol)  # +1: the threshold line
    height = 3.8 + 0.22 * legend_rows
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), height), squeeze=False)
    cmap = plt.get_cmap("tab10" if len(names) <= 10 else "tab20")
    colours = {n: cmap(i % cmap.N) for i, n in enumerate(names)}
    for ax, panel in zip(axes[0], panels, strict=True):
        for name, curves in panel.series.items():
            mean, low, high = _band(curves)
            h = np.arange(1, len(mean) + 1)
            jepa = name.startswith(JEPA)
            label = f"{name} (n={len(curves)})" if len(curves) > 1 else name
            colour = colours[name]
            ax.plot(h, mean, "-" if jepa else "--", color=colour, lw=2 if jepa else 1, label=label)
            if len(curves) > 1:
                ax.fill_between(h, low, high, color=colour, alpha=0.2, lw=0)
        if panel.threshold is not None:
            ax.axhline(panel.threshold, color="grey", lw=0.8, ls=":", label="VPT threshold")
        ax.set(title=panel.title, xlabel="horizon (frames)", ylabel=panel.ylabel, yscale="log")
        ax.grid(alpha=0.3, lw=0.4)
    # one legend for every panel, below them, so it never covers a curve
    handles: dict[str, Any] = {}
    for ax in axes[0]:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    if handles:
        fig.subplots_adjust(bottom=(0.6 + 0.22 * legend_rows) / height)
        fig.legend(
            handles.values(),
            handles.keys(),
            loc="lower center",
            ncol=ncol,
            fontsize=7,
            frameon=False,
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path
