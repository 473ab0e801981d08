"""benchmarks/bench_ablations.py: valid lever overrides, tables with mean ± std over seeds."""

from __future__ import annotations

import pytest

from jepa_framework.config.recipe import load_recipe


@pytest.fixture
def ablations(benchmark_script):
    return benchmark_script("bench_ablations")


def test_every_row_is_a_valid_override_set_and_one_is_the_shipped_recipe(ablations):
    for mode, rows in ablations.LEVERS.items():
        assert any(not overrides for _, overrides in rows), f"{mode}: no shipped-recipe row"
        for _, overrides in rows:
            recipe, _ = load_recipe(mode, [*overrides, *ablations.QUIET])
            assert recipe.eval.baselines is False


def test_table_gives_mean_and_std_per_row_and_keeps_negative_results(ablations, tmp_path):
    def seed(vpt: float, nrmse: float = 0.02) -> dict:
        return {"vpt": vpt, "nrmse": nrmse, "r2": 0.9, "collapsed": False, "minutes": 1.0}

    results = [
        {"row": 1, "seeds": [seed(7), seed(6), seed(7)]},
        {"row": 4, "seeds": [seed(170), seed(160), seed(180)]},
        {"row": 5, "seeds": [seed(40, 0.1), seed(44, 0.3), seed(42, 0.2)]},
    ]
    path = ablations.write("circle", results, "footer line", tmp_path)
    text = path.read_text()
    assert "| 1 | previous recipe" in text and "6.67 ± 0.58" in text
    assert "170 ± 10" in text and "42 ± 2 | 0.2 ± 0.1 |" in text
    assert "`objective.rollout_steps=4`" in text and text.rstrip().endswith("footer line")
    assert (tmp_path / "ablations_circle.csv").read_text().count("\n") == 4


def test_headline_reads_the_band_where_there_is_one(ablations):
    band = {"summary": {"headline": {"vpt": {"jepa": 56.0, "copy_last": 2}}}}
    plain = {"summary": {}, "forecast": {"methods": {"jepa": {"vpt": {"0.5": {"frames": 9}}}}}}
    assert ablations.headline(band) == 56.0 and ablations.headline(plain) == 9.0
