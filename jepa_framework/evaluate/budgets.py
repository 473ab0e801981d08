"""The budget curve: how far each supervised baseline forecasts as its training budget grows.

Each supervised family (``supervised``, ``residual_mlp``) trains at multiples of the JEPA's
optimizer steps, counted over every phase its forecaster trained in (eval.baseline_budgets).
eval.json's ``budget_curve`` gathers, per family and multiple, the optimizer steps, the headline
VPT (all trajectories, and per group such as energy band) and the training wall time;
``budget_curve.png`` plots VPT against optimizer steps with the JEPA as a reference line, so
"would supervision catch up with more compute?" has an answer.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jepa_framework.pipeline.artifacts import METRICS_NAME


def _run_wall_s(run_dir: Path) -> float | None:
    """The run's wall time from its metrics.json (None when absent or unreadable)."""
    try:
        return float(json.loads((run_dir / METRICS_NAME).read_text())["wall_time_s"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def budget_curve(report: dict[str, Any], jepa_steps: int, run_dir: Path) -> dict[str, Any]:
    """``{family: {multiple: {optimizer_steps, vpt, groups, wall_s}}}`` plus ``jepa`` at 1x.

    Empty when no supervised baseline was trained. The JEPA sits at ``jepa_steps``, the
    optimizer steps of every phase its forecaster trained in (phase 1 and the refit); its
    ``wall_s`` is the whole run's (every training phase and the artifacts), from metrics.json.
    """
    trained = report["settings"].get("baselines", {})
    forecast = report["forecast"]
    eps = str(forecast["headline_threshold"])

    def point(method: str, steps: int, wall_s: float | None) -> dict[str, Any]:
        entry = forecast["methods"][method]
        groups = entry.get("groups", {})
        return {
            "optimizer_steps": steps,
            "vpt": entry["vpt"][eps]["frames"],
            "groups": {name: g["frames"] for name, g in groups.items()},
            "wall_s": wall_s,
        }

    curve: dict[str, Any] = {}
    for name, note in trained.items():
        family = curve.setdefault(note["family"], {})
        family[str(note["multiple"])] = point(name, note["optimizer_steps"], note["wall_s"])
    if curve:
        curve["jepa"] = {"1": point("jepa", jepa_steps, _run_wall_s(run_dir))}
    return curve


def _headline_group(report: dict[str, Any]) -> str | None:
    """The group the summary leads with (e.g. the chaotic energy band), if it names one."""
    headline = report.get("summary", {}).get("headline")
    return headline.get("band") if isinstance(headline, dict) else None


def plot_budget_curve(report: dict[str, Any], path: Path) -> None:
    """VPT against optimizer steps (log x) per family, the JEPA as a point and a dashed line;
    a second panel for the summary's headline group when there is one. Nothing to plot: no
    file."""
    curve = report.get("budget_curve") or {}
    if not curve:
        return
    from matplotlib import ticker

    from jepa_framework.evaluate.plots import _pyplot

    band = _headline_group(report)
    panels: list[tuple[str, str | None]] = [("all trajectories", None)]
    if band and all(band in p["groups"] for f in curve.values() for p in f.values()):
        panels.append((band, band))
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4.2), squeeze=False)
    eps = report["forecast"]["headline_threshold"]
    for ax, (title, group) in zip(axes[0], panels, strict=True):

        def vpt_of(p: dict[str, Any], group: str | None = group) -> float:
            return p["groups"][group] if group else p["vpt"]

        for family, points in curve.items():
            if family == "jepa":
                continue
            ordered = sorted(points.items(), key=lambda kv: kv[1]["optimizer_steps"])
            xs = [p["optimizer_steps"] for _, p in ordered]
            ax.plot(xs, [vpt_of(p) for _, p in ordered], "o-", label=family)
            for (multiple, p), x in zip(ordered, xs, strict=True):
                ax.annotate(
                    f"{multiple}x",
                    (x, vpt_of(p)),
                    fontsize=7,
                    xytext=(3, 3),
                    textcoords="offset points",
                )
        jepa = curve["jepa"]["1"]
        ax.axhline(vpt_of(jepa), color="k", ls="--", lw=1)
        ax.plot([jepa["optimizer_steps"]], [vpt_of(jepa)], "k*", ms=12, label="jepa")
        ax.set_xscale("log", base=2)
        ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda x, _: f"{x:g}"))
        ax.xaxis.set_minor_formatter(ticker.NullFormatter())
        ax.set(
            title=f"VPT({eps}) vs training budget: {title}",
            xlabel="optimizer steps",
            ylabel="VPT (frames)",
        )
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
