"""benchmarks/bench_oscillator_raw.py: the oscillator alone on raw coordinates, as README says."""

from __future__ import annotations

from pathlib import Path

import pytest

from jepa_framework.threads import one_torch_thread

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def raw(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import bench_oscillator_raw

    return bench_oscillator_raw


def test_plain_fit_forecasts_lissajous_to_the_horizon_and_growing_fit_does_not(raw):
    with one_torch_thread():
        plain, censored, horizon, frames = raw.raw_vpt("lissajous", None, growing=False)
        growing = raw.raw_vpt("lissajous", None, growing=True)[0]
    assert plain == horizon == 500 and censored > 0.9 and frames == 4
    assert growing < 10  # the fourth-order fit amplifies the stored coordinates' rounding
