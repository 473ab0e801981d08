"""Where an action-conditioned world model loses the state: probe R² per rollout step.

For each run folder given (any action-conditioned run: two_rooms, two_rooms_image,
pendulum_swingup, pendulum_swingup_image, ...), a ridge probe is fitted from the encoder's
latents of training windows to the true state (an angle named ``theta`` read as its cosine and
sine), then read on validation trajectories (not trained on) rolled out in latent space from
their first context along their recorded actions: R² per state variable and rollout step,
beside the same probe on the encoder's own latents of the frames reached, as PLDM logs it. A
rollout R² far below the encoder's means the dynamics lose the state; both low, the encoder.

Writes ``benchmarks/tables/rollout_probe.md`` (one row per run and step) and each run's
numbers into its folder (``rollout_probe.json``).

    uv run python benchmarks/bench_rollout_probe.py RUN_DIR [RUN_DIR ...]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from stamp import publish, stamp  # noqa: E402  (a sibling module)

TABLES = ROOT / "benchmarks" / "tables"
STEPS = (1, 4, 8, 16, 30)
#: the ridge penalties tried, per probe-fitting window
ALPHAS = (1e-9, 1e-7, 1e-5, 1e-3)
TRAIN_TRAJECTORIES, VALIDATION_TRAJECTORIES = 1000, 300


def state_features(states: torch.Tensor, names: tuple[str, ...]) -> tuple[torch.Tensor, list]:
    """States [..., S] -> probe targets and their names; an angle ``theta`` as cos and sin."""
    columns, labels = [], []
    for i, name in enumerate(names):
        if name == "theta":
            columns += [states[..., i].cos(), states[..., i].sin()]
            labels += ["cos θ", "sin θ"]
        else:
            columns.append(states[..., i])
            labels.append(name)
    return torch.stack(columns, -1), labels


def r2(predicted: torch.Tensor, truth: torch.Tensor) -> list[float]:
    return (1 - (predicted - truth).pow(2).mean(0) / truth.var(0)).tolist()


@torch.no_grad()
def measure(run_dir: Path) -> dict:
    """Probe R² per rollout step of one run, rollout and encoder."""
    from jepa_framework.evaluate.loading import load_run
    from jepa_framework.pipeline.latents import window_latents

    recipe, assembly = load_run(run_dir)
    model, dataset = assembly.model.eval(), assembly.dataset
    history, names = model.history, tuple(dataset.state_names)
    train = assembly.split.train[:TRAIN_TRAJECTORIES]
    val = assembly.split.val[:VALIDATION_TRAJECTORIES]

    def encode(idx: torch.Tensor) -> torch.Tensor:
        """The encoder's latents [N, W, D] of every window of these trajectories."""
        return window_latents(model.encoder, dataset, idx, history, assembly.device).float()

    def states_of(idx: torch.Tensor) -> torch.Tensor:
        states = torch.as_tensor(np.asarray(dataset.states[idx])).float()
        return state_features(states[:, history - 1 :], names)[0]  # each window's last frame

    latents = encode(train).flatten(0, 1)
    design = torch.cat([latents, torch.ones(len(latents), 1)], 1).double()
    targets = states_of(train).flatten(0, 1).double()
    own = encode(val)  # [N, W, D]
    truth = states_of(val)

    def fit(alpha: float) -> torch.Tensor:
        gram = design.T @ design + alpha * len(design) * torch.eye(design.shape[1]).double()
        return torch.linalg.solve(gram, design.T @ targets).float()

    def read(z: torch.Tensor, probe: torch.Tensor) -> torch.Tensor:
        return torch.cat([z, torch.ones(len(z), 1)], 1) @ probe

    # the penalty that reads the validation frames best from the encoder's own latents: chosen
    # without looking at any rollout (a heavy penalty can hide a rollout's drift)
    errors = {
        a: float((read(own.flatten(0, 1), fit(a)) - truth.flatten(0, 1)).pow(2).mean())
        for a in ALPHAS
    }
    alpha = min(errors, key=errors.__getitem__)
    probe = fit(alpha)
    actions = torch.as_tensor(np.asarray(dataset.actions[val])).float()
    steps = [k for k in STEPS if k < own.shape[1]]
    driven = actions[:, history - 1 : history - 1 + max(steps)]
    rolled = model.rollout(own[:, 0], max(steps), driven)
    per_step = {
        str(k): {
            "rollout": r2(read(rolled[k - 1], probe), truth[:, k]),
            "encoder": r2(read(own[:, k], probe), truth[:, k]),
        }
        for k in steps
    }
    labels = state_features(torch.zeros(1, len(names)), names)[1]
    found = {"recipe": recipe.name, "seed": recipe.seed, "refit_epochs": recipe.refit.epochs}
    found.update(state=labels, alpha=alpha)
    return {**found, "per_step": per_step}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="action-conditioned run folders")
    parser.add_argument("--tables-dir", type=Path, default=TABLES)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    rows = []
    for run_dir in args.runs:
        found = measure(run_dir)
        (run_dir / "rollout_probe.json").write_text(json.dumps(found) + "\n")
        rows.append(found)
    heads = ["recipe", "seed", "refit epochs", "state", "probe alpha", "rollout step"]
    heads += ["probe R², rollout", "probe R², encoder"]
    lines = ["| " + " | ".join(heads) + " |", "|---|---:|---:|---|---:|---:|---|---|"]
    for row in rows:
        for k, values in row["per_step"].items():

            def cell(numbers: list[float]) -> str:
                return " / ".join(f"{v:.3f}" for v in numbers)

            cells = [row["recipe"], str(row["seed"]), str(row["refit_epochs"])]
            cells.append(" / ".join(row["state"]))
            cells += [f"{row['alpha']:g}", k]
            cells += [cell(values["rollout"]), cell(values["encoder"])]
            lines.append("| " + " | ".join(cells) + " |")
    footer = (
        f"{stamp()}. Probe: ridge (alpha x windows, alpha in {', '.join(f'{a:g}' for a in ALPHAS)} "
        "chosen by its reading of the validation frames from the encoder's latents, never on a "
        "rollout) from the encoder's latents of "
        f"{TRAIN_TRAJECTORIES} training trajectories' windows to the true state, read on "
        f"{VALIDATION_TRAJECTORIES} validation trajectories rolled out in latent space from "
        "their first context along their recorded actions (rollout), and on the encoder's "
        "latents of the frames reached (encoder)."
    )
    args.tables_dir.mkdir(parents=True, exist_ok=True)
    publish(args.tables_dir / "rollout_probe.md", lines, footer, readme=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
