"""Why pendulum_swingup plans on decoded observations: the diagnosis behind its ``plan.cost``.

For each pendulum_swingup run that ``bench_planning.py`` trained (or the run folders given),
this measures where a latent-space plan loses the swing-up:

- the dynamics: a ridge probe of (cos θ, sin θ, θ̇) fitted on the encoder's latents of training
  frames, read on the latents the world model rolls out from one frame of validation trajectories
  along their recorded torques (R² per rollout step, beside the probe on the encoder's own
  latents of the same frames), as PLDM logs it;
- the cost: the squared latent distance to the upright goal's latent, at rest for angles from
  upright to hanging, and upright for speeds up to 8 rad/s -- a progress measure grows with
  the angle and hardly with the speed;
- the outcome: `jepa plan` of the world model alone with ``plan.cost=latent`` against
  ``plan.cost=observation`` (the recipe's), the same episodes (on a copy of the run, so its own
  plan.json stays); and the true simulator planning on the state with the speed weighted like
  the angle (1) and as the recipe weights it (0.1).

Writes ``benchmarks/tables/swingup_cost.md``; each run's numbers are kept in its folder
(``swingup_cost.json``) and reused when asked again with the same ``--episodes``.

    uv run python benchmarks/bench_swingup_cost.py                    # bench_planning's runs
    uv run python benchmarks/bench_swingup_cost.py --episodes 10 RUN_DIR ...
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from stamp import publish, stamp  # noqa: E402  (a sibling module)

RUNS = ROOT / "benchmarks" / "results" / "planning" / "pendulum_swingup"
TABLES = ROOT / "benchmarks" / "tables"
STEPS = (1, 4, 8, 16, 32)
ANGLES = (0.0, 0.5, 1.0, 2.0, 2.5, np.pi)
SPEEDS = (2.0, 4.0, 8.0)
#: the speed's weight in the simulator's goal distance: like the angle, and the recipe's
SPEED_WEIGHTS = (1.0, 0.1)
#: the ridge penalty of the probe (on standardised latents of thousands of frames: tiny)
ALPHA = 1e-3


def state_features(states: torch.Tensor) -> torch.Tensor:
    """(theta, theta_dot) [..., 2] -> (cos theta, sin theta, theta_dot) [..., 3]."""
    return torch.stack([states[..., 0].cos(), states[..., 0].sin(), states[..., 1]], -1)


def r2(predicted: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    return 1 - (predicted - truth).pow(2).mean(0) / truth.var(0)


@torch.no_grad()
def diagnose(run_dir: Path) -> dict:
    """Probe R² per rollout step and the latent distance profile of one run."""
    from jepa_framework.evaluate.loading import load_run

    recipe, assembly = load_run(run_dir)
    model, dataset = assembly.model.eval(), assembly.dataset
    train, test = assembly.split.train[:2000], assembly.split.val[:500]

    def encode(observations: torch.Tensor) -> torch.Tensor:
        return model.encode(dataset.to_float(observations)[:, None]).float()

    frames = torch.as_tensor(np.asarray(dataset.observations[train])).flatten(0, 1)
    latents = encode(frames)
    states = torch.as_tensor(np.asarray(dataset.states[train])).float().flatten(0, 1)
    design = torch.cat([latents, torch.ones(len(latents), 1)], 1)
    gram = design.T @ design + ALPHA * len(design) * torch.eye(design.shape[1])
    probe = torch.linalg.solve(gram, design.T @ state_features(states))

    def read(z: torch.Tensor) -> torch.Tensor:
        return torch.cat([z, torch.ones(len(z), 1)], 1) @ probe

    observations = torch.as_tensor(np.asarray(dataset.observations[test]))
    truth = state_features(torch.as_tensor(np.asarray(dataset.states[test])).float())
    actions = torch.as_tensor(np.asarray(dataset.actions[test])).float()
    steps = [k for k in STEPS if k < observations.shape[1]]  # as long as the trajectories allow
    rolled = model.rollout(encode(observations[:, 0]), max(steps), actions[:, : max(steps)])
    per_step = {}
    for k in steps:
        own = encode(observations[:, k])
        per_step[str(k)] = {
            "rollout": r2(read(rolled[k - 1]), truth[:, k]).tolist(),
            "encoder": r2(read(own), truth[:, k]).tolist(),
        }

    def observation(theta: float, speed: float) -> torch.Tensor:
        return torch.tensor([[np.cos(theta), np.sin(theta), speed]], dtype=torch.float32)

    goal = encode(observation(0.0, 0.0))
    at_rest = [float((encode(observation(a, 0.0)) - goal).pow(2).sum()) for a in ANGLES]
    spinning = [float((encode(observation(0.0, v)) - goal).pow(2).sum()) for v in SPEEDS]
    return {"seed": recipe.seed, "per_step": per_step, "at_rest": at_rest, "upright": spinning}


def plan_success(run_dir: Path, cost: str, episodes: int) -> float:
    """The world model's success rate with ``plan.cost=cost``, planned on a copy of the run."""
    copy = run_dir.parent / f"{run_dir.name}-{cost}-cost"
    if copy.exists():
        shutil.rmtree(copy)
    shutil.copytree(run_dir, copy)
    overrides = [f"plan.cost={cost}", "plan.baselines=false", "plan.video_episodes=0"]
    overrides.append(f"plan.episodes={episodes}")
    command = [sys.executable, "-m", "jepa_framework", "plan", str(copy), *overrides]
    subprocess.run(command, check=True, cwd=ROOT, capture_output=True)
    report = json.loads((copy / "plan.json").read_text())
    return 100 * report["methods"]["world_model"]["success_rate"]


def simulator_success(run_dir: Path, speed_weight: float, episodes: int) -> float:
    """The true simulator's success rate when the speed counts ``speed_weight`` of the angle
    in its goal distance on the state: the run's planner, plan seed and episodes."""
    import attrs
    from jepa_builtins.envs.swingup import PendulumSwingup

    from jepa_framework.config.recipe import load_recipe
    from jepa_framework.core.seeds import derive_seed
    from jepa_framework.datasets.environments import action_space_of
    from jepa_framework.planning.closed_loop import draw_tasks, run_episode
    from jepa_framework.planning.policies import PlanningPolicy
    from jepa_framework.planning.report import build_planner
    from jepa_framework.plugin.host import host

    recipe, _ = load_recipe(str(run_dir / "config.yaml"), registries=host())
    params = recipe.data.dataset.params.env.params
    env = PendulumSwingup(attrs.evolve(params, speed_weight=speed_weight))
    planner, _ = build_planner(recipe, host())
    cfg, seed = recipe.plan, recipe.plan_seed()
    policy = PlanningPolicy(
        planner,
        action_space_of(env),
        torch.Generator().manual_seed(derive_seed(seed, "simulator")),
        torch.device("cpu"),
        env=env,
        path_weight=cfg.path_weight,
        replan_every=cfg.replan_every,
    )
    tasks = draw_tasks(env, episodes, seed)
    done = [
        run_episode(env, policy, task, cfg.max_steps, derive_seed(seed, f"episode{i}")).success
        for i, task in enumerate(tasks)
    ]
    return 100 * float(np.mean(done))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="*", type=Path, help="run folders (default: the bench's)")
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--tables-dir", type=Path, default=TABLES)
    parser.add_argument("--only-measure", action="store_true", help="measure, write no table")
    args = parser.parse_args(argv)
    runs = args.runs or sorted(
        max(p for p in seed.iterdir() if (p / "metrics.json").is_file() and "-cost" not in p.name)
        for seed in RUNS.glob("seed-*")
    )
    torch.set_num_threads(1)
    rows = []
    for run_dir in runs:
        measured = run_dir / "swingup_cost.json"  # a run measured already, at these episodes
        if measured.is_file() and json.loads(measured.read_text())["episodes"] == args.episodes:
            rows.append(json.loads(measured.read_text()))
            continue
        found = diagnose(run_dir)
        found["latent"] = plan_success(run_dir, "latent", args.episodes)
        found["observation"] = plan_success(run_dir, "observation", args.episodes)
        for weight in SPEED_WEIGHTS:
            found[f"simulator_{weight:g}"] = simulator_success(run_dir, weight, args.episodes)
        found["episodes"] = args.episodes
        measured.write_text(json.dumps(found) + "\n")
        print(json.dumps(found), flush=True)
        rows.append(found)
    if args.only_measure:
        return 0
    heads = ["seed", "world model success %, latent cost", "decoded cost"]
    heads += [f"simulator success %, speed weight {w:g}" for w in SPEED_WEIGHTS]
    shown = (min(STEPS), max(STEPS))
    heads += [f"probe R² (cos, sin, θ̇) at rollout step {k} (encoder's own)" for k in shown]
    heads += [f"latent d² at rest, θ = {a:.3g}" for a in ANGLES]
    heads += [f"latent d² upright, θ̇ = {v:g}" for v in SPEEDS]
    lines = ["| " + " | ".join(heads) + " |", "|---" + "|---:" * (len(heads) - 1) + "|"]
    for row in rows:

        def triple(values: list[float]) -> str:
            return "/".join(f"{v:.2f}" for v in values)

        cells = [str(row["seed"]), f"{row['latent']:.0f}", f"{row['observation']:.0f}"]
        cells += [f"{row[f'simulator_{w:g}']:.0f}" for w in SPEED_WEIGHTS]
        for k in shown:
            step = row["per_step"][str(k)]
            cells.append(f"{triple(step['rollout'])} ({triple(step['encoder'])})")
        cells += [f"{d:.1f}" for d in row["at_rest"] + row["upright"]]
        lines.append("| " + " | ".join(cells) + " |")
    footer = (
        f"{stamp()}; {args.episodes} held-out episodes a seed, the world model alone (no "
        "references), CEM as the recipe sets it. Probe: ridge (alpha "
        f"{ALPHA:g} x frames) from the encoder's latents of 2,000 training trajectories' "
        "frames to (cos θ, sin θ, θ̇), read on 500 validation trajectories (not trained on), "
        "rolled out from their first frame along their recorded torques. Latent d²: squared "
        "distance to the latent of the upright goal at rest, which the latent cost minimises."
    )
    publish(args.tables_dir / "swingup_cost.md", lines, footer, readme=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
