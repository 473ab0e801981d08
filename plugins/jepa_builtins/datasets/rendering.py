"""Fast double-pendulum frames as indexed colour: uint8 [..., S, S], 0 = background.

Frames hold small part labels rather than colours so that 10k x 30 frames at 32 px take 307 MB
instead of 920 MB for RGB; :data:`PALETTE_RGB` / :data:`PALETTE_GRAY` turn labels into colours per
batch. Parts are stamped at integer pixels with one fancy-index assignment per part, in label
order, so a pixel covered by several parts shows the largest label (bobs above rods above the
pivot). :func:`render_reference` defines the same picture pixel by pixel, for tests.
"""

from __future__ import annotations

import math

import attrs
import numpy as np

BACKGROUND, PIVOT, ROD1, ROD2, BOB1, BOB2 = range(6)

#: colour of each label, [6, 3] in [0, 1]: black background, grey rods, red and blue bobs
PALETTE_RGB = np.array(
    [
        [0.0, 0.0, 0.0],
        [0.8, 0.8, 0.8],
        [0.6, 0.6, 0.6],
        [0.45, 0.45, 0.45],
        [0.95, 0.3, 0.2],
        [0.2, 0.5, 0.95],
    ],
    dtype=np.float32,
)
#: a distinct grey level per label, [6, 1]
PALETTE_GRAY = np.array([[0.0], [0.7], [0.5], [0.4], [1.0], [0.85]], dtype=np.float32)


def disc_offsets(radius: int) -> np.ndarray:
    """Integer (dy, dx) [K, 2] with dy^2 + dx^2 <= radius^2 + radius (a round-looking disc)."""
    r = np.arange(-radius, radius + 1)
    dy, dx = np.meshgrid(r, r, indexing="ij")
    inside = dy**2 + dx**2 <= radius * radius + radius
    return np.stack([dy[inside], dx[inside]], axis=-1)


@attrs.frozen
class Layout:
    """Where things go in an S x S frame: the pivot sits at the centre pixel, y points up, and
    the full reach of both arms (length 2) plus a bob fits inside with a pixel to spare."""

    size: int

    @property
    def centre(self) -> int:
        return self.size // 2

    @property
    def bob_radius(self) -> int:
        return max(1, self.size // 16)

    @property
    def rod_radius(self) -> int:
        return max(0, self.size // 32 - 1)

    @property
    def pivot_radius(self) -> int:
        return max(1, self.bob_radius // 2)

    @property
    def scale(self) -> float:
        """Pixels per unit length."""
        return (self.centre - self.bob_radius - 1) / 2.0

    @property
    def rod_fractions(self) -> np.ndarray:
        """Points sampled along a rod, spaced at most one pixel apart so the line has no gaps."""
        return np.linspace(0.0, 1.0, math.ceil(self.scale) + 1)


def _to_pixels(points: np.ndarray, layout: Layout) -> tuple[np.ndarray, np.ndarray]:
    """Bob positions [F, 4] (x1, y1, x2, y2) -> float (row, col) [F, 3] of pivot, bob1, bob2."""
    c, s = float(layout.centre), layout.scale
    f = points.shape[0]
    cols = np.stack([np.full(f, c), c + points[:, 0] * s, c + points[:, 2] * s], axis=-1)
    rows = np.stack([np.full(f, c), c - points[:, 1] * s, c - points[:, 3] * s], axis=-1)
    return rows, cols


def _round(v: np.ndarray) -> np.ndarray:
    return np.floor(v + 0.5).astype(np.intp)


def render(points: np.ndarray, size: int, chunk: int = 16384) -> np.ndarray:
    """Indexed frames uint8 [..., S, S] from bob positions [..., 4] (x1, y1, x2, y2), any floats."""
    layout = Layout(size)
    lead = points.shape[:-1]
    flat_points = np.asarray(points, dtype=np.float64).reshape(-1, 4)
    out = np.empty((flat_points.shape[0], size, size), dtype=np.uint8)
    out[:] = _pivot_frame(layout)
    for start in range(0, flat_points.shape[0], chunk):
        _stamp_parts(out[start : start + chunk], flat_points[start : start + chunk], layout)
    return out.reshape(*lead, size, size)


def _pivot_frame(layout: Layout) -> np.ndarray:
    """The static part of every frame: background with the pivot, uint8 [S, S]."""
    frame = np.zeros((layout.size, layout.size), dtype=np.uint8)
    dy, dx = disc_offsets(layout.pivot_radius).T
    frame[layout.centre + dy, layout.centre + dx] = PIVOT
    return frame


def _stamp_parts(out: np.ndarray, points: np.ndarray, layout: Layout) -> None:
    """Draw rods then bobs of frames ``points`` [F, 4] into ``out`` [F, S, S], in place."""
    size = layout.size
    rows, cols = _to_pixels(points, layout)
    base = np.arange(points.shape[0], dtype=np.intp)[:, None] * (size * size)  # [F, 1]
    flat = out.reshape(-1)
    f = layout.rod_fractions  # [K]
    rod_disc = disc_offsets(layout.rod_radius)
    rod_offsets = rod_disc[:, 0] * size + rod_disc[:, 1]  # [R]
    for label, a, b in ((ROD1, 0, 1), (ROD2, 1, 2)):
        r = _round(rows[:, a, None] + f * (rows[:, b, None] - rows[:, a, None]))  # [F, K]
        c = _round(cols[:, a, None] + f * (cols[:, b, None] - cols[:, a, None]))
        centres = base + r * size + c  # [F, K]
        flat[(centres[:, :, None] + rod_offsets).reshape(-1)] = label
    bob_disc = disc_offsets(layout.bob_radius)
    bob_offsets = bob_disc[:, 0] * size + bob_disc[:, 1]  # [B]
    for label, j in ((BOB1, 1), (BOB2, 2)):
        centres = base[:, 0] + _round(rows[:, j]) * size + _round(cols[:, j])  # [F]
        flat[(centres[:, None] + bob_offsets).reshape(-1)] = label


def render_reference(point: tuple[float, float, float, float], size: int) -> np.ndarray:
    """One frame, pixel by pixel with python floats: each pixel gets the largest label of the
    parts covering it. Slow and plain, to check :func:`render`; uint8 [S, S]."""
    layout = Layout(size)
    c, s = float(layout.centre), layout.scale
    x1, y1, x2, y2 = (float(v) for v in point)
    pivot = (c, c)
    bob1 = (c - y1 * s, c + x1 * s)
    bob2 = (c - y2 * s, c + x2 * s)
    fractions = [float(v) for v in layout.rod_fractions]
    parts = [
        (PIVOT, [pivot], layout.pivot_radius),
        (ROD1, [_lerp(pivot, bob1, t) for t in fractions], layout.rod_radius),
        (ROD2, [_lerp(bob1, bob2, t) for t in fractions], layout.rod_radius),
        (BOB1, [bob1], layout.bob_radius),
        (BOB2, [bob2], layout.bob_radius),
    ]
    frame = np.zeros((size, size), dtype=np.uint8)
    for i in range(size):
        for j in range(size):
            for label, centres, radius in parts:
                for cy, cx in centres:
                    dy, dx = i - math.floor(cy + 0.5), j - math.floor(cx + 0.5)
                    if dy * dy + dx * dx <= radius * radius + radius:
                        frame[i, j] = label
                        break
    return frame


def _lerp(a: tuple[float, float], b: tuple[float, float], t: float) -> tuple[float, float]:
    return a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])
