"""Frame-wise encoding against whole windows: what encoding each frame once saves.

A frame-wise encoder (``keypoints``, ``frame_mlp``) lets training encode the H + K - 1 frames
behind a clip's K target windows once each (instead of K x H frames), and lets the refit phase
and the frozen-encoder controls encode every frame of a trajectory once (instead of H times).
For each image recipe this times, in one process and alternating the two so that drifting load
hits both, (a) phase-1 optimizer steps (the JEPA objective, backward and AdamW on one batch) and
(b) the latents of every window of ``--size`` trajectories, once with the recipe's encoder and
once with the same encoder behind a wrapper that hides its per-frame methods (the whole-window
path any other encoder takes). Best of ``--repeats``; the latents of the two paths are checked
equal. Writes ``benchmarks/tables/framewise.md``.

    uv run python benchmarks/bench_framewise.py
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from bench_throughput import build, training_batch  # sibling modules of this script
from stamp import publish, stamp
from torch import nn

from jepa_framework.pipeline.latents import window_latents
from jepa_framework.pipeline.training import JEPAObjective

TABLE = Path(__file__).resolve().parent / "tables" / "framewise.md"


class WholeWindows(nn.Module):
    """The same encoder without ``encode_frames``: every window is encoded whole."""

    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, window: torch.Tensor) -> torch.Tensor:
        return self.encoder(window)


def step_seconds(objective: JEPAObjective, batch: torch.Tensor, steps: int) -> float:
    """Seconds per phase-1 optimizer step on one batch (learning rate 0: all the work, weights
    unchanged, so both paths' latents come from the same encoder)."""
    params = [p for p in objective.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=0.0)
    for i in range(steps + 2):  # two warm-up steps
        if i == 2:
            start = time.perf_counter()
        loss = objective(batch)[0]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return (time.perf_counter() - start) / steps


def measure(
    recipe_name: str, size: int, steps: int, repeats: int, overrides: tuple[str, ...] = ()
) -> dict[str, float]:
    base = [f"data.dataset.size={size}", "eval.enabled=false"]
    recipe, built = build(recipe_name, [*base, *overrides])
    model, history, k = built.model, recipe.data.history, recipe.objective.rollout_steps
    batch = training_batch(recipe, built)
    objective = JEPAObjective(model, built.regularizer, k)
    target = model.target_encoder
    indices = torch.arange(len(built.dataset))
    best = {"step_framewise": float("inf"), "step_windows": float("inf")}
    best |= {"latents_framewise": float("inf"), "latents_windows": float("inf")}
    latents: dict[str, torch.Tensor] = {}
    for _ in range(repeats):
        for path in ("framewise", "windows"):
            wrapped = path == "windows"
            model.target_encoder = WholeWindows(target) if wrapped else target
            best[f"step_{path}"] = min(best[f"step_{path}"], step_seconds(objective, batch, steps))
            encoder = WholeWindows(model.encoder) if wrapped else model.encoder
            start = time.perf_counter()
            z = window_latents(encoder, built.dataset, indices, history, built.device)
            best[f"latents_{path}"] = min(best[f"latents_{path}"], time.perf_counter() - start)
            latents[path] = z
            model.train()
    model.target_encoder = target
    torch.testing.assert_close(latents["windows"], latents["framewise"], rtol=1e-4, atol=1e-5)
    return {**best, "history": history, "rollout": k}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", default="pendulum_image,pendulum_image_long")
    parser.add_argument("--size", type=int, default=1000, help="trajectories for the latents")
    parser.add_argument("--steps", type=int, default=20, help="timed optimizer steps per repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-readme", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    lines = [
        "| recipe | H, K | phase-1 step: whole windows | frame-wise | speed-up | latents of every "
        f"window, {args.size} trajectories: whole windows | frame-wise | speed-up |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name in args.recipes.split(","):
        r = measure(name, args.size, args.steps, args.repeats)
        lines.append(
            f"| `{name}` | {r['history']}, {r['rollout']} | {1e3 * r['step_windows']:.0f} ms "
            f"| {1e3 * r['step_framewise']:.0f} ms "
            f"| {r['step_windows'] / r['step_framewise']:.2f}x "
            f"| {r['latents_windows']:.2f} s | {r['latents_framewise']:.2f} s "
            f"| {r['latents_windows'] / r['latents_framewise']:.2f}x |"
        )
    footer = (
        f"{stamp()}, torch {torch.__version__}, CPU, {args.threads} threads; best of "
        f"{args.repeats} alternating repeats; a step is {args.steps} timed phase-1 optimizer "
        "steps on one batch of the recipe (encoder, EMA target, predictor, regularizer, AdamW) "
        "averaged; the two paths' latents agree to float rounding."
    )
    publish(TABLE, lines, footer, readme=not args.no_readme)


if __name__ == "__main__":
    sys.exit(main())
