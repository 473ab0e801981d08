"""What the ``oscillator`` predictor does with no learning at all: applied to raw coordinates.

A learned encoder is only worth its training where the predictor alone cannot forecast. This
script rolls the ``oscillator`` predictor out on the observations themselves (the identity as
the encoder, the coordinates of ``history`` frames as the latent) on the same held-out
trajectories the evaluation scores (its seed, count and horizon), and prints VPT(0.5) with the
evaluation's NRMSE. Seconds on a CPU; nothing is trained. Writes
``benchmarks/tables/oscillator_raw.md``, which README shows (``benchmarks/sync_readme.py``).

    uv run python benchmarks/bench_oscillator_raw.py                 # the curve recipes
    uv run python benchmarks/bench_oscillator_raw.py --modes lissajous --history 3
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from stamp import publish, stamp  # a sibling module of this script

from jepa_framework.config.recipe import load_recipe
from jepa_framework.core.components import Shapes
from jepa_framework.evaluate.metrics import nrmse, valid_frames
from jepa_framework.evaluate.rollout import held_out
from jepa_framework.pipeline.assemble import build
from jepa_framework.plugin.host import host as default_host

MODES = ("circle", "lissajous", "spiral")
TABLE = Path(__file__).resolve().parent / "tables" / "oscillator_raw.md"
#: frames in the oscillator's window (its fit needs 3, the growing fit 6): the earlier curve
#: recipes' windows, which the committed table was measured with
WINDOW, GROWING_WINDOW = 4, 8


@torch.no_grad()
def raw_vpt(mode: str, history: int | None, growing: bool) -> tuple[float, float, int, int, float]:
    """(median VPT(0.5), censored fraction, horizon, history, mean NRMSE at the horizon) of the
    oscillator on raw data."""
    host = default_host()
    recipe, _ = load_recipe(mode, [], host)
    dataset = build(host, recipe.dataset_spec())
    frames = history or (GROWING_WINDOW if growing else WINDOW)
    horizon = recipe.eval.horizon
    held = held_out(dataset, recipe.eval.trajectories, frames, horizon, recipe.trajectory_seed())
    series = dataset.to_float(held.stored).flatten(2).double()  # [N, C + H, F]
    features = series.shape[-1]
    predictor = host.registry("predictors").get("oscillator")
    net = predictor.factory(
        predictor.params(growing=growing), Shapes((features,), frames, frames * features)
    ).double()
    z = series[:, :frames].flatten(1)
    forecast = []
    for _ in range(horizon):
        z = net(z)
        forecast.append(z[:, -features:])
    pred, truth = torch.stack(forecast, 1), series[:, frames:]
    train = dataset.to_float(dataset.observations).flatten(2).double()  # the normaliser's data
    sigma = train.flatten(0, 1).std(0).clamp_min(1e-8)
    curves = nrmse(pred, truth, sigma)
    valid = valid_frames(curves, 0.5)
    censored = float((valid == horizon).float().mean())
    return float(valid.float().median()), censored, horizon, frames, float(curves[:, -1].mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    parser.add_argument("--history", type=int, help="frames in the window (default: 4, growing 8)")
    parser.add_argument("--no-readme", action="store_true")
    args = parser.parse_args()
    lines = [
        "| mode | oscillator | history | horizon | VPT(0.5), frames | censored | NRMSE at the "
        "horizon |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for mode in args.modes:
        for growing in (False, True):
            vpt, censored, horizon, frames, error = raw_vpt(mode, args.history, growing)
            kind = "growing" if growing else "plain"
            lines.append(
                f"| `{mode}` | {kind} | {frames} | {horizon} | {vpt:.0f} | {censored:.2f} | "
                f"{error:.3g} |"
            )
    footer = (
        f"{stamp()}, torch {torch.__version__}, CPU, nothing trained; median VPT over the "
        f"held-out trajectories each recipe's evaluation draws (its seed, count and horizon); "
        f"censored: the fraction still valid at the horizon; NRMSE at the horizon: mean over "
        f"them, as eval.json's curves."
    )
    publish(TABLE, lines, footer, readme=not args.no_readme)


if __name__ == "__main__":
    main()
