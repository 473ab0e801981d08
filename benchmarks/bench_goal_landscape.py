"""What a latent planner sees around its goal: latent distance to the goal per true distance.

For each run folder given (an action-conditioned run whose environment sets planning tasks:
two_rooms, two_rooms_image, ...), goals are drawn from the environment's task distribution
(``--seed``) and the agent is placed at points around each, ``radius`` away in 8 directions
(blocked points skipped); each observation is encoded (the frame held for a whole context) and
its latent distance to the goal's latent recorded. A planner on the latent cost can only tell
apart what this distance tells apart: flat near the goal (about 0 at a radius below the success
radius) means the agent settles anywhere in that flat patch; a large spread across directions
means the cost's valley is not round. Also reported: the mean absolute error of a linear fit of
the true state from the latents on a grid over the arena (how finely the latents place it).

Writes ``benchmarks/tables/goal_landscape.md`` (one row per run and radius).

    uv run python benchmarks/bench_goal_landscape.py RUN_DIR [RUN_DIR ...]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from stamp import publish, stamp  # noqa: E402  (a sibling module)

TABLES = ROOT / "benchmarks" / "tables"
RADII = (0.01, 0.03, 0.06, 0.1, 0.2, 0.4)
DIRECTIONS = 8
GRID = 10  # points per side of the arena's grid for the linear fit


class Landscape:
    """One run's encoder applied to observations of the agent placed at chosen states."""

    def __init__(self, run_dir: Path) -> None:
        from jepa_framework.api import load_run

        self.run = load_run(run_dir)
        self.env = self.run.dataset.environment()
        if self.env is None or not callable(getattr(self.env, "sample_task", None)):
            raise SystemExit(f"{run_dir}: its dataset has no environment with planning tasks")

    def latents(self, states: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        """Latents [N, D] of the free states among ``states``, and those states."""
        from jepa_framework.planning.closed_loop import observe

        observations, free = [], []
        for state in states:
            try:
                observations.append(np.asarray(observe(self.env, state, seed=0)))
            except ValueError:  # a wall or outside the arena
                continue
            free.append(state)
        windows = np.repeat(np.stack(observations)[:, None], self.run.history, axis=1)
        return self.run.encode(windows).numpy(), free


def encoder_cell(spec: Any) -> str:
    """The encoder's name, with its keypoint maps' bound where it takes one (0: unbounded)."""
    bound = getattr(spec.params, "max_logit", None)
    if bound is None:
        return spec.name
    return f"{spec.name}, max_logit {bound:g}" if bound else f"{spec.name}, unbounded maps"


def measure(run_dir: Path, goals: int, seed: int) -> dict:
    """Latent distance to the goal per radius (mean and std over goals x directions)."""
    land = Landscape(run_dir)
    rng = np.random.default_rng(seed)
    angles = np.linspace(0, 2 * np.pi, DIRECTIONS, endpoint=False)
    ring = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    distances: dict[float, list[float]] = {r: [] for r in RADII}
    for _ in range(goals):
        _, goal = land.env.sample_task(rng)
        goal = np.asarray(goal, np.float64)
        z_goal, _ = land.latents([goal])
        for radius in RADII:
            z, _ = land.latents([goal + radius * d for d in ring])
            distances[radius] += np.linalg.norm(z - z_goal, axis=1).tolist()
    axis = np.linspace(-0.9, 0.9, GRID)
    z, states = land.latents([np.array([x, y]) for x in axis for y in axis])
    design = np.c_[z, np.ones(len(z))]
    weights, *_ = np.linalg.lstsq(design, np.stack(states), rcond=None)
    error = np.abs(design @ weights - np.stack(states)).mean(0)
    return {
        "seed": land.run.recipe.seed,
        "recipe": land.run.recipe.name,
        "encoder": encoder_cell(land.run.recipe.model.encoder),
        "radius": {r: (float(np.mean(d)), float(np.std(d))) for r, d in distances.items()},
        "linear_error": error.tolist(),
        "latent_std": float(z.std(0).mean()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="action-conditioned run folders")
    parser.add_argument("--goals", type=int, default=6, help="goals per run")
    parser.add_argument("--seed", type=int, default=9000, help="seed of the goals")
    parser.add_argument("--tables-dir", type=Path, default=TABLES)
    args = parser.parse_args(argv)
    heads = ["run", "recipe", "encoder", "seed", "radius", "latent distance to the goal"]
    heads += ["linear error of the state", "latent std"]
    lines = ["| " + " | ".join(heads) + " |", "|---|---|---|---:|---:|---|---|---:|"]
    for run_dir in args.runs:
        found = measure(run_dir, args.goals, args.seed)
        error = " / ".join(f"{e:.4f}" for e in found["linear_error"])
        for radius, (mean, std) in found["radius"].items():
            cells = [run_dir.name, found["recipe"], found["encoder"], str(found["seed"])]
            cells.append(f"{radius:g}")
            cells += [f"{mean:.3f} ± {std:.3f}", error, f"{found['latent_std']:.3f}"]
            lines.append("| " + " | ".join(cells) + " |")
    footer = (
        f"{stamp()}. {args.goals} goals of the environment's task distribution (seed "
        f"{args.seed}), the agent placed at each radius in {DIRECTIONS} directions (blocked "
        "points skipped): latent distance to the goal's latent, mean ± std over goals and "
        "directions. Linear error: mean absolute error per state variable of a least-squares "
        f"fit of the state from the latents on a {GRID} x {GRID} grid over the arena."
    )
    args.tables_dir.mkdir(parents=True, exist_ok=True)
    publish(args.tables_dir / "goal_landscape.md", lines, footer, readme=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
