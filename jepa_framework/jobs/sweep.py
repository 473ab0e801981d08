"""`jepa sweep`: run a grid of overrides and compare the runs in one table.

Cells run in this process one after another, or as submitit jobs (see
:mod:`jepa_framework.jobs.launch`).
Each cell's run directory is ``<sweep dir>/<recipe>_<axis values>_<timestamp>``; the grid is
stored in ``sweep_plan.json``, so a rerun in the same folder skips finished cells, resumes
interrupted ones from their checkpoint, and ``jepa sweep --collect DIR`` rebuilds the tables.

An override whose value holds a comma at the top level is a grid axis
(``objective.regularizer.name=mse,vicreg seed=0,1,2``); commas inside brackets, braces or quotes
are YAML, not axes (``tracking=[{name: local}, {name: wandb}]``). Every grid point is validated
before the first run starts. The table reports mean ± std over the ``seed`` axis of collapse
diagnostics, probe R², valid prediction time and reconstruction error, with the baselines of the
runs' evaluations beside them, and ``forecast_by_seed.png`` plots every method's forecast error
against horizon (mean over the seeds, min-max shaded).
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import json
import logging
import math
import re
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from jepa_framework.config.recipe import Recipe, load_recipe
from jepa_framework.core.errors import JepaError
from jepa_framework.jobs.launch import JobOptions, check_options, run_inline, submit
from jepa_framework.pipeline.run import new_run_dir

log = logging.getLogger("jepa_framework")

SEED_KEY = "seed"
#: longest grid-point label in a run name (the recipe's name and a timestamp come on top)
MAX_LABEL = 100
#: the grid of a sweep directory, so a rerun or ``--collect`` needs no recipe
PLAN_FILE = "sweep_plan.json"
#: a run's checkpoint (as jepa_framework.pipeline.checkpoint names it; not imported: that pulls
#: in torch)
CHECKPOINT_NAME = "checkpoint.pt"

#: the sweep's figure: error vs horizon of every method, shaded across runs
FIGURE_FILE = "forecast_by_seed.png"

#: table columns: (key in a run's row, heading)
COLUMNS = (
    ("rankme", "RankMe"),
    ("normalised_std", "norm. std"),
    ("std_mean", "dim std"),
    ("collapsed", "collapsed"),
    ("probe_r2", "probe R²"),
    ("random_probe_r2", "random-enc R²"),
    ("vpt", "VPT"),
    ("state_vpt", "state VPT"),
    ("recon_mse", "recon MSE"),
    ("blank_mse", "blank MSE"),
)


def split_top_level(value: str) -> list[str]:
    """Split on commas outside brackets, braces and quotes: ``a,[b,c]`` -> ``a``, ``[b,c]``."""
    parts, depth, quote, current = [], 0, "", []
    for ch in value:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(ch)
    parts.append("".join(current).strip())
    return parts


def split_axes(overrides: Sequence[str]) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """Fixed overrides and grid axes (key, values) in command-line order.

    A key given as an axis may appear only once (``seed=0,1 seed=2,3`` would keep the last
    axis and silently drop the first; a fixed ``seed=5`` beside ``seed=0,1`` would be
    overridden), and an axis may not repeat a value (``seed=0,0`` would run one recipe twice
    and count it as two seeds): both are refused.
    """
    fixed, axes = [], []
    for text in overrides:
        key, sep, value = text.partition("=")
        values = split_top_level(value) if sep else [value]
        if len(values) > 1:
            if any(not v for v in values):
                raise JepaError(f"sweep axis '{text}' has an empty value.")
            repeated = sorted({v for v in values if values.count(v) > 1})
            if repeated:
                raise JepaError(
                    f"sweep axis '{key.strip()}' repeats the value(s) "
                    f"{', '.join(repr(v) for v in repeated)}; each run of a sweep must differ, "
                    f"so give every value once."
                )
            axes.append((key.strip(), values))
        else:
            fixed.append(text)
    _check_unrepeated(fixed, axes)
    return fixed, axes


def _check_unrepeated(fixed: list[str], axes: list[tuple[str, list[str]]]) -> None:
    """Refuse an axis key given twice, or given as a fixed override as well."""
    fixed_keys = {text.partition("=")[0].strip() for text in fixed}
    seen: set[str] = set()
    for key, values in axes:
        if key in seen:
            given = [",".join(v) for k, v in axes if k == key]
            raise JepaError(
                f"sweep key '{key}' is given more than once ({' and '.join(given)}); only the "
                f"last would be used. Give it once with every value: "
                f"{key}={','.join(dict.fromkeys(v for k, vs in axes if k == key for v in vs))}."
            )
        if key in fixed_keys:
            raise JepaError(
                f"sweep key '{key}' is both a grid axis ({key}={','.join(values)}) and a fixed "
                f"override; the axis would override it. Give the key once."
            )
        seen.add(key)


def short_key(key: str) -> str:
    """``objective.regularizer.name`` -> ``regularizer``; ``train.lr`` -> ``lr``."""
    parts = key.split(".")
    return parts[-2] if parts[-1] == "name" and len(parts) > 1 else parts[-1]


@attrs.frozen
class Point:
    """One grid point: its axis values and its resolved recipe."""

    values: dict[str, str]
    recipe: Recipe

    @property
    def label(self) -> str:
        text = "_".join(f"{short_key(k)}-{v}" for k, v in self.values.items())
        label = re.sub(r"[^A-Za-z0-9.=_-]+", "-", text) or "run"
        if len(label) > MAX_LABEL:  # run names are at most 200 characters; keep it unique
            digest = hashlib.sha256(text.encode()).hexdigest()[:10]
            label = f"{label[: MAX_LABEL - 11]}-{digest}"
        return label


def plan(recipe: str, overrides: Sequence[str], registries: Any) -> list[Point]:
    """Every grid point's recipe, validated up front so a typo fails before any training."""
    fixed, axes = split_axes(overrides)
    points: list[Point] = []
    for combo in itertools.product(*(values for _, values in axes)):
        values = {key: value for (key, _), value in zip(axes, combo, strict=True)}
        point_overrides = fixed + [f"{k}={v}" for k, v in values.items()]
        resolved, _ = load_recipe(recipe, point_overrides, registries)
        same = next((p for p in points if p.recipe == resolved), None)
        if same is not None:  # e.g. seed=0,00: two spellings of one value
            differ = ", ".join(
                f"{k}={same.values[k]} and {k}={values[k]}"
                for k in values
                if values[k] != same.values[k]
            )
            raise JepaError(
                f"sweep values {differ} give the same recipe, so the sweep would run it twice "
                f"and count it as two runs; give each value once."
            )
        points.append(Point(values, resolved))
    return points


def run_sweep(
    recipe: str,
    overrides: Sequence[str],
    host: Any,
    sweep_dir: Path | None = None,
    launcher: str = "inline",
    options: JobOptions | None = None,
    wait: bool = True,
) -> tuple[Path, str | None]:
    """Run every grid point not yet finished; returns the sweep directory and its Markdown table.

    In an existing ``sweep_dir``, finished cells are skipped and interrupted ones (a checkpoint,
    no metrics.json) resumed. ``launcher`` is ``inline`` (this process, one after another),
    ``local`` or ``slurm`` (one submitit job per cell). A cell that fails with a user-facing
    error (e.g. a non-finite loss) is recorded as failed and the sweep goes on. Detached
    (``wait=False``), nothing is collected and the table is ``None``:
    :func:`collect_sweep` writes it once the jobs end.
    """
    options = options or JobOptions()
    check_options(launcher, options, detach=not wait)
    points = plan(recipe, overrides, host)
    base = points[0].recipe
    if sweep_dir is None:
        sweep_dir = new_run_dir(Path(base.output.dir), f"sweep_{base.name}")
    sweep_dir.mkdir(parents=True, exist_ok=True)
    fixed, _ = split_axes(overrides)
    source = str(Path(recipe).resolve()) if Path(recipe).is_file() else recipe
    cells = [
        {
            "name": f"{base.name}_{p.label}",
            "values": p.values,
            "overrides": fixed + [f"{k}={v}" for k, v in p.values.items()],
        }
        for p in points
    ]
    plan_data = {"recipe": source, "overrides": list(overrides), "axes": list(points[0].values)}
    (sweep_dir / PLAN_FILE).write_text(json.dumps({**plan_data, "cells": cells}, indent=2) + "\n")
    tasks = []
    for cell in cells:
        status, run_dir = cell_status(sweep_dir, cell["name"])
        if status == "finished":
            log.info("sweep: %s finished before (%s); skipped", cell["name"], run_dir)
            continue
        if status == "interrupted":
            log.info("sweep: %s was interrupted; resuming %s", cell["name"], run_dir)
        args = (source, cell["overrides"], cell["name"], str(sweep_dir))
        tasks.append((cell["name"], run_cell, args))
    log.info("sweep of %d runs into %s: %d to run", len(cells), sweep_dir, len(tasks))
    if launcher == "inline":
        errors: dict[str, str | None] | None = run_inline(tasks)
    elif tasks:
        errors = submit(tasks, launcher, options, sweep_dir / "jobs", wait)
    else:
        errors = {}
    if errors is None:
        return sweep_dir, None
    return sweep_dir, collect_sweep(sweep_dir, errors)


def cell_runs(sweep_dir: Path, name: str) -> list[Path]:
    """The run directories of one cell (``<name>_<timestamp>``), oldest first."""
    pattern = re.compile(re.escape(name) + r"_\d{8}-\d{6}(-\d+)?")
    return sorted(p for p in sweep_dir.iterdir() if p.is_dir() and pattern.fullmatch(p.name))


def cell_status(sweep_dir: Path, name: str) -> tuple[str, Path | None]:
    """``finished`` (metrics.json), ``interrupted`` (a checkpoint to resume) or ``new``."""
    runs = cell_runs(sweep_dir, name)
    for run_dir in runs:
        if (run_dir / "metrics.json").exists():
            return "finished", run_dir
    for run_dir in reversed(runs):
        if (run_dir / CHECKPOINT_NAME).exists():
            return "interrupted", run_dir
    return "new", None


def run_cell(recipe: str, overrides: list[str], name: str, sweep_dir: str) -> str:
    """One cell, in this process or in a job: skip it if finished, resume it, or start it."""
    from jepa_framework.jobs.runner import run_recipe
    from jepa_framework.plugin.host import host

    directory = Path(sweep_dir)
    status, run_dir = cell_status(directory, name)
    if status == "finished":
        return str(run_dir)
    if status == "interrupted":
        resumed, _ = load_recipe(str(run_dir / "config.yaml"), registries=host())
        return str(run_recipe(resumed, host(), resume_dir=run_dir))
    resolved, _ = load_recipe(recipe, overrides, host())
    resolved = attrs.evolve(
        resolved, name=name, output=attrs.evolve(resolved.output, dir=str(directory))
    )
    return str(run_recipe(resolved, host()))


def collect_sweep(sweep_dir: Path, errors: dict[str, str | None] | None = None) -> str:
    """Write the comparison tables of a sweep directory from the cells that finished.

    A cell without a finished run is counted as failed, with the error its job reported, or
    "not finished" (still running, or interrupted: rerun the sweep to resume it).
    """
    plan_path = sweep_dir / PLAN_FILE
    if not plan_path.is_file():
        raise JepaError(
            f"{sweep_dir} is not a sweep directory (it holds no {PLAN_FILE}); give the folder "
            f"`jepa sweep` printed."
        )
    plan_data = json.loads(plan_path.read_text())
    errors = errors or {}
    rows, unfinished = [], []
    for cell in plan_data["cells"]:
        row: dict[str, Any] = dict(cell["values"])
        status, run_dir = cell_status(sweep_dir, cell["name"])
        if status == "finished":
            row.update(collect(run_dir))
        else:
            row["failed"] = errors.get(cell["name"]) or "not finished"
            unfinished.append(cell["name"])
        rows.append(row)
    if unfinished:
        log.warning(
            "sweep: %d of %d runs have not finished (%s); rerun the sweep with --sweep-dir %s to "
            "resume them",
            len(unfinished),
            len(rows),
            ", ".join(unfinished),
            sweep_dir,
        )
    return write_tables(rows, plan_data["axes"], sweep_dir)


def collect(run_dir: Path) -> dict[str, Any]:
    """One run's numbers from metrics.json and (when evaluated) eval.json."""
    metrics = json.loads((run_dir / "metrics.json").read_text())
    emb, dec = metrics.get("embedding", {}), metrics.get("decoder", {})
    row: dict[str, Any] = {
        "run_dir": str(run_dir),
        "rankme": emb.get("rankme"),
        "normalised_std": emb.get("normalised_std"),
        "std_mean": emb.get("std_mean"),
        "collapsed": float(bool(metrics.get("collapsed"))),
        "recon_mse": dec.get("val_recon_mse"),
        "blank_mse": dec.get("val_blank_mse"),
    }
    eval_path = run_dir / "eval.json"
    if eval_path.exists():
        s = json.loads(eval_path.read_text())["summary"]
        row.update(
            probe_r2=s["probe_r2_mean"],
            random_probe_r2=s["random_probe_r2_mean"],
            vpt=s["vpt"].get("jepa"),
            state_vpt=s["state_vpt"].get("jepa"),
            vpt_threshold=s["vpt_threshold"],
        )
        row["baselines"] = {m: v for m, v in s["vpt"].items() if m != "jepa"}
        row["state_baselines"] = {m: v for m, v in s["state_vpt"].items() if m != "jepa"}
    return row


def _stats(values: list[Any]) -> tuple[float, float | None] | None:
    """(mean, std) of the numbers among ``values``; the std is ``None`` for a single number,
    which has no spread to report (a "± 0" would claim one)."""
    nums = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    if not nums:
        return None
    return statistics.fmean(nums), statistics.stdev(nums) if len(nums) > 1 else None


def _cell(stat: tuple[float, float | None] | None) -> str:
    if stat is None:
        return "—"
    mean, std = stat
    return f"{mean:.3g}" if std is None else f"{mean:.3g} ± {std:.2g}"


def _groups(rows: list[dict[str, Any]], keys: list[str]) -> dict[tuple, list[dict[str, Any]]]:
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(row[k] for k in keys), []).append(row)
    return groups


def write_tables(rows: list[dict[str, Any]], axes: list[str], sweep_dir: Path) -> str:
    """results.md, results.csv (mean and std per group), runs.csv and sweep.json."""
    keys = [a for a in axes if a != SEED_KEY]
    heads = [short_key(k) for k in keys] or ["recipe"]
    groups = _groups(rows, keys)
    md = [
        f"| {' | '.join(heads)} | runs | failed | {' | '.join(h for _, h in COLUMNS)} |",
        "|" + "---|" * (len(heads) + 2 + len(COLUMNS)),
    ]
    csv_rows = []
    for group, members in groups.items():
        ok = [r for r in members if "failed" not in r]
        stats = {key: _stats([r.get(key) for r in ok]) for key, _ in COLUMNS}
        names = [str(v) for v in group] or ["all"]
        md.append(
            f"| {' | '.join(names)} | {len(members)} | {len(members) - len(ok)} | "
            + " | ".join(_cell(stats[key]) for key, _ in COLUMNS)
            + " |"
        )
        entry: dict[str, Any] = dict(zip(heads, names, strict=True))
        entry.update(runs=len(members), failed=len(members) - len(ok))
        for key, _ in COLUMNS:
            mean, std = stats[key] or ("", "")
            entry[f"{key}_mean"], entry[f"{key}_std"] = mean, "" if std is None else std
        csv_rows.append(entry)
    md.extend(_baseline_rows(rows, len(heads)))
    text = "\n".join(md) + "\n"
    (sweep_dir / "results.md").write_text(text)
    _write_csv(sweep_dir / "results.csv", csv_rows)
    flat = [{k: v for k, v in r.items() if not isinstance(v, dict)} for r in rows]
    _write_csv(sweep_dir / "runs.csv", flat)
    (sweep_dir / "sweep.json").write_text(json.dumps({"axes": axes, "runs": rows}, indent=2))
    write_figure(rows, keys, sweep_dir / FIGURE_FILE)
    return text


def write_figure(rows: list[dict[str, Any]], keys: list[str], path: Path) -> Path | None:
    """Error vs horizon of every method over the evaluated runs (JEPA: one line per group)."""
    from jepa_framework.evaluate.comparison import comparison_panels, plot_comparison

    runs = []
    for row in rows:
        eval_path = Path(row["run_dir"]) / "eval.json" if "run_dir" in row else None
        if eval_path is None or not eval_path.is_file():
            continue
        label = ", ".join(f"{short_key(k)}={row[k]}" for k in keys)
        runs.append((f"jepa ({label})" if label else "jepa", json.loads(eval_path.read_text())))
    panels = comparison_panels(runs)
    if not panels:
        return None
    seeds = sorted({str(r[SEED_KEY]) for r in rows if SEED_KEY in r})
    note = f"seeds {', '.join(seeds)}: mean, min-max shaded" if seeds else "mean, min-max shaded"
    return plot_comparison(panels, path, title=f"{path.parent.name} ({note})")


def _baseline_rows(rows: list[dict[str, Any]], n_heads: int) -> list[str]:
    """Baseline VPTs over every evaluated run, in the VPT and state-VPT columns."""
    vpt_col = [k for k, _ in COLUMNS].index("vpt")
    out = []
    methods = {m for r in rows for m in r.get("baselines", {})}
    state = {m for r in rows for m in r.get("state_baselines", {})}
    for method in sorted(methods | state):
        cells = ["—"] * len(COLUMNS)
        cells[vpt_col] = _cell(_stats([r.get("baselines", {}).get(method) for r in rows]))
        cells[vpt_col + 1] = _cell(_stats([r.get("state_baselines", {}).get(method) for r in rows]))
        runs = sum(
            1
            for r in rows
            if method in r.get("baselines", {}) or method in r.get("state_baselines", {})
        )
        name = [f"baseline: {method}"] + [""] * (n_heads - 1)
        out.append(f"| {' | '.join(name)} | {runs} | | {' | '.join(cells)} |")
    return out


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    fields = list(dict.fromkeys(k for r in rows for k in r))
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
