"""How far a perfect model of the double pendulum could forecast, given an error in its start.

Integrates the same starts twice, once perturbed by ``delta`` (Gaussian, per state variable),
and reports the VPT(0.5) of the perturbed trajectory's bob positions against the true one, per
energy band: the ceiling any learned model faces. Also the Lyapunov-time estimate of the bands.

    uv run python benchmarks/bench_predictability.py [--starts 600] [--frames 400]
"""

from __future__ import annotations

import argparse
import math

import numpy as np
import torch
from jepa_builtins.datasets.double_pendulum import energy, integrate, positions

from jepa_framework.evaluate.metrics import nrmse, valid_frames

BANDS = {"E>10": (10, math.inf), "0<E<=10": (0, 10), "E<=0": (-math.inf, 0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=600)
    parser.add_argument("--frames", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    initial = rng.uniform(0.0, 2.0 * math.pi, size=(args.starts, 4))  # the prototype's starts
    e = energy(*initial.T)
    truth = torch.from_numpy(positions(integrate(initial, args.frames)))
    sigma = truth.flatten(0, 1).std(0)
    print(f"{args.starts} starts drawn as data.dataset.start=prototype, {args.frames} frames")
    print("| start error | " + " | ".join(f"VPT(0.5) {b} (censored)" for b in BANDS) + " |")
    print("|---|" + "---:|" * len(BANDS))
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
        print(f"| {delta:g} | " + " | ".join(cells) + " |")
    # an error growing like exp(lambda t) reaches the threshold ln(d2/d1)/lambda frames earlier
    frames_per_e = (medians[0] - medians[1]) / math.log(deltas[1] / deltas[0])
    print(f"E>10: error grows e-fold every {frames_per_e:.1f} frames (the Lyapunov time)")


if __name__ == "__main__":
    main()
