"""`jepa eval`: probes, forecasts against baselines, eval.json and figures for one run."""

from __future__ import annotations

import copy
import json
import logging
import math
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import torch

from jepa_framework.config.recipe import Recipe
from jepa_framework.core.seeds import derive_seed
from jepa_framework.datasets.base import DynamicsDataset
from jepa_framework.datasets.batches import Clips
from jepa_framework.evaluate import baselines as bl
from jepa_framework.evaluate.baseline_inputs import BaselineInputs
from jepa_framework.evaluate.budgets import budget_curve, plot_budget_curve
from jepa_framework.evaluate.control_readout import DECODER, decode_control
from jepa_framework.evaluate.controls import train_control
from jepa_framework.evaluate.matched_budget import jepa_budget, method_budgets
from jepa_framework.evaluate.metrics import VPT_EPS, vpt
from jepa_framework.evaluate.own_probe import own_probe_methods
from jepa_framework.evaluate.plots import plot_forecast, plot_probe
from jepa_framework.evaluate.probe_sensitivity import probe_sensitivity
from jepa_framework.evaluate.probes import Probes, probe_study
from jepa_framework.evaluate.references import nothing_learned
from jepa_framework.evaluate.rollout import (
    TRUE_STATE_REFERENCE,
    JepaForecast,
    LatentMethod,
    held_out,
    score,
)
from jepa_framework.evaluate.scoring import Curves, Group, VptFn, vpt_by_group, vpt_by_threshold
from jepa_framework.evaluate.spaces import scoring_of
from jepa_framework.models.jepa import JEPA
from jepa_framework.pipeline.artifacts import METRICS_NAME, write_json, writing
from jepa_framework.pipeline.assemble import Assembly, build, random_encoder, shapes_of
from jepa_framework.pipeline.decoder_fit import fit_linear_decoder
from jepa_framework.pipeline.optim import StepPlan
from jepa_framework.pipeline.training import autocast

log = logging.getLogger("jepa_framework")

#: every training phase's step plan, by phase ("jepa", "refit"; the trainer's ``plans``)
Plans = Mapping[str, StepPlan]


def make_baselines(
    recipe: Recipe, host: Any, assembly: Assembly, context: int, plans: Plans
) -> tuple[dict[str, bl.Forecaster], dict[str, Any]]:
    """The baselines the scoring of the dataset's observations chooses, with the JEPA's budget
    over every training phase in ``plans`` (and the multiples of it in eval.baseline_budgets);
    see :class:`BaselineInputs`."""
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

    def clips(length: int, batch_size: int) -> Clips:
        g = torch.Generator().manual_seed(derive_seed(recipe.seed, "supervised/batches"))
        return Clips(dataset, train_idx, length, batch_size, device, g)

    def solve_decoder(model: torch.nn.Module) -> None:
        """The recipe's closed-form decoder, solved on the supervised model's own latents of
        its standardised training windows."""

        def standardised(stored: torch.Tensor) -> torch.Tensor:
            return model.standardise(dataset.to_float(stored))

        name, history = recipe.model.decoder.name, recipe.data.history
        fit_linear_decoder(
            model.encoder, model.decoder, name, dataset, train_idx, history, device, standardised
        )

    inputs = BaselineInputs(
        train=train,
        context=context,
        sequence_length=dataset.sequence_length,
        budget=jepa_budget(recipe, plans),
        supervised=recipe.eval.baselines,
        hidden=recipe.eval.baseline_hidden_dim,
        seed=recipe.seed,
        history=recipe.data.history,
        budgets=tuple(recipe.eval.baseline_budgets),
        networks=networks if recipe.eval.baselines else None,
        clips=clips if recipe.eval.baselines else None,
        solve_decoder=solve_decoder if recipe.decoder_train.solver == "least_squares" else None,
        precision=lambda: autocast(device, recipe.train.precision),
    )
    return scoring_of(dataset).baselines(inputs)


def _vpt_fn(dataset: DynamicsDataset, lyapunov_frames: float | None) -> VptFn:
    return lambda curves, eps: vpt(curves, eps, dataset.frame_dt, lyapunov_frames)


def _all_trajectories_lyapunov(dataset: DynamicsDataset) -> float | None:
    """The Lyapunov time of VPTs over all trajectories: none when it differs by group (a mix
    of energy bands has no one Lyapunov time; each band is reported in its own)."""
    return None if dataset.group_lyapunov_frames else dataset.lyapunov_frames


def trajectory_groups(dataset: DynamicsDataset, initial: torch.Tensor) -> dict[str, Group]:
    """The dataset's groups of held-out trajectories (states [N, S] at the forecast's start),
    the headline group first, each measured in its own Lyapunov times."""
    masks = dataset.trajectory_groups(initial)
    own = dataset.group_lyapunov_frames
    headline = dataset.headline_group
    order = sorted(masks, key=lambda name: name != headline)  # stable: the rest keep their order
    return {
        name: Group(masks[name], _vpt_fn(dataset, own.get(name, dataset.lyapunov_frames)))
        for name in order
    }


def summarise_forecast(
    curves: dict[str, Curves], dataset: DynamicsDataset, groups: dict[str, Group]
) -> dict[str, Any]:
    """Mean curves and VPTs per method, as the scoring of the dataset's observations
    summarises them; ``kind`` is the observation space's own."""
    scoring = scoring_of(dataset)
    vpt_of = _vpt_fn(dataset, _all_trajectories_lyapunov(dataset))
    methods = {name: scoring.summarise(c, vpt_of, groups) for name, c in curves.items()}
    return {
        "kind": dataset.observation_space.kind,
        "metric": scoring.metric,
        "headline_threshold": scoring.headline_threshold,
        "methods": methods,
    }


def summarise_state(
    curves: dict[str, torch.Tensor], dataset: DynamicsDataset, groups: dict[str, Group]
) -> dict[str, Any]:
    """The probed-position forecast's curves and VPTs per method (threshold 0.5 per group)."""
    vpt_of = _vpt_fn(dataset, _all_trajectories_lyapunov(dataset))
    return {
        "metric": "NRMSE of the positions implied by the linear state probe's readings, "
        "normalised by the std of the positions over the training trajectories (as coordinate "
        "forecasts)",
        "reference": TRUE_STATE_REFERENCE,
        "methods": {
            name: {
                "nrmse": c.mean(0).tolist(),
                "vpt": vpt_by_threshold(c, VPT_EPS, vpt_of),
                "groups": vpt_by_group(c, groups, VPT_EPS[0]),
            }
            for name, c in curves.items()
        },
    }


def has_probe_positions(dataset: DynamicsDataset) -> bool:
    targets, _ = dataset.probe_targets(dataset.states[:1, :1])
    return dataset.probe_positions(targets) is not None


#: the two frozen-encoder controls: name -> what eval.json says each is
CONTROLS = {
    "random_encoder": "the recipe's encoder randomly initialised and frozen, the recipe's "
    "predictor trained on its standardised latents with the JEPA's budget (every training "
    "phase), decoded by the recipe's decoder fitted on its latents and read by its own probe",
    "refit_predictor": "the JEPA's trained encoder frozen, a freshly initialised predictor of "
    "the recipe's architecture trained on its standardised latents with the JEPA's budget "
    "(every training phase), decoded by the recipe's decoder fitted on its latents and read by "
    "the JEPA's probe: "
    "whether the encoder or the JEPA's predictor limits the forecast",
}


def make_control(
    recipe: Recipe,
    host: Any,
    assembly: Assembly,
    encoder: torch.nn.Module,
    plans: Plans,
    name: str = "random_encoder",
) -> tuple[JEPA, dict[str, Any]]:
    """A frozen ``encoder`` with the recipe's predictor trained on its latents (``CONTROLS``)
    through every training phase in ``plans``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(recipe.seed, f"{name}_predictor"))
        shapes = shapes_of(recipe, assembly.dataset)
        predictor = build(host, recipe.model.predictor, shapes).to(assembly.device)
    return train_control(
        encoder,
        predictor,
        assembly.dataset,
        assembly.split.train,
        recipe.data.history,
        jepa_budget(recipe, plans),
        derive_seed(recipe.seed, f"{name}_batches"),
        assembly.device,
        CONTROLS[name],
        with_actions=assembly.model.action_dim > 0,
    )


def control_methods(
    controls: Mapping[str, JEPA],
    probes: Probes,
    recipe: Recipe,
    host: Any,
    assembly: Assembly,
    plans: Plans,
) -> tuple[dict[str, LatentMethod], dict[str, dict[str, Any]]]:
    """Each control decoded by the recipe's decoder fitted on its latents (the JEPA's decoder
    phase, :mod:`~jepa_framework.evaluate.control_readout`) and read by its probe: the random
    encoder's own, the JEPA's for the refitted predictor (whose latents are the JEPA
    encoder's). Returns the methods and each readout's note for eval.json."""
    dataset, device = assembly.dataset, assembly.device
    own = {"random_encoder": probes.random_encoder, "refit_predictor": probes.jepa}
    out, notes = {}, {}
    for name, control in controls.items():
        decoder, notes[name] = decode_control(
            name, control, recipe, host, assembly, plans["decoder"]
        )
        forecast = JepaForecast(control, decoder, device)
        out[name] = LatentMethod.of(forecast, own[name], tuple(dataset.obs_shape))
    return out, notes


def _train_seconds(run_dir: Path) -> float | None:
    """The JEPA's training wall time (both phases) from the run's metrics.json, if recorded."""
    try:
        return float(json.loads((run_dir / METRICS_NAME).read_text())["train_seconds"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _dataset_settings(recipe: Recipe, dataset: DynamicsDataset, groups: dict[str, Group]):
    """What the held-out trajectories are: the dataset's parameters (its start distribution)
    and the share of each group (e.g. the energy mix)."""
    params = {k: v for k, v in attrs.asdict(dataset.params).items() if k != "cache"}
    out: dict[str, Any] = {"dataset": {"name": recipe.data.dataset.name, **params}}
    if "start" in params:
        out["start"] = params["start"]
    if groups:
        n = max(1, len(next(iter(groups.values())).mask))
        out["headline_group"] = dataset.headline_group
        out["group_fractions"] = {k: float(g.mask.sum()) / n for k, g in groups.items()}
        own = dataset.group_lyapunov_frames
        out["group_lyapunov_frames"] = {k: own.get(k, dataset.lyapunov_frames) for k in groups}
    return out


def evaluate(
    recipe: Recipe, assembly: Assembly, run_dir: Path, host: Any, plans: Plans
) -> dict[str, Any]:
    """Evaluate a trained run; writes eval.json, forecast_eval.png and probe_r2.png.

    ``plans`` holds the step plan of every training phase (the trainer's ``plans``: "jepa",
    and "refit" when the recipe refits): every trained baseline and control gets the budget of
    all the phases the JEPA's forecaster trained in, phase by phase.
    """
    started = time.perf_counter()
    cfg, dataset, device = recipe.eval, assembly.dataset, assembly.device
    model = assembly.model
    history = model.history
    model.eval()
    train_idx = assembly.split.train
    context = max(history, cfg.ar_order)
    n = min(cfg.trajectories, len(dataset))
    held = held_out(
        dataset, n, context, cfg.horizon, recipe.trajectory_seed(), train_idx, cfg.split
    )
    frames = min(dataset.sequence_length, held.stored.shape[1])
    rnd = random_encoder(recipe, host, assembly)
    controls: dict[str, JEPA] = {}
    control_notes: dict[str, dict[str, Any]] = {}
    if cfg.controls:
        # the refit control freezes a copy: freezing must not touch the JEPA's own encoder
        encoders = {"random_encoder": rnd, "refit_predictor": copy.deepcopy(model.encoder).eval()}
        for name, encoder in encoders.items():
            controls[name], control_notes[name] = make_control(
                recipe, host, assembly, encoder, plans, name
            )
            control_notes[name]["decoder"] = DECODER
    probe_report, probes = probe_study(
        model,
        rnd,
        dataset,
        train_idx,
        (held.stored[:, :frames], held.states[:, :frames]),
        cfg.probe_steps,
        cfg.probe_samples,
        recipe.seed,
        device,
        control=controls.get("random_encoder"),
        validation_seed=recipe.trajectory_seed("validation"),
        context=context,
    )
    methods, notes = make_baselines(recipe, host, assembly, context, plans)
    references, reference_notes = nothing_learned(dataset, host, history)
    methods.update(references)
    latent_methods, readouts = control_methods(controls, probes, recipe, host, assembly, plans)
    for name, readout in readouts.items():
        control_notes[name]["readout"] = readout
    if has_probe_positions(dataset):
        own, own_records = own_probe_methods(
            methods,
            dataset,
            train_idx,
            history,
            samples=cfg.probe_samples,
            seed=recipe.seed,
            validation=(n, context, recipe.trajectory_seed("validation")),
            device=device,
        )
        latent_methods.update(own)
        if own_records:
            probe_report["own_probes"] = own_records
    jepa = JepaForecast(model, assembly.decoder, device)
    obs_curves, state_curves = score(dataset, held, jepa, probes, methods, latent_methods)
    probe_report["sensitivity"] = probe_sensitivity(dataset, held, jepa, probes)
    groups = trajectory_groups(dataset, held.states[:, context - 1])
    budget = jepa_budget(recipe, plans)
    report = {
        "run": str(run_dir),
        "settings": {
            "trajectories": int(held.stored.shape[0]),
            "horizon": cfg.horizon,
            "context_frames": context,
            "history": history,
            "split": cfg.split,
            "seed": recipe.trajectory_seed(),
            "test_seed": recipe.trajectory_seed("test"),
            "validation_seed": recipe.trajectory_seed("validation"),
            "data_seed": dataset.data_seed,
            "frame_dt": dataset.frame_dt,
            "lyapunov_frames": dataset.lyapunov_frames,
            **_dataset_settings(recipe, dataset, groups),
            "vpt": "median over trajectories of the number of leading frames whose error stays "
            "at or below eps (the horizon itself when it never exceeds eps; see 'censored')",
            **notes,
            **reference_notes,
            **control_notes,
        },
        "probe": probe_report,
        "forecast": summarise_forecast(obs_curves, dataset, groups),
        "state_forecast": summarise_state(state_curves, dataset, groups),
    }
    trained = {**notes.get("baselines", {}), **control_notes}
    report["budgets"] = method_budgets(
        report["forecast"]["methods"], budget, _train_seconds(run_dir), trained
    )
    report["summary"] = summary(report, dataset.headline_group)
    report["budget_curve"] = budget_curve(report, budget.total_steps, run_dir)
    report["eval_seconds"] = time.perf_counter() - started
    write_json(run_dir / "eval.json", report)
    with writing(run_dir / "forecast_eval.png") as tmp:  # each figure written atomically
        plot_forecast(report, scoring_of(dataset).panels, tmp)
    with writing(run_dir / "probe_r2.png") as tmp:
        plot_probe(report, tmp)
    if report.get("budget_curve"):  # nothing to plot: no file
        with writing(run_dir / "budget_curve.png") as tmp:
            plot_budget_curve(report, tmp)
    log.info(
        "evaluation (%.1fs), written to %s:\n%s",
        report["eval_seconds"],
        run_dir / "eval.json",
        format_summary(report),
    )
    return report


def _band_table(methods: dict[str, Any], band: str) -> dict[str, Any]:
    """{method: {frames, seconds, lyapunov_times, censored, trajectories}} of one group."""
    return {m: e["groups"][band] for m, e in methods.items() if band in e.get("groups", {})}


def _bands(methods: dict[str, Any], order: list[str]) -> dict[str, Any]:
    return {band: _band_table(methods, band) for band in order}


def summary(report: dict[str, Any], headline_group: str | None = None) -> dict[str, Any]:
    """Headline numbers, the headline group (the chaotic band) first.

    ``headline``: VPT of every method in the headline group (frames, seconds, Lyapunov times,
    censored fraction; also of the probed positions); ``bands``/``state_bands``: every group's
    own numbers; then probe R² and the VPT over all trajectories (frames).
    """
    forecast, state = report["forecast"], report["state_forecast"]["methods"]
    eps = str(forecast["headline_threshold"])
    methods = forecast["methods"]
    order = list(report["settings"].get("group_fractions", {}))
    out: dict[str, Any] = {}
    if headline_group is not None and headline_group in order:
        obs, probed = _band_table(methods, headline_group), _band_table(state, headline_group)
        count = next(iter(obs.values()), {}).get("trajectories", 0)
        out["headline"] = {
            "band": headline_group,
            "threshold": forecast["headline_threshold"],
            "trajectories": count,
            "vpt": {m: v["frames"] for m, v in obs.items()},
            "seconds": {m: v["seconds"] for m, v in obs.items()},
            "lyapunov_times": {m: v["lyapunov_times"] for m, v in obs.items()},
            "censored": {m: v["censored"] for m, v in obs.items()},
            "state_vpt": {m: v["frames"] for m, v in probed.items()},
            "state_lyapunov_times": {m: v["lyapunov_times"] for m, v in probed.items()},
            "state_censored": {m: v["censored"] for m, v in probed.items()},
        }
    if order:
        out["bands"] = _bands(methods, order)
        out["state_bands"] = _bands(state, order)
    out.update(
        {
            "probe_r2_mean": report["probe"]["r2_mean"],
            "random_probe_r2_mean": report["probe"]["random_encoder"]["r2_mean"],
            "probe_r2": report["probe"]["r2"],
            "vpt_threshold": forecast["headline_threshold"],
            "vpt": {m: e["vpt"][eps]["frames"] for m, e in methods.items()},
            "state_vpt": {m: e["vpt"][str(VPT_EPS[0])]["frames"] for m, e in state.items()},
        }
    )
    return out


def _fmt(x: float | None, digits: int = 3) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}g}"


def _cell(v: dict[str, Any] | None) -> str:
    """'frames (Lyapunov times; censored)' of one VPT record."""
    if not v:
        return "—"
    lyap = "" if v.get("lyapunov_times") is None else f"{_fmt(v['lyapunov_times'], 2)} Lt; "
    return f"{_fmt(v['frames'])} ({lyap}{_fmt(v['censored'], 2)} cens.)"


def _band_lines(report: dict[str, Any]) -> list[str]:
    """Per-band VPT table, headline band first: frames (Lyapunov times; censored fraction)."""
    s = report["summary"]
    bands = list(s.get("bands", {}))
    if not bands:
        return []
    settings = report["settings"]
    n = settings["trajectories"]
    share = settings.get("group_fractions", {})
    head = " | ".join(f"{b} ({round(share.get(b, 0) * n)} traj.)" for b in bands)
    forecast = report["forecast"]
    lines = [
        f"VPT per band, {s.get('headline', {}).get('band', bands[0])} (the headline) first, "
        f"at {forecast['headline_threshold']} ({forecast['metric']}; probed positions at "
        f"{VPT_EPS[0]} NRMSE): frames (Lyapunov times of that band; censored fraction)",
        "",
        f"| method | {head} |",
        "|---" * (len(bands) + 1) + "|",
    ]
    for kind, table in (("", s["bands"]), (" (probed positions)", s.get("state_bands", {}))):
        names = list(dict.fromkeys(m for b in bands for m in table.get(b, {})))
        for m in names:
            cells = " | ".join(_cell(table.get(b, {}).get(m)) for b in bands)
            lines.append(f"| {m}{kind} | {cells} |")
    return [*lines, ""]


def format_summary(report: dict[str, Any]) -> str:
    """Markdown: the per-band VPT (headline band first), then VPT over all trajectories per
    method (frames, seconds, Lyapunov times, censored) and probe R² per variable."""
    forecast = report["forecast"]
    probe = report["probe"]
    lines = _band_lines(report)
    lines += [
        "all trajectories:",
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
        v = entry["vpt"][str(VPT_EPS[0])]
        lines.append(
            f"| {name} (probed positions) | {VPT_EPS[0]} | {_fmt(v['frames'])} | "
            f"{_fmt(v['seconds'])} | {_fmt(v['lyapunov_times'])} | {_fmt(v['censored'], 2)} |"
        )
    per_var = ", ".join(f"{k} {v:.2f}" for k, v in probe["r2"].items())
    lines += [
        "",
        f"probe R²: mean {probe['r2_mean']:.3f} ({per_var}); random encoder: "
        f"{probe['random_encoder']['r2_mean']:.3f}",
    ]
    return "\n".join(lines)
