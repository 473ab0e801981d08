"""Figures of eval.json: forecast error against horizon, and probe R² against steps ahead."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jepa_framework.observations import Panel


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _panel(ax, methods: dict[str, Any], key: str, title: str, ylabel: str, log: bool) -> None:
    for name, entry in methods.items():
        curve = entry.get(key)
        if curve:
            style = "-" if name == "jepa" else ":" if name.endswith("true_state") else "--"
            ax.plot(
                range(1, len(curve) + 1), curve, style, label=name, lw=2 if name == "jepa" else 1
            )
    ax.set(title=title, xlabel="horizon (frames)", ylabel=ylabel)
    if log:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)


def plot_forecast(report: dict[str, Any], panels: Sequence[Panel], path: Path) -> None:
    """The observation space's panels (e.g. NRMSE, or pixel error and PSNR) against the horizon
    for every method, then the NRMSE of the probed positions (when the dataset has them)."""
    plt = _pyplot()
    forecast, state = report["forecast"], report["state_forecast"]
    probed = bool(state["methods"])
    cols = len(panels) + probed
    fig, axes = plt.subplots(1, cols, figsize=(5.5 * cols, 4.2), squeeze=False)
    for ax, panel in zip(axes[0], panels, strict=False):
        _panel(ax, forecast["methods"], panel.key, panel.title, panel.ylabel, panel.log)
    if probed:
        title = "probed-position NRMSE"
        _panel(axes[0, -1], state["methods"], "nrmse", title, "NRMSE", True)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_probe(report: dict[str, Any], path: Path) -> None:
    """Mean and per-variable probe R² on latents predicted k steps ahead; random encoder at k=0."""
    plt = _pyplot()
    probe = report["probe"]
    ahead = probe["ahead"]
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for name, curve in ahead["r2"].items():
        ax.plot(ahead["k"], curve, lw=1, alpha=0.7, label=name)
    ax.plot(ahead["k"], ahead["r2_mean"], "k-", lw=2.5, label="mean")
    ax.axhline(
        probe["random_encoder"]["r2_mean"], color="gray", ls=":", label="random encoder (k=0)"
    )
    ax.set(title="linear probe R² of predicted latents", xlabel="steps ahead k", ylabel="R²")
    # R² of a diverging rollout falls without bound; below -1 it only says "worse than the mean"
    ax.set_ylim(max(-1.0, min(-0.1, min(ahead["r2_mean"]) - 0.05)), 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
