"""Double pendulum physics and rendering, pinned against plain scalar references."""

from __future__ import annotations

import math

import numpy as np
import pytest
from jepa_builtins.datasets.double_pendulum import (
    G,
    energy,
    integrate,
    integrate_reference,
    positions,
    sample_initial,
)
from jepa_builtins.datasets.rendering import (
    BOB1,
    BOB2,
    PIVOT,
    Layout,
    disc_offsets,
    render,
    render_reference,
)


def high_energy_starts(n: int) -> np.ndarray:
    """Starts [n, 4] with E > 10 J, where the motion is chaotic."""
    starts = sample_initial(20 * n, np.random.default_rng(0), math.pi, 2.0)
    return starts[energy(*starts.T) > 10][:n]


def test_energy_is_the_formula_of_evaluation_md():
    assert energy(0.0, 0.0, 0.0, 0.0) == pytest.approx(-3 * G)  # hanging at rest
    assert energy(math.pi, math.pi, 0.0, 0.0) == pytest.approx(3 * G)  # balanced upright
    assert energy(0.0, 0.0, 1.0, 2.0) == pytest.approx(-3 * G + 1 + 2 + 2)


def test_energy_drift_over_10_seconds_is_negligible_with_default_substeps():
    starts = high_energy_starts(16)
    states = integrate(starts, 201)  # 10 s at 0.05 s per frame
    drift = np.abs(energy(*states[:, -1].T) - energy(*starts.T))
    assert drift.max() < 0.01


def test_one_rk4_step_per_frame_loses_far_more_energy():
    """Why ``substeps`` exists: at dt = 0.05 s plain RK4 drifts by joules in 10 s."""
    starts = high_energy_starts(16)
    states = integrate(starts, 201, substeps=1)
    drift = np.abs(energy(*states[:, -1].T) - energy(*starts.T))
    assert np.median(drift) > 0.3


def test_vectorised_integrator_matches_the_scalar_reference():
    starts = sample_initial(4, np.random.default_rng(1), math.pi, 2.0)
    states = integrate(starts, 40)
    for start, trajectory in zip(starts, states, strict=True):
        reference = np.array(integrate_reference(tuple(start), 40))
        np.testing.assert_allclose(trajectory, reference, rtol=0, atol=1e-9)


def test_a_pendulum_at_rest_stays_at_rest():
    states = integrate(np.zeros((1, 4)), 10)
    assert np.abs(states).max() == 0.0


def test_positions_put_the_pivot_at_the_origin_with_y_up():
    hanging = positions(np.array([0.0, 0.0, 0.0, 0.0]))
    np.testing.assert_allclose(hanging, [0.0, -1.0, 0.0, -2.0], atol=1e-12)
    horizontal = positions(np.array([math.pi / 2, math.pi, 0.0, 0.0]))
    np.testing.assert_allclose(horizontal, [1.0, 0.0, 1.0, 1.0], atol=1e-12)


@pytest.mark.parametrize("size", [16, 32, 33, 64])
def test_vectorised_renderer_matches_the_scalar_reference_exactly(size):
    starts = sample_initial(2, np.random.default_rng(2), math.pi, 2.0)
    points = positions(integrate(starts, 3))  # [2, 3, 4]
    frames = render(points, size)
    assert frames.shape == (2, 3, size, size)
    assert frames.dtype == np.uint8
    for i in range(2):
        for t in range(3):
            np.testing.assert_array_equal(frames[i, t], render_reference(points[i, t], size))


@pytest.mark.parametrize("size", [16, 32, 64])
def test_both_arms_fit_inside_the_frame_at_full_reach(size):
    """Arms stretched right, down, left and up: both bobs are whole discs, none clipped."""
    reach = np.array(
        [[1.0, 0.0, 2.0, 0.0], [0.0, -1.0, 0.0, -2.0], [-1.0, 0.0, -2.0, 0.0], [0.0, 1.0, 0.0, 2.0]]
    )
    disc = len(disc_offsets(Layout(size).bob_radius))
    for frame, point in zip(render(reach, size), reach, strict=True):
        np.testing.assert_array_equal(frame, render_reference(point, size))
        assert (frame == BOB1).sum() == (frame == BOB2).sum() == disc
        assert (frame == PIVOT).any()


def test_frames_are_centred_on_the_pivot():
    frame = render(np.array([0.0, -1.0, 0.0, -2.0]), 32)  # hanging straight down
    np.testing.assert_array_equal(frame[:, 1:], frame[:, :0:-1])  # mirror image about column 16
    rows, cols = np.nonzero(frame == PIVOT)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (15, 17, 15, 17)
    assert (frame[:16] == BOB2).sum() == 0 and (frame[16:] == BOB2).sum() > 0
