"""Result tables from the runs ``bench_results.py`` keeps: Markdown and CSV, mean ± std over seeds.

Input: ``<tables>/runs/<mode>/<run>/{config.yaml, eval.json, metrics.json}`` and
``<tables>/runs/<mode>/bench.json`` (the command, date, machine and wall time of that mode's
runs). Output, per table: ``<name>.md`` (the table, how it was made, the figure) and
``<name>.csv`` (mean, std and n per column), beside ``<mode>_forecast.png``.

Rows come from the data: one row per JEPA regularizer, then one per other method found in any
eval.json (every baseline and control, whatever its name), so a new baseline gets a row without
code changes. A baseline does not depend on the JEPA's regularizer, so its row takes one run per
seed. eval.json is read by its newest keys where present (``summary.headline``,
``summary.bands``) and by the older ones otherwise (``forecast.methods[m].groups[band]``,
``forecast.methods[m].vpt``, ``state_forecast``, ``probe``).
"""

from __future__ import annotations

import csv
import json
import re
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from jepa_builtins.datasets.pendulum import BAND_LYAPUNOV_S

from jepa_framework.evaluate.comparison import comparison_panels, plot_comparison

#: the band README leads with, when eval.json does not name one (summary.headline.band)
HEADLINE_BAND = "E>10"
#: the VPT threshold of every VPT column
EPS = "0.5"
#: horizons of the NRMSE columns
HORIZONS = (5, 10, 20)
JEPA = "jepa"
CURVE_MODES = ("circle", "spiral", "lissajous")
BENCH_FILE = "bench.json"


@dataclass(frozen=True)
class Run:
    """One finished run: its regularizer and seed, eval.json ({} if none) and metrics.json."""

    name: str
    regularizer: str
    seed: int
    report: dict[str, Any]
    metrics: dict[str, Any]
    dataset: str = ""  # data.dataset.name of its recipe: which tables describe it


Member = tuple[Run, str]  # a run and the method of it a row reads
Getter = Callable[[Run, str], float | bool | None]


@dataclass(frozen=True)
class Column:
    """A table column: its heading, how to read one (run, method), and how to summarise."""

    head: str
    get: Getter
    count: bool = False  # "k/n" of true values (collapsed) instead of mean ± std


@dataclass
class Table:
    """A named table: columns, rows of (label, members), and the lines written under it."""

    name: str
    columns: list[Column]
    rows: list[tuple[str, list[Member]]]
    first: str = "method"
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- reading runs


def load_runs(mode_dir: Path) -> list[Run]:
    """Every run folder of one mode, in the benchmark's regularizer order, then by seed."""
    runs = []
    for folder in sorted(p for p in mode_dir.iterdir() if (p / "metrics.json").is_file()):
        config = yaml.safe_load((folder / "config.yaml").read_text())
        eval_path = folder / "eval.json"
        runs.append(
            Run(
                name=folder.name,
                regularizer=str(config["objective"]["regularizer"]["name"]),
                seed=int(config.get("seed", 0)),
                report=json.loads(eval_path.read_text()) if eval_path.is_file() else {},
                metrics=json.loads((folder / "metrics.json").read_text()),
                dataset=str(config["data"]["dataset"]["name"]),
            )
        )
    order = bench_info(mode_dir).get("regularizers") or []
    rank = {r: i for i, r in enumerate(order)}
    return sorted(runs, key=lambda r: (rank.get(r.regularizer, len(rank)), r.regularizer, r.seed))


def bench_info(mode_dir: Path) -> dict[str, Any]:
    path = mode_dir / BENCH_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def _get(data: Any, *keys: Any) -> Any:
    for key in keys:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def methods(report: dict[str, Any], section: str = "forecast") -> dict[str, Any]:
    return _get(report, section, "methods") or {}


def headline_band(report: dict[str, Any]) -> str | None:
    """The band the summary leads with; else E>10 (or the first band) of the forecast groups."""
    band = _get(report, "summary", "headline", "band")
    if band:
        return str(band)
    for section in ("forecast", "state_forecast"):
        for entry in methods(report, section).values():
            groups = entry.get("groups") or {}
            if groups:
                return HEADLINE_BAND if HEADLINE_BAND in groups else next(iter(groups))
    return None


def bands(report: dict[str, Any]) -> list[str]:
    """Every band, headline first: summary.bands, else the forecast groups."""
    names = list(_get(report, "summary", "bands") or {})
    for entry in methods(report).values():
        names += [b for b in entry.get("groups") or {} if b not in names]
    head = headline_band(report)
    return ([head] if head in names else []) + [b for b in names if b != head]


#: summary.headline's dictionaries, by the key of a band's entry
HEADLINE_KEYS = {"frames": "vpt", "lyapunov_times": "lyapunov_times", "censored": "censored"}


def measured_lyapunov_frames(report: dict[str, Any], band: str) -> float | None:
    """The band's Lyapunov time in frames as the pendulum datasets declare it now (measured by
    bench_predictability.py), so a table's Lyapunov times follow the code, whatever a run's
    eval.json recorded; ``None`` for a band they do not declare."""
    seconds = BAND_LYAPUNOV_S.get(band)
    frame_dt = _get(report, "settings", "frame_dt")
    return None if seconds is None or not frame_dt else seconds / frame_dt


def band_vpt(report: dict[str, Any], method: str, band: str | None, key: str) -> Any:
    """VPT(0.5) ``key`` (frames, seconds, lyapunov_times, censored) of one band's trajectories."""
    if band is None:
        return None
    lyapunov = measured_lyapunov_frames(report, band) if key == "lyapunov_times" else None
    if lyapunov is not None:
        frames = band_vpt(report, method, band, "frames")
        return None if frames is None else frames / lyapunov
    value = _get(report, "summary", "bands", band, method, key)
    if value is None and _get(report, "summary", "headline", "band") == band:
        value = _get(report, "summary", "headline", HEADLINE_KEYS.get(key, key), method)
    if value is None:
        value = _get(methods(report).get(method), "groups", band, key)
    return value


def band_trajectories(report: dict[str, Any], band: str) -> int | None:
    for method in methods(report):
        n = band_vpt(report, method, band, "trajectories")
        if n is not None:
            return int(n)
    return None


def all_vpt(report: dict[str, Any], method: str, key: str = "frames") -> Any:
    """VPT(0.5) over every trajectory."""
    return _get(methods(report).get(method), "vpt", EPS, key)


def state_vpt(report: dict[str, Any], method: str, band: str | None) -> Any:
    """Probed-state VPT(0.5) in the band (the headline's, else the state groups), else all."""
    if band is not None and _get(report, "summary", "headline", "band") == band:
        value = _get(report, "summary", "headline", "state_vpt", method)
        if value is not None:
            return value
    entry = methods(report, "state_forecast").get(method)
    if band is not None:
        value = _get(entry, "groups", band, "frames")
        if value is not None:
            return value
    return _get(entry, "vpt", EPS, "frames")


def error_at(report: dict[str, Any], method: str, horizon: int | None) -> float | None:
    """Mean NRMSE (or relative pixel error) at a horizon (the curves start at horizon 1; None:
    the last scored frame, which still ranks methods that all reach the horizon)."""
    entry = methods(report).get(method) or {}
    curve = entry.get("nrmse") or entry.get("relative")
    if not curve:
        return None
    if horizon is None:
        return curve[-1]
    return curve[horizon - 1] if len(curve) >= horizon else None


def probe_groups(report: dict[str, Any]) -> dict[str, list[str]]:
    """Probe targets by variable: ``sin_theta1`` and ``cos_theta1`` -> ``theta1``."""
    groups: dict[str, list[str]] = {}
    for name in _get(report, "probe", "names") or list(_get(report, "probe", "r2") or {}):
        groups.setdefault(re.sub(r"^(sin|cos)_", "", name), []).append(name)
    return groups


def probe_r2(report: dict[str, Any], names: list[str], random: bool = False) -> float | None:
    r2 = _get(report, "probe", *(["random_encoder"] if random else []), "r2") or {}
    values = [r2[n] for n in names if r2.get(n) is not None]
    return statistics.fmean(values) if values else None


# ---------------------------------------------------------------- rows and columns


def method_rows(runs: list[Run]) -> list[tuple[str, list[Member]]]:
    """JEPA rows per regularizer, then each other method with one run per seed."""
    rows: list[tuple[str, list[Member]]] = []
    for reg in dict.fromkeys(r.regularizer for r in runs):
        rows.append((f"JEPA + `{reg}`", [(r, JEPA) for r in runs if r.regularizer == reg]))
    others: dict[str, dict[int, Run]] = {}
    for run in runs:
        for section in ("forecast", "state_forecast"):
            for method in methods(run.report, section):
                if method != JEPA:
                    others.setdefault(method, {}).setdefault(run.seed, run)
    for method, by_seed in others.items():
        rows.append((f"`{method}`", [(r, method) for r in by_seed.values()]))
    return rows


def jepa_only(get: Getter) -> Getter:
    """A column only the JEPA has (probes, collapse diagnostics, reconstructions)."""
    return lambda run, method: get(run, method) if method == JEPA else None


def collapse_columns() -> list[Column]:
    def emb(key: str) -> Getter:
        return jepa_only(lambda run, _: _get(run.metrics, "embedding", key))

    return [
        Column("collapsed", jepa_only(lambda run, _: bool(run.metrics.get("collapsed"))), True),
        Column("RankMe", emb("rankme")),
        Column("norm. std", emb("normalised_std")),
        Column("dim std", emb("std_mean")),
    ]


def pendulum_tables(runs: list[Run]) -> list[Table]:
    """The coordinate pendulum: headline band first, then all bands, errors, probes, collapse."""
    reports = [r.report for r in runs if r.report]
    band = next((b for b in map(headline_band, reports) if b), None)
    lead = f"{band}: " if band else ""
    columns = [
        Column(f"{lead}VPT({EPS}), frames", lambda r, m: band_vpt(r.report, m, band, "frames")),
        Column(f"{lead}Lyapunov times", lambda r, m: band_vpt(r.report, m, band, "lyapunov_times")),
        Column(f"{lead}censored", lambda r, m: band_vpt(r.report, m, band, "censored")),
        Column(f"all: VPT({EPS}), frames", lambda r, m: all_vpt(r.report, m)),
        *[Column(f"NRMSE h={h}", lambda r, m, h=h: error_at(r.report, m, h)) for h in HORIZONS],
        Column("probe R²", jepa_only(lambda r, _: _get(r.report, "probe", "r2_mean"))),
        Column(
            "random-enc R²",
            jepa_only(lambda r, _: _get(r.report, "probe", "random_encoder", "r2_mean")),
        ),
        *collapse_columns(),
    ]
    if not band:
        columns = columns[3:]
    tables = [Table("pendulum", columns, method_rows(runs))]
    names = list(dict.fromkeys(b for rep in reports for b in bands(rep)))
    if names:
        band_columns = [
            Column(f"{b}: {label}", lambda r, m, b=b, k=key: band_vpt(r.report, m, b, k))
            for b in names
            for label, key in (
                (f"VPT({EPS}), frames", "frames"),
                ("Lyapunov times", "lyapunov_times"),
                ("censored", "censored"),
            )
        ]
        counts = [(b, band_trajectories(reports[0], b)) for b in names]
        shown = ", ".join(f"{b} {n}" for b, n in counts if n is not None)
        notes = [f"Held-out trajectories per band: {shown}."] if shown else []
        tables.append(Table("pendulum_bands", band_columns, method_rows(runs), notes=notes))
    return tables


def image_bands(report: dict[str, Any]) -> list[str]:
    """The bands of an image run, headline first: the forecast's, else the probed state's."""
    names = bands(report)
    for entry in methods(report, "state_forecast").values():
        names += [b for b in entry.get("groups") or {} if b not in names]
    head = headline_band(report)
    return ([head] if head in names else []) + [b for b in names if b != head]


def band_vpt_columns(names: list[str]) -> list[Column]:
    """Probed-state and pixel VPT of each band, the headline band first: every column of an
    image table is read in one band, so no cell mixes a band with all trajectories."""
    columns = []
    for band in names:
        columns += [
            Column(
                f"probed-state VPT({EPS}), {band}",
                lambda r, m, b=band: state_vpt(r.report, m, b),
            ),
            Column(
                f"pixel VPT({EPS}), {band}",
                lambda r, m, b=band: band_vpt(r.report, m, b, "frames"),
            ),
        ]
    if not names:
        columns.append(
            Column(f"probed-state VPT({EPS}), all", lambda r, m: state_vpt(r.report, m, None))
        )
    return columns


def image_tables(runs: list[Run], name: str = "pendulum_image") -> list[Table]:
    """Frames: probe R² per variable, probed-state and pixel VPT, reconstruction, collapse."""
    reports = [r.report for r in runs if r.report]
    groups = probe_groups(reports[0]) if reports else {}
    probe_columns = [
        Column(
            f"R² {_pretty(var)}" + (" (sin, cos)" if len(names) > 1 else ""),
            jepa_only(lambda r, _, n=names: probe_r2(r.report, n)),
        )
        for var, names in groups.items()
    ]
    columns = [
        *probe_columns,
        Column(
            "random-enc R²",
            jepa_only(lambda r, _: _get(r.report, "probe", "random_encoder", "r2_mean")),
        ),
        *band_vpt_columns(image_bands(reports[0]) if reports else []),
        Column(f"pixel VPT({EPS}), all", lambda r, m: all_vpt(r.report, m)),
        Column("recon MSE", jepa_only(lambda r, _: _get(r.metrics, "decoder", "val_recon_mse"))),
        Column("blank MSE", jepa_only(lambda r, _: _get(r.metrics, "decoder", "val_blank_mse"))),
        *collapse_columns(),
    ]
    return [Table(name, columns, method_rows(runs))]


def curves_table(
    runs_by_mode: dict[str, list[Run]], name: str = "curves", value: Getter | None = None
) -> Table:
    """Curves: one row per mode, one column per method (JEPA per regularizer first) of
    ``value(run, method)``: the VPT unless given."""
    heads: dict[str, None] = {}
    rows = []
    for mode, runs in runs_by_mode.items():
        members: list[Member] = []
        for label, row in method_rows(runs):
            heads[label] = None
            members += [(run, f"{label}\0{method}") for run, method in row]
        rows.append((f"`{mode}`", members))
    read = value or (lambda run, method: all_vpt(run.report, method))
    columns = [Column(head, _curve_cell(head, read)) for head in heads]
    return Table(name, columns, rows, first="mode")


def _curve_cell(head: str, read: Getter) -> Getter:
    def get(run: Run, tagged: str) -> Any:
        label, method = tagged.split("\0")
        return read(run, method) if label == head else None

    return get


def _error_at_the_end(run: Run, method: str) -> float | None:
    return error_at(run.report, method, None)


def _pretty(var: str) -> str:
    return var.replace("theta", "θ").replace("omega", "ω")


# ---------------------------------------------------------------- writing


def _numbers(column: Column, members: Iterable[Member]) -> list[float]:
    values = []
    for run, method in members:
        value = column.get(run, method)
        if value is not None and value == value:  # skip None and NaN
            values.append(float(value))
    return values


def stats(values: list[float]) -> tuple[float, float, int] | None:
    if not values:
        return None
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return statistics.fmean(values), std, len(values)


def fmt(values: list[float], count: bool = False) -> str:
    """``mean ± std`` (a single value alone), ``k/n`` for counts, ``—`` for nothing."""
    if not values:
        return "—"
    if count:
        return f"{int(sum(values))}/{len(values)}"
    mean, std, n = stats(values)
    return f"{mean:.3g}" if n == 1 else f"{mean:.3g} ± {std:.2g}"


SLUG_WORDS = {"²": "2", "θ": "theta", "ω": "omega", ">": "gt", "<": "lt", "=": ""}


def _slug(head: str) -> str:
    """An ASCII CSV field: ``E>10: VPT(0.5), frames`` -> ``egt10_vpt_0.5_frames``."""
    for char, word in SLUG_WORDS.items():
        head = head.replace(char, word)
    return re.sub(r"[^a-z0-9.]+", "_", head.lower()).strip("_")


def write_table(table: Table, tables_dir: Path, footer: list[str]) -> Path:
    """``<name>.md`` (table, notes, footer) and ``<name>.csv`` (mean, std, n per column)."""
    heads = [table.first, "seeds", *(c.head for c in table.columns)]
    lines = [f"| {' | '.join(heads)} |", "|---|---:|" + "---:|" * len(table.columns)]
    records = []
    for label, members in table.rows:
        seeds = len({run.seed for run, _ in members})
        cells = [_numbers(c, members) for c in table.columns]
        if not any(cells):
            continue
        lines.append(
            f"| {label} | {seeds} | "
            + " | ".join(fmt(v, c.count) for v, c in zip(cells, table.columns, strict=True))
            + " |"
        )
        record: dict[str, Any] = {table.first: label.replace("`", ""), "seeds": seeds}
        for column, values in zip(table.columns, cells, strict=True):
            mean, std, n = stats(values) or ("", "", 0)
            slug = _slug(column.head)
            record.update({f"{slug}_mean": mean, f"{slug}_std": std, f"{slug}_n": n})
        records.append(record)
    text = "\n".join([*lines, "", *table.notes, *footer]).rstrip() + "\n"
    md = tables_dir / f"{table.name}.md"
    md.write_text(text)
    with (tables_dir / f"{table.name}.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(dict.fromkeys(k for r in records for k in r)))
        writer.writeheader()
        writer.writerows(records)
    return md


def footer(infos: dict[str, dict[str, Any]], figures: list[str]) -> list[str]:
    """How the table was made: command, date, machine, wall time, seeds; then its figure(s)."""
    lines = []
    for mode, info in infos.items():
        if not info:
            lines.append(f"`{mode}`: no record of how these runs were made.")
            continue
        m = info["machine"]
        failed = info.get("failed") or []
        lines.append(
            f"`{mode}`: `{info['command']}`, {info['date']}, {info['wall_seconds'] / 60:.1f} min "
            f"wall on {m['cpus']} CPUs (torch {m['torch']}, {m['platform']}); seeds "
            f"{', '.join(map(str, info['seeds']))}, mean ± std over seeds"
            + (f"; {len(failed)} run(s) failed: {', '.join(failed)}" if failed else "")
            + "."
        )
    sep = [""] if lines else []
    return [*(line + "  " for line in lines[:-1]), *lines[-1:], *sep, *figures]


def write_figure(mode: str, runs: list[Run], tables_dir: Path, root: Path) -> str | None:
    """``<mode>_forecast.png``: every method's error vs horizon, seeds shaded; its Markdown."""
    labelled, seen = [], set()
    for run in (r for r in runs if r.report):
        report = run.report if run.seed not in seen else _jepa_only_report(run.report)
        seen.add(run.seed)  # baselines: one run per seed, as in the tables
        labelled.append((f"jepa + {run.regularizer}", report))
    panels = comparison_panels(labelled)
    if not panels:
        return None
    seeds = sorted({r.seed for r in runs})
    path = tables_dir / f"{mode}_forecast.png"
    note = f"seeds {', '.join(map(str, seeds))}: mean, min-max shaded"
    plot_comparison(panels, path, title=f"{mode} ({note})")
    try:
        shown = path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        shown = path.name
    return f"![{mode}: error vs horizon for every method]({shown})"


def _jepa_only_report(report: dict[str, Any]) -> dict[str, Any]:
    out = dict(report)
    for section in ("forecast", "state_forecast"):
        if section in report:
            block = report[section]
            kept = {m: e for m, e in (block.get("methods") or {}).items() if m == JEPA}
            out[section] = {**block, "methods": kept}
    return out


def write_all(tables_dir: Path, root: Path) -> list[Path]:
    """Every table and figure from ``tables_dir/runs``; returns the Markdown files written."""
    runs_dir = tables_dir / "runs"
    # bench_results.py's modes hold a bench.json; other scripts keep their runs beside them
    modes = sorted(p.parent.name for p in runs_dir.glob(f"*/{BENCH_FILE}"))
    loaded = {mode: load_runs(runs_dir / mode) for mode in modes}
    loaded = {mode: runs for mode, runs in loaded.items() if runs}
    infos = {mode: bench_info(runs_dir / mode) for mode in loaded}
    figures = {mode: write_figure(mode, runs, tables_dir, root) for mode, runs in loaded.items()}
    written = []
    for mode, runs in loaded.items():
        # by what the runs observe, so a second recipe of a dataset gets its own tables
        if mode == runs[0].dataset == "pendulum":
            tables = pendulum_tables(runs)
        elif runs[0].dataset == "pendulum_image":
            tables = image_tables(runs, mode)
        else:
            continue
        for table in tables:
            figure = [figures[mode]] if figures[mode] and table.name == mode else []
            written.append(write_table(table, tables_dir, footer({mode: infos[mode]}, figure)))
    curves = {mode: loaded[mode] for mode in CURVE_MODES if mode in loaded}
    if curves:
        shown = [f for mode in curves if (f := figures[mode])]
        info = {mode: infos[mode] for mode in curves}
        written.append(write_table(curves_table(curves), tables_dir, footer(info, shown)))
        errors = curves_table(curves, "curves_nrmse", _error_at_the_end)
        written.append(write_table(errors, tables_dir, footer(info, [])))
    return written
