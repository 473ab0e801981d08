"""How far a perfect model of the double pendulum could forecast, given an error in its start.

Integrates the same starts twice, once perturbed by ``delta`` (Gaussian, per state variable),
and reports the VPT(0.5) of the perturbed trajectory's bob positions against the true one, per
energy band: the ceiling any learned model faces. Then measures the largest Lyapunov exponent
of each band by Benettin's method (a neighbour 1e-8 away, renormalised every ``--renorm``
frames, the log growth summed after a warm-up) and prints the Lyapunov times that
``jepa_builtins.datasets.pendulum`` declares (``BAND_LYAPUNOV_S``).

    uv run python benchmarks/bench_predictability.py [--starts 600] [--frames 400] [--seconds 60]
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from jepa_builtins.datasets.double_pendulum import energy, integrate, positions
from stamp import publish, stamp

from jepa_framework.evaluate.metrics import nrmse, valid_frames

TABLES = Path(__file__).resolve().parent / "tables"
BANDS = {"E>10": (10, math.inf), "0<E<=10": (0, 10), "E<=0": (-math.inf, 0)}
#: distance of the Benettin neighbour in (th1, th2, w1, w2): far above float64 rounding of the
#: state (1e-15 relative), far below any nonlinear scale, so its growth is the tangent map's
SEPARATION = 1e-8


def benettin(
    step: Callable[[np.ndarray], np.ndarray],
    initial: np.ndarray,
    intervals: int,
    warmup: int,
    rng: np.random.Generator,
    separation: float = SEPARATION,
) -> np.ndarray:
    """Largest Lyapunov exponent per start [N], in 1 / interval: Benettin et al. (1980).

    ``step`` maps states [M, d] one renormalisation interval ahead. A neighbour of each start
    ``separation`` away (random direction) is stepped beside it; after each interval their
    distance d is read, log(d / separation) is summed (after ``warmup`` intervals, which align
    the difference with the most expanding direction) and the neighbour is pulled back to
    ``separation`` along the same direction, so the difference never leaves the linear regime.
    """
    x = np.asarray(initial, dtype=np.float64)
    direction = rng.standard_normal(x.shape)
    y = x + separation * direction / np.linalg.norm(direction, axis=1, keepdims=True)
    total = np.zeros(len(x))
    for i in range(warmup + intervals):
        both = step(np.concatenate([x, y]))
        x, y = both[: len(x)], both[len(x) :]
        distance = np.linalg.norm(y - x, axis=1)
        if i >= warmup:
            total += np.log(distance / separation)
        y = x + (y - x) * (separation / distance)[:, None]
    return total / intervals


def band_exponents(
    initial: np.ndarray, seconds: float, renorm: int, dt: float = 0.05, warmup_s: float = 5.0
) -> np.ndarray:
    """Largest Lyapunov exponent of each double-pendulum start [N], per second."""

    def step(states: np.ndarray) -> np.ndarray:
        return integrate(states, renorm + 1, dt)[:, -1]

    interval = renorm * dt
    rng = np.random.default_rng(1)
    intervals, warmup = round(seconds / interval), round(warmup_s / interval)
    return benettin(step, initial, intervals, warmup, rng) / interval


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=600)
    parser.add_argument("--frames", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seconds", type=float, default=60.0, help="Benettin averaging time")
    parser.add_argument("--renorm", type=int, default=2, help="frames between renormalisations")
    parser.add_argument("--out", type=Path, default=TABLES / "predictability.md")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    initial = rng.uniform(0.0, 2.0 * math.pi, size=(args.starts, 4))  # start: uniform_2pi
    e = energy(*initial.T)
    truth = torch.from_numpy(positions(integrate(initial, args.frames)))
    sigma = truth.flatten(0, 1).std(0)
    lines = [
        f"{args.starts} starts drawn as data.dataset.start=uniform_2pi, {args.frames} frames",
        "",
    ]
    lines.append("| start error | " + " | ".join(f"VPT(0.5) {b} (censored)" for b in BANDS) + " |")
    lines.append("|---|" + "---:|" * len(BANDS))
    deltas, medians = (1e-7, 1e-3, 1e-2, 1e-1), []
    for delta in deltas:
        perturbed = initial + delta * rng.standard_normal(initial.shape)
        pred = torch.from_numpy(positions(integrate(perturbed, args.frames)))
        valid = valid_frames(nrmse(pred, truth, sigma), 0.5)
        cells = []
        for lo, hi in BANDS.values():
            v = valid[torch.from_numpy((e > lo) & (e <= hi))]
            censored = float((v == args.frames).float().mean())
            cells.append(f"{float(v.float().median()):.0f} ({censored:.0%})")
        medians.append(float(valid[torch.from_numpy(e > 10)].float().median()))
        lines.append(f"| {delta:g} | " + " | ".join(cells) + " |")
    # an error growing like exp(lambda t) reaches the threshold ln(d2/d1)/lambda frames earlier
    frames_per_e = (medians[0] - medians[1]) / math.log(deltas[1] / deltas[0])
    lines += [
        "",
        f"E>10: the reach shrinks by {frames_per_e:.1f} frames per e-fold of start error.",
    ]
    lines += ["", *exponent_table(initial, e, args.seconds, args.renorm)]
    publish(args.out, lines, f"Written by {stamp()}.", readme=False)


def exponent_table(initial: np.ndarray, e: np.ndarray, seconds: float, renorm: int) -> list[str]:
    """The largest Lyapunov exponent per band (median and quartiles over its starts)."""
    half = band_exponents(initial, seconds / 2, renorm)
    full = band_exponents(initial, seconds, renorm)
    lines = [
        f"Largest Lyapunov exponent per second (Benettin, {seconds:g} s after a 5 s warm-up,",
        f"renormalised every {renorm} frames; the median over {seconds / 2:g} s shows that it",
        "has converged):",
        "",
        "| band | starts | median | quartiles | median over half the time | Lyapunov time |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for band, (lo, hi) in BANDS.items():
        inside = (e > lo) & (e <= hi)
        lam = np.median(full[inside])
        q1, q3 = np.percentile(full[inside], [25, 75])
        time = f"{1 / lam:.2f} s = {1 / lam / 0.05:.1f} frames" if lam > 0.2 else "none (regular)"
        lines.append(
            f"| {band} | {inside.sum()} | {lam:.2f} | {q1:.2f}-{q3:.2f} | "
            f"{np.median(half[inside]):.2f} | {time} |"
        )
    return lines


if __name__ == "__main__":
    main()
