"""`jepa eval`: probes, forecasts against baselines, eval.json and figures for one run."""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any

import torch

from jepa_framework.artifacts import write_json
from jepa_framework.assemble import Assembly, build, random_encoder, shapes_of
from jepa_framework.batches import Clips
from jepa_framework.data import DynamicsDataset
from jepa_framework.evaluate import baselines as bl
from jepa_framework.evaluate.budgets import budget_curve, plot_budget_curve
from jepa_framework.evaluate.metrics import VPT_EPS, vpt
from jepa_framework.evaluate.plots import plot_forecast, plot_probe
from jepa_framework.evaluate.probes import probe_study
from jepa_framework.evaluate.rollout import JepaForecast, held_out, score
from jepa_framework.observations import (
    BaselineInputs,
    Curves,
    ObservationSpace,
    VptFn,
    vpt_by_group,
    vpt_by_threshold,
)
from jepa_framework.optim import StepPlan
from jepa_framework.recipe import Recipe
from jepa_framework.seeds import derive_seed
from jepa_framework.train import autocast

log = logging.getLogger("jepa_framework")


def make_baselines(
    recipe: Recipe, host: Any, assembly: Assembly, context: int, plan: StepPlan
) -> tuple[dict[str, bl.Forecaster], dict[str, Any]]:
    """The baselines the dataset's observation space chooses, with the JEPA's budget (and the
    multiples of it in eval.baseline_budgets); see :class:`BaselineInputs`."""
    dataset, train_idx, device = assembly.dataset, assembly.split.train, assembly.device

    def train(n: int | None) -> torch.Tensor:
        return dataset.to_float(dataset.observations[train_idx[:n]])

    def networks() -> tuple[torch.nn.Module, ...]:
        """The recipe's encoder, predictor and decoder, freshly built with their own seed."""
        shapes, model = shapes_of(recipe, dataset), recipe.model
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(derive_seed(recipe.seed, "supervised"))
            specs = (model.encoder, model.predictor, model.decoder)
            return tuple(build(host, spec, shapes).to(device) for spec in specs)

    def clips(length: int) -> Clips:
        g = torch.Generator().manual_seed(derive_seed(recipe.seed, "supervised/batches"))
        return Clips(dataset, train_idx, length, cfg.batch_size, device, g)

    cfg = recipe.train
    inputs = BaselineInputs(
        train=train,
        context=context,
        sequence_length=dataset.sequence_length,
        plan=plan,
        batch_size=cfg.batch_size,
        lr=cfg.lr,
        weight_decay=cfg.weight_decay,
        grad_clip=cfg.grad_clip,
        rollout_steps=recipe.objective.rollout_steps,
        supervised=recipe.eval.baselines,
        hidden=recipe.eval.baseline_hidden_dim,
        seed=recipe.seed,
        history=recipe.data.history,
        budgets=tuple(recipe.eval.baseline_budgets),
        networks=networks if recipe.eval.baselines else None,
        clips=clips if recipe.eval.baselines else None,
        precision=lambda: autocast(device, cfg.precision),
    )
    return dataset.observation_space.baselines(inputs)


def _vpt_fn(dataset: DynamicsDataset) -> VptFn:
    return lambda curves, eps: vpt(curves, eps, dataset.frame_dt, dataset.lyapunov_frames)


def summarise_forecast(
    curves: dict[str, Curves], dataset: DynamicsDataset, masks: dict
) -> dict[str, Any]:
    """Mean curves and VPTs per method, as the dataset's observation space summarises them."""
    space: ObservationSpace = dataset.observation_space
    methods = {name: space.summarise(c, _vpt_fn(dataset), masks) for name, c in curves.items()}
    return {
        "kind": space.kind,
        "metric": space.metric,
        "headline_threshold": space.headline_threshold,
        "methods": methods,
    }


def evaluate(
    recipe: Recipe, assembly: Assembly, run_dir: Path, host: Any, plan: StepPlan
) -> dict[str, Any]:
    """Evaluate a trained run; writes eval.json, forecast_eval.png and probe_r2.png.

    ``plan`` is the JEPA phase's step plan: the supervised baseline gets the same budget.
    """
    started = time.perf_counter()
    cfg, dataset, device = recipe.eval, assembly.dataset, assembly.device
    model = assembly.model
    history = model.history
    model.eval()
    train_idx = assembly.split.train
    vpt_of = _vpt_fn(dataset)
    context = max(history, cfg.ar_order)
    n = min(cfg.trajectories, len(dataset))
    held = held_out(dataset, n, context, cfg.horizon, cfg.seed)
    frames = min(dataset.sequence_length, held.stored.shape[1])
    probe_report, probe = probe_study(
        model,
        random_encoder(recipe, host, assembly),
        dataset,
        train_idx,
        (held.stored[:, :frames], held.states[:, :frames]),
        cfg.probe_steps,
        cfg.probe_samples,
        recipe.seed,
        device,
    )
    methods, notes = make_baselines(recipe, host, assembly, context, plan)
    jepa = JepaForecast(model, assembly.decoder, device)
    obs_curves, state_curves = score(dataset, held, jepa, probe, methods)
    masks = dataset.trajectory_groups(held.states[:, context - 1])
    report = {
        "run": str(run_dir),
        "settings": {
            "trajectories": n,
            "horizon": cfg.horizon,
            "context_frames": context,
            "history": history,
            "seed": cfg.seed,
            "frame_dt": dataset.frame_dt,
            "lyapunov_frames": dataset.lyapunov_frames,
            "vpt": "median over trajectories of the first horizon whose error exceeds eps "
            "(the horizon itself when it never does; see 'censored')",
            **notes,
        },
        "probe": probe_report,
        "forecast": summarise_forecast(obs_curves, dataset, masks),
        "state_forecast": {
            "metric": "NRMSE of probe targets decoded from rolled-out latents",
            "targets": probe_report["names"],
            "methods": {
                name: {
                    "nrmse": c.mean(0).tolist(),
                    "vpt": vpt_by_threshold(c, VPT_EPS, vpt_of),
                    "groups": vpt_by_group(c, masks, VPT_EPS[0], vpt_of),
                }
                for name, c in state_curves.items()
            },
        },
    }
    report["summary"] = summary(report)
    report["budget_curve"] = budget_curve(report, plan, run_dir)
    report["eval_seconds"] = time.perf_counter() - started
    write_json(run_dir / "eval.json", report)
    plot_forecast(report, dataset.observation_space.panels, run_dir / "forecast_eval.png")
    plot_probe(report, run_dir / "probe_r2.png")
    plot_budget_curve(report, run_dir / "budget_curve.png")
    log.info(
        "evaluation (%.1fs), written to %s:\n%s",
        report["eval_seconds"],
        run_dir / "eval.json",
        format_summary(report),
    )
    return report


def summary(report: dict[str, Any]) -> dict[str, Any]:
    """Headline numbers: probe R², and VPT (frames) of every method at the main threshold."""
    forecast = report["forecast"]
    eps = str(forecast["headline_threshold"])
    state_methods = report["state_forecast"]["methods"]
    return {
        "probe_r2_mean": report["probe"]["r2_mean"],
        "random_probe_r2_mean": report["probe"]["random_encoder"]["r2_mean"],
        "vpt_threshold": forecast["headline_threshold"],
        "vpt": {m: e["vpt"][eps]["frames"] for m, e in forecast["methods"].items()},
        "state_vpt": {m: e["vpt"]["0.5"]["frames"] for m, e in state_methods.items()},
    }


def _fmt(x: float | None, digits: int = 3) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}g}"


def format_summary(report: dict[str, Any]) -> str:
    """A Markdown table: VPT per method (frames, seconds, Lyapunov times) and probe R²."""
    forecast = report["forecast"]
    lines = [
        f"probe R² (mean over {', '.join(report['probe']['names'])}): "
        f"{report['probe']['r2_mean']:.3f}; random encoder: "
        f"{report['probe']['random_encoder']['r2_mean']:.3f}",
        "",
        f"| method | {forecast['metric']} VPT | frames | seconds | Lyapunov times | censored |",
        "|---|---|---|---|---|---|",
    ]
    for name, entry in forecast["methods"].items():
        for eps, v in entry["vpt"].items():
            lines.append(
                f"| {name} | {eps} | {_fmt(v['frames'])} | {_fmt(v['seconds'])} | "
                f"{_fmt(v['lyapunov_times'])} | {_fmt(v['censored'], 2)} |"
            )
    for name, entry in report["state_forecast"]["methods"].items():
        v = entry["vpt"]["0.5"]
        lines.append(
            f"| {name} (probed state) | 0.5 | {_fmt(v['frames'])} | {_fmt(v['seconds'])} | "
            f"{_fmt(v['lyapunov_times'])} | {_fmt(v['censored'], 2)} |"
        )
    return "\n".join(lines)
