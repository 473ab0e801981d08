"""benchmarks/bench_long_horizon.py: a finished run scored again over a longer horizon."""

from __future__ import annotations

import pytest

from jepa_framework.core.threads import one_torch_thread
from jepa_framework.testing import OSCILLATOR_NETWORKS, run_tiny

#: the spiral with a linear frame encoder and the parameter-free growing oscillator
OSCILLATOR = (
    "data.history=8",
    *OSCILLATOR_NETWORKS,
    "model.predictor.growing=true",
    "decoder_train.solver=least_squares",
    "output.forecast_frames=4",
)


@pytest.fixture
def long_horizon(benchmark_script):
    return benchmark_script("bench_long_horizon")


def test_rescore_scores_every_method_over_the_new_horizon_and_leaves_the_run_alone(
    long_horizon, tmp_path
):
    with one_torch_thread():
        # the parameter-free growing oscillator reaches far at tiny sizes, so a rescore beyond
        # the run's horizon shows in its VPT
        run = run_tiny("spiral", tmp_path, *OSCILLATOR, "eval.horizon=6", "eval.baselines=false")
        before = (run / "eval.json").read_text()
        scores = long_horizon.rescore(run, 20)
    assert {"jepa", "copy_last", "linear_ar"} <= set(scores)
    assert all(0 <= frames <= 20 and 0 <= censored <= 1 for frames, censored, _ in scores.values())
    assert all(error > 0 for *_, error in scores.values())  # the error at frame 20
    assert max(frames for frames, *_ in scores.values()) > 6  # scored beyond the run's 6 frames
    assert (run / "eval.json").read_text() == before
