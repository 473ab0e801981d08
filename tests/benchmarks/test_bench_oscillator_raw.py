"""benchmarks/bench_oscillator_raw.py: the oscillator alone on raw coordinates, as README says."""

from __future__ import annotations

import pytest

from jepa_framework.core.threads import one_torch_thread


@pytest.fixture
def raw(benchmark_script):
    return benchmark_script("bench_oscillator_raw")


def test_plain_fit_forecasts_lissajous_to_the_horizon_and_growing_fit_does_not(raw):
    with one_torch_thread():
        plain, censored, horizon, frames, error = raw.raw_vpt("lissajous", None, growing=False)
        growing = raw.raw_vpt("lissajous", None, growing=True)[0]
    assert plain == horizon == 500 and censored > 0.9 and frames == 4 and 0 < error < 0.5
    assert growing < 50  # the fourth-order fit amplifies the stored (float32) coordinates' rounding
