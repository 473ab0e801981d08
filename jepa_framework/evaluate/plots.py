"""Figures of eval.json: forecast error against horizon, and probe R² against steps ahead."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jepa_framework.evaluate.scoring import Panel


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
    """The scoring's panels (e.g. NRMSE, or pixel error and PSNR) against the horizon
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


#: lowest R² the probe figure shows: below -1 a reading is worse than predicting the mean by more
#: than the variable's own variance, and the value itself (it can be -66,000) says nothing more
R2_FLOOR = -1.0


def plot_probe(report: dict[str, Any], path: Path) -> None:
    """Mean and per-variable probe R² on latents predicted k steps ahead; random encoder at k=0.

    Values below :data:`R2_FLOOR` are drawn on the floor with a down-pointing marker and the
    figure says so, so a diverging rollout leaves a readable plot rather than an empty one.
    """
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    probe = report["probe"]
    ahead = probe["ahead"]
    k = ahead["k"]
    fig, ax = plt.subplots(figsize=(8.0, 4.6))
    clipped = False
    for name, curve in [*ahead["r2"].items(), ("mean", ahead["r2_mean"])]:
        shown = [max(R2_FLOOR, v) for v in curve]
        mean = name == "mean"
        (line,) = ax.plot(
            k,
            shown,
            "k-" if mean else "-",
            lw=2.5 if mean else 1,
            alpha=1 if mean else 0.7,
            label=name,
        )
        below = [(x, R2_FLOOR) for x, v in zip(k, curve, strict=True) if v < R2_FLOOR]
        if below:
            clipped = True
            ax.plot(*zip(*below, strict=True), "v", color=line.get_color(), ms=6)
    ax.axhline(
        probe["random_encoder"]["r2_mean"], color="gray", ls=":", label="random encoder, mean (k=0)"
    )
    ax.axhline(0.0, color="black", lw=0.5)
    xlabel = "steps ahead k (k = 0: the encoded context)"
    if clipped:
        xlabel += f"\n▼ R² below {R2_FLOOR:g} (worse than the mean), drawn at {R2_FLOOR:g}"
    ax.set(
        title=f"linear probe R² of latents predicted k steps ahead (k = {k[0]}..{k[-1]})",
        xlabel=xlabel,
        ylabel="R² on held-out trajectories\n(1 = exact, 0 = no better than the mean)",
    )
    ax.set_ylim(R2_FLOOR - 0.05, 1.02)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
