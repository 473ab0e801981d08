"""benchmarks/bench_long_horizon.py: a finished run scored again over a longer horizon."""

from __future__ import annotations

import pytest

from jepa_framework.core.threads import one_torch_thread
from jepa_framework.testing import run_tiny


@pytest.fixture
def long_horizon(benchmark_script):
    return benchmark_script("bench_long_horizon")


def test_rescore_scores_every_method_over_the_new_horizon_and_leaves_the_run_alone(
    long_horizon, tmp_path
):
    with one_torch_thread():
        run = run_tiny(
            "spiral", tmp_path, "eval.horizon=6", "eval.baselines=false", "output.forecast_frames=4"
        )
        before = (run / "eval.json").read_text()
        scores = long_horizon.rescore(run, 20)
    assert {"jepa", "copy_last", "linear_ar"} <= set(scores)
    assert all(0 <= frames <= 20 and 0 <= censored <= 1 for frames, censored, _ in scores.values())
    assert all(error > 0 for *_, error in scores.values())  # the error at frame 20
    assert max(frames for frames, *_ in scores.values()) > 6  # scored beyond the run's 6 frames
    assert (run / "eval.json").read_text() == before
