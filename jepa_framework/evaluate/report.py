"""`jepa eval`: probes, forecasts against baselines, eval.json and figures for one run."""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any

import torch

from jepa_framework.components import Shapes
from jepa_framework.data import DynamicsDataset
from jepa_framework.evaluate import baselines as bl
from jepa_framework.evaluate.metrics import psnr, vpt
from jepa_framework.evaluate.plots import plot_forecast, plot_probe
from jepa_framework.evaluate.probes import probe_study
from jepa_framework.evaluate.rollout import JepaForecast, held_out, score
from jepa_framework.recipe import Recipe
from jepa_framework.run import write_json

log = logging.getLogger("jepa_framework")

VPT_EPS = (0.5, 0.3)  # NRMSE thresholds (observations and probed state)
PIXEL_VPT_EPS = (0.025, 0.5)  # relative pixel error thresholds


def random_encoder(recipe: Recipe, dataset: DynamicsDataset, host: Any, device: torch.device):
    """A freshly initialised encoder of the recipe's architecture (the probe control)."""
    from jepa_framework.runner import build

    shapes = Shapes(tuple(dataset.obs_shape), recipe.data.history, recipe.model.embedding_dim)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(recipe.seed + 1)
        return build(host, recipe.model.encoder, shapes).to(device).eval()


def make_baselines(
    recipe: Recipe, dataset: DynamicsDataset, train_idx: torch.Tensor, context: int
) -> tuple[dict[str, bl.Forecaster], dict[str, Any]]:
    """The baselines that suit the data (by ``dataset.is_image``) and a note of their settings."""
    methods: dict[str, bl.Forecaster] = {"copy_last": bl.copy_last}
    if dataset.is_image:  # frames are big: the mean frame of a few hundred trajectories
        sample = dataset.to_float(dataset.observations[train_idx[:256]])
        methods["blank"] = bl.blank
        methods["mean_frame"] = bl.mean_frame(sample.flatten(0, 1).mean(0))
        return methods, {}
    train = dataset.to_float(dataset.observations[train_idx])
    if context >= 2:
        methods["constant_velocity"] = bl.constant_velocity
    order = max(1, min(context, dataset.sequence_length - 1))
    methods["linear_ar"] = bl.LinearAR(train, order, seed=recipe.seed)
    notes: dict[str, Any] = {"linear_ar_order": order}
    if recipe.eval.baselines:
        cfg = recipe.train
        batch = min(cfg.batch_size, len(train_idx))
        steps = bl.jepa_budget(len(train_idx), batch, cfg.epochs)
        per_epoch = math.ceil(len(train_idx) / batch)
        methods["residual_mlp"] = bl.train_residual_mlp(
            train,
            order=order,
            rollout_steps=recipe.objective.rollout_steps,
            optimizer_steps=steps,
            batch_size=batch,
            lr=cfg.lr,
            weight_decay=cfg.weight_decay,
            warmup_steps=round(cfg.warmup_epochs * per_epoch),
            grad_clip=cfg.grad_clip,
            hidden=recipe.eval.baseline_hidden_dim,
            seed=recipe.seed,
        )
        notes["residual_mlp"] = {
            "budget": "same optimizer steps, batch size, lr schedule and rollout steps as JEPA",
            "optimizer_steps": steps,
            "batch_size": batch,
            "rollout_steps": recipe.objective.rollout_steps,
            "hidden_dim": recipe.eval.baseline_hidden_dim,
        }
    return methods, notes


def _vpts(curves: torch.Tensor, eps_list, dataset: DynamicsDataset) -> dict[str, Any]:
    return {str(e): vpt(curves, e, dataset.frame_dt, dataset.lyapunov_frames) for e in eps_list}


def _groups(curves: torch.Tensor, masks: dict[str, torch.Tensor], eps: float, dataset) -> dict:
    """VPT(eps) in frames per named group of trajectories (e.g. energy bands)."""
    return {
        name: {
            "trajectories": int(m.sum()),
            **vpt(curves[m], eps, dataset.frame_dt, dataset.lyapunov_frames),
        }
        for name, m in masks.items()
        if m.any()
    }


def summarise_forecast(
    curves: dict[str, dict[str, torch.Tensor]], dataset: DynamicsDataset, masks: dict
) -> dict[str, Any]:
    """Mean curves and VPTs per method; NRMSE for vectors, pixel metrics for images."""
    methods = {}
    for name, c in curves.items():
        if dataset.is_image:
            mse = c["mse"].mean(0)
            methods[name] = {
                "mse": mse.tolist(),
                "psnr": psnr(mse).tolist(),
                "relative": c["relative"].mean(0).tolist(),
                "vpt": _vpts(c["relative"], PIXEL_VPT_EPS, dataset),
            }
        else:
            methods[name] = {
                "nrmse": c["nrmse"].mean(0).tolist(),
                "vpt": _vpts(c["nrmse"], VPT_EPS, dataset),
                "groups": _groups(c["nrmse"], masks, VPT_EPS[0], dataset),
            }
    kind = "image" if dataset.is_image else "vector"
    metric = "relative pixel MSE" if dataset.is_image else "NRMSE"
    return {"kind": kind, "metric": metric, "methods": methods}


def evaluate(recipe: Recipe, built: Any, run_dir: Path, host: Any) -> dict[str, Any]:
    """Evaluate a trained run; writes eval.json, forecast_eval.png and probe_r2.png."""
    started = time.perf_counter()
    cfg, dataset, device = recipe.eval, built.dataset, built.device
    model, history = built.model, recipe.data.history
    model.eval()
    train_idx, _ = dataset.split(recipe.data.val_fraction, recipe.seed)
    context = max(history, cfg.ar_order)
    n = min(cfg.trajectories, len(dataset))
    held = held_out(dataset, n, context, cfg.horizon, cfg.seed)
    frames = min(dataset.sequence_length, held.stored.shape[1])
    probe_report, probe = probe_study(
        model,
        random_encoder(recipe, dataset, host, device),
        dataset,
        train_idx,
        (held.stored[:, :frames], held.states[:, :frames]),
        history,
        cfg.probe_steps,
        cfg.probe_samples,
        recipe.seed,
        device,
    )
    methods, notes = make_baselines(recipe, dataset, train_idx, context)
    jepa = JepaForecast(model, built.decoder, history, device)
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
                    "vpt": _vpts(c, VPT_EPS, dataset),
                    "groups": _groups(c, masks, VPT_EPS[0], dataset),
                }
                for name, c in state_curves.items()
            },
        },
    }
    report["summary"] = summary(report)
    report["eval_seconds"] = time.perf_counter() - started
    write_json(run_dir / "eval.json", report)
    plot_forecast(report, run_dir / "forecast_eval.png")
    plot_probe(report, run_dir / "probe_r2.png")
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
    eps = str(PIXEL_VPT_EPS[1] if forecast["kind"] == "image" else VPT_EPS[0])
    state_methods = report["state_forecast"]["methods"]
    return {
        "probe_r2_mean": report["probe"]["r2_mean"],
        "random_probe_r2_mean": report["probe"]["random_encoder"]["r2_mean"],
        "vpt_threshold": float(eps),
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
