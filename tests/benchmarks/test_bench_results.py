"""benchmarks/bench_results.py: tables with mean ± std over seeds, the runs behind them, figures."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def bench(benchmark_script):
    return benchmark_script("bench_results")


def test_quick_benchmark_writes_tables_runs_and_figures(bench, tmp_path):
    readme = (ROOT / "README.md").read_text()
    tables = tmp_path / "tables"
    args = ["--quick", "--modes", "pendulum", "circle", "--seeds", "0,1"]
    args += ["--regularizers", "mse", "--tables-dir", str(tables)]
    assert bench.main([*args, "--out-dir", str(tmp_path / "runs")]) == 0
    assert (ROOT / "README.md").read_text() == readme  # quick never touches README

    runs = tables / "runs" / "pendulum"
    assert sorted(p.name for p in runs.iterdir() if p.is_dir()) == ["mse_seed-0", "mse_seed-1"]
    assert all((runs / "mse_seed-1" / f).is_file() for f in ("eval.json", "metrics.json"))
    info = json.loads((runs / "bench.json").read_text())
    assert info["seeds"] == [0, 1] and info["runs"] == 2 and info["wall_seconds"] > 0

    text = (tables / "pendulum.md").read_text()
    lines = text.splitlines()
    assert lines[0].startswith("| method | seeds | E>10: VPT(0.5), frames | E>10: Lyapunov times")
    for label in ("JEPA + `mse`", "`copy_last`", "`residual_mlp`"):
        (row,) = [line for line in lines if line.startswith(f"| {label} |")]
        assert row.split("|")[2].strip() == "2" and " ± " in row
    assert "--quick --modes pendulum circle" in text and "CPUs (torch" in text
    assert "min wall" in text and "pendulum_forecast.png" in text
    with (tables / "pendulum.csv").open() as f:
        rows = {r["method"]: r for r in csv.DictReader(f)}
    assert rows["JEPA + mse"]["egt10_vpt_0.5_frames_n"] == "2"
    assert float(rows["residual_mlp"]["nrmse_h5_mean"]) > 0
    assert rows["copy_last"]["probe_r2_n"] == "0"
    assert "E<=0" in (tables / "pendulum_bands.md").read_text()
    curves = (tables / "curves.md").read_text()
    assert curves.startswith("| mode | seeds | JEPA + `mse` | `copy_last` |")
    assert "| `circle` | 2 |" in curves
    errors = (tables / "curves_nrmse.md").read_text()
    assert errors.startswith("| mode | seeds | JEPA + `mse` | `copy_last` |")
    (circle,) = [line for line in errors.splitlines() if line.startswith("| `circle` | 2 |")]
    assert all(" ± " in cell for cell in circle.split("|")[3:-1])  # an error for every method
    for mode in ("pendulum", "circle"):
        assert (tables / f"{mode}_forecast.png").read_bytes()[:4] == b"\x89PNG"

    before = {p.name: p.read_text() for p in tables.glob("*.md")}
    assert bench.main(["--tables-only", "--tables-dir", str(tables), "--no-readme"]) == 0
    assert {p.name: p.read_text() for p in tables.glob("*.md")} == before


def test_baselines_are_trained_in_the_first_regularizers_runs_only(bench, tmp_path):
    first, rest = bench.sweeps("pendulum", ["mse", "vicreg", "sigreg"], "0,1,2", False, tmp_path)
    assert "objective.regularizer.name=mse" in first and "seed=0,1,2" in first
    assert bench.NO_BASELINES not in first and not any("epochs" in o for o in first)
    assert bench.WITH_BASELINES in first  # even where the recipe leaves them off
    assert "objective.regularizer.name=vicreg,sigreg" in rest and bench.NO_BASELINES in rest
    assert len(bench.sweeps("circle", ["mse"], "0", True, tmp_path)) == 1
    assert "expected full benchmark: 34 min" in bench.estimate({"pendulum": 9})


def _run(result_tables, regularizer: str, seed: int, report: dict, metrics: dict | None = None):
    metrics = metrics or {"collapsed": False, "embedding": {"rankme": 10.0 + seed}}
    return result_tables.Run(f"{regularizer}_seed-{seed}", regularizer, seed, report, metrics)


def test_lyapunov_times_follow_the_measured_band_times_not_the_runs_record(bench):
    """A run that recorded 14 frames per Lyapunov time is read with the measured 16 (0.80 s)."""
    import result_tables

    report = {
        "settings": {"frame_dt": 0.05, "group_lyapunov_frames": {"E>10": 14.0}},
        "summary": {"bands": {"E>10": {"jepa": {"frames": 48.0, "lyapunov_times": 48 / 14}}}},
    }
    lyapunov_times = result_tables.band_vpt(report, "jepa", "E>10", "lyapunov_times")
    assert lyapunov_times == pytest.approx(48 / 16)


def test_tables_read_the_headline_and_bands_and_give_every_method_a_row(bench):
    from result_tables import pendulum_tables

    def report(seed: int) -> dict:
        band = {"frames": 30.0 + seed, "lyapunov_times": 2.0 + seed, "censored": 0.1}
        entry = {"nrmse": [0.1] * 20, "vpt": {"0.5": {"frames": 50.0}}}
        return {
            "summary": {
                "headline": {
                    "band": "E>10",
                    "vpt": {"jepa": 30.0 + seed, "supervised_x4": 40.0},
                    "lyapunov_times": {"jepa": 2.0 + seed, "supervised_x4": 3.0},
                    "censored": {"jepa": 0.0, "supervised_x4": 0.5},
                },
                "bands": {"E>10": {"jepa": band}, "E<0": {"jepa": {**band, "frames": 99.0}}},
            },
            "forecast": {"methods": {"jepa": entry, "supervised_x4": entry}},
            "probe": {"r2_mean": 0.9, "random_encoder": {"r2_mean": 0.5}},
        }

    import result_tables

    runs = [_run(result_tables, "mse", s, report(s)) for s in (0, 1, 2)]
    main, by_band = pendulum_tables(runs)
    labels = [label for label, _ in main.rows]
    assert labels == ["JEPA + `mse`", "`supervised_x4`"]
    cells = {
        label: [result_tables.fmt(result_tables._numbers(c, m), c.count) for c in main.columns]
        for label, m in main.rows
    }
    assert cells["JEPA + `mse`"][:4] == ["31 ± 1", "3 ± 1", "0.1 ± 0", "50 ± 0"]
    assert cells["`supervised_x4`"][:3] == ["40 ± 0", "3 ± 0", "0.5 ± 0"]
    assert cells["`supervised_x4`"][7] == "—"  # probes are the JEPA's
    assert cells["JEPA + `mse`"][9] == "0/3"  # collapsed in none of 3 seeds
    assert [c.head for c in by_band.columns][::3] == [
        "E>10: VPT(0.5), frames",
        "E<0: VPT(0.5), frames",
    ]


def test_image_table_groups_probes_by_variable_and_reads_the_state_band(bench):
    import result_tables

    report = {
        "probe": {
            "names": ["sin_theta1", "cos_theta1", "omega1"],
            "r2": {"sin_theta1": 0.8, "cos_theta1": 0.6, "omega1": 0.1},
            "random_encoder": {"r2_mean": 0.3},
        },
        "forecast": {"methods": {"jepa": {"vpt": {"0.5": {"frames": 4.0}}}, "random_encoder": {}}},
        "state_forecast": {
            "methods": {"jepa": {"groups": {"E>10": {"frames": 7.0}}, "vpt": {"0.5": {}}}}
        },
    }
    (table,) = result_tables.image_tables([_run(result_tables, "vicreg", 0, report)])
    heads = [c.head for c in table.columns]
    assert heads[:2] == ["R² θ1 (sin, cos)", "R² ω1"] and "probed-state VPT(0.5), E>10" in heads
    values = {c.head: c.get(table.rows[0][1][0][0], "jepa") for c in table.columns}
    assert values["R² θ1 (sin, cos)"] == pytest.approx(0.7)
    assert values["probed-state VPT(0.5), E>10"] == 7.0 and values["pixel VPT(0.5), all"] == 4.0
    assert [label for label, _ in table.rows] == ["JEPA + `vicreg`", "`random_encoder`"]
    (long,) = result_tables.image_tables([_run(result_tables, "vicreg", 0, report)], "long")
    assert long.name == "long" and [c.head for c in long.columns] == heads
