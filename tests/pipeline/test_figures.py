"""Figures and videos read without the README: captions, clipped values marked, counts."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from jepa_framework.datasets.render import CAPTION_HEIGHT, side_by_side
from jepa_framework.evaluate.plots import R2_FLOOR, plot_probe


def test_a_captioned_video_names_both_sides_above_the_panels():
    left = np.zeros((3, 20, 128, 3), dtype=np.uint8)
    right = np.full((3, 20, 128, 3), 128, dtype=np.uint8)
    video = side_by_side(left, right, captions=("truth", "forecast"))
    assert video.shape == (3, CAPTION_HEIGHT + 20, 260, 3)
    band = video[:, :CAPTION_HEIGHT]
    for half in (band[:, :, :128], band[:, :, 132:]):
        assert (half < 100).any(axis=(1, 2, 3)).all()  # dark text on white, in every frame
    assert (video[:, CAPTION_HEIGHT:, :128] == 0).all()
    assert (video[:, CAPTION_HEIGHT:, 132:] == 128).all()
    # the frame counter differs from frame to frame
    assert not np.array_equal(band[0, :, 132:], band[-1, :, 132:])


def test_an_uncaptioned_video_is_just_the_two_panels():
    frames = np.zeros((2, 10, 10, 3), dtype=np.uint8)
    assert side_by_side(frames, frames).shape == (2, 10, 24, 3)


@pytest.fixture
def probe_report():
    ahead = {"k": [0, 1, 2], "r2_mean": [0.9, -66650.0, 0.5]}
    ahead["r2"] = {"a": [0.95, 0.9, 0.8], "b": [0.85, -133300.0, 0.2]}
    return {"probe": {"ahead": ahead, "random_encoder": {"r2_mean": 0.3}}}


def test_a_diverging_probe_curve_is_drawn_on_the_floor_not_off_the_plot(probe_report, tmp_path):
    import matplotlib.pyplot as plt

    path = tmp_path / "probe_r2.png"
    figures = []
    original = plt.Figure.savefig

    def keep(fig, *args, **kwargs):
        figures.append(fig)
        return original(fig, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(plt.Figure, "savefig", keep)
        plot_probe(probe_report, path)
    assert Image.open(path).size[0] > 0
    (ax,) = figures[0].axes
    lowest = min(min(line.get_ydata()) for line in ax.get_lines())
    assert lowest == R2_FLOOR and ax.get_ylim()[0] < R2_FLOOR
    assert "below -1" in ax.get_xlabel()
    assert "k = 0..2" in ax.get_title()
