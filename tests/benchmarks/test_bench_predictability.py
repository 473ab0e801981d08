"""benchmarks/bench_predictability.py: Benettin's estimate of the largest Lyapunov exponent."""

from __future__ import annotations

import math

import numpy as np
import pytest
from jepa_builtins.datasets.double_pendulum import energy


@pytest.fixture
def predictability(benchmark_script):
    return benchmark_script("bench_predictability")


def test_benettin_recovers_the_largest_growth_rate_of_a_linear_map(predictability):
    """At the fixed point of x -> A x, A with growth 3, 0.5, 0.2 along rotated axes: exponent
    ln 3 per step, although each neighbour starts in a random direction (the warm-up aligns
    it to (0.5 / 3)^5 = 1e-4, so the log growth after it is ln 3 to about 1e-8)."""
    rotation = np.linalg.qr(np.random.default_rng(0).standard_normal((3, 3)))[0]
    a = rotation @ np.diag([3.0, 0.5, 0.2]) @ rotation.T
    rng = np.random.default_rng(2)
    exponents = predictability.benettin(lambda x: x @ a.T, np.zeros((5, 3)), 40, 5, rng)
    np.testing.assert_allclose(exponents, math.log(3.0), rtol=1e-6)


def test_a_contracting_map_has_a_negative_exponent(predictability):
    rng = np.random.default_rng(0)
    exponents = predictability.benettin(lambda x: 0.5 * x, np.zeros((2, 4)), 10, 0, rng)
    np.testing.assert_allclose(exponents, math.log(0.5), rtol=1e-9)


def test_the_small_pendulum_is_regular_and_the_energetic_one_chaotic(predictability):
    """Small swings separate only linearly, so their finite-time exponent is near 0; starts of
    E > 10 separate exponentially, at a median of about one e-fold per second (a few of them
    lie on regular islands, hence the median)."""
    starts = np.random.default_rng(0).uniform(0.0, 2.0 * math.pi, size=(24, 4))
    starts = np.concatenate([[[0.05, -0.05, 0.0, 0.0]], starts])
    energetic = energy(*starts.T) > 10
    exponents = predictability.band_exponents(starts, seconds=10.0, renorm=2, warmup_s=2.0)
    assert abs(exponents[0]) < 0.1
    assert np.median(exponents[energetic]) > 0.7
