"""Drawing helpers: video frames, comparison plots and the mp4 writer.

The writers here write exactly the path they are given and raise ``OSError`` when that fails
(ffmpeg's own failures included); the run's artifact writers give them a temporary path and
rename it into place (:func:`jepa_framework.pipeline.checkpoint.atomic_path`).
"""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

TRUTH_COLOUR = (40, 160, 255)
PRED_COLOUR = (255, 120, 40)


def _figure(rows: int, cols: int, size: tuple[float, float]):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(rows, cols, figsize=size, squeeze=False)
    return plt, fig, axes


def draw_points(
    obs: np.ndarray,
    size: int,
    extent: float,
    overlay: Callable[[ImageDraw.ImageDraw, np.ndarray, int], None] | None = None,
) -> np.ndarray:
    """Vector observations [T, 2P] (P points) -> uint8 RGB frames [T, size, size, 3].

    An odd last coordinate (a velocity beside a position, as Pendulum-v1 observes) is left out
    of the drawing; a single coordinate is drawn on the horizontal axis.

    Each point leaves a fading trail; ``overlay(draw, points_px [P, 2], size)``, when given,
    draws extra marks (a dataset's own, e.g. a pendulum's rods) under the points.
    """
    t_len, dim = obs.shape
    if dim == 1:
        obs, dim = np.concatenate([obs, np.zeros_like(obs)], 1), 2
    pts = obs[:, : dim - dim % 2].reshape(t_len, dim // 2, 2)
    pix = (pts * np.array([1.0, -1.0]) / extent * 0.5 + 0.5) * (size - 1)
    r = max(2, size // 40)
    frames = np.empty((t_len, size, size, 3), dtype=np.uint8)
    for t in range(t_len):
        img = Image.new("RGB", (size, size), (12, 12, 16))
        draw = ImageDraw.Draw(img)
        for p in range(pix.shape[1]):
            trail = [tuple(xy) for xy in pix[max(0, t - 30) : t + 1, p]]
            if len(trail) > 1:
                draw.line(trail, fill=(90, 90, 110), width=1)
        if overlay is not None:
            overlay(draw, pix[t], size)
        for p in range(pix.shape[1]):
            x, y = pix[t, p]
            draw.ellipse((x - r, y - r, x + r, y + r), fill=(240, 200, 60))
        frames[t] = np.asarray(img)
    return frames


def upscale_frames(obs: torch.Tensor, size: int) -> np.ndarray:
    """Float frames [T, C, S, S] in [0, 1] -> uint8 RGB frames, upscaled (nearest) to ~size."""
    frames = obs.clamp(0, 1).mul(255).round().to(torch.uint8)
    if frames.shape[1] == 1:
        frames = frames.expand(-1, 3, -1, -1)
    scale = max(1, size // frames.shape[-1])
    frames = frames.repeat_interleave(scale, dim=2).repeat_interleave(scale, dim=3)
    return frames.permute(0, 2, 3, 1).contiguous().numpy()


#: pixels of the caption band above captioned videos
CAPTION_HEIGHT = 14


def side_by_side(
    left: np.ndarray, right: np.ndarray, gap: int = 4, captions: tuple[str, str] | None = None
) -> np.ndarray:
    """Two frame stacks [T, h, w, 3] -> [T, h', 2w + gap, 3], padded to even sizes for H.264.

    With ``captions`` (left, right), a white band above the panels names each side and counts
    frames ("{left}" / "{right}, frame k/T"), so the video reads without the README.
    """
    t, h, w, _ = left.shape
    top = CAPTION_HEIGHT if captions else 0
    rows, cols = top + h, 2 * w + gap
    out = np.full((t, rows + rows % 2, cols + cols % 2, 3), 255, dtype=np.uint8)
    out[:, top : top + h, :w] = left
    out[:, top : top + h, w + gap : 2 * w + gap] = right
    if captions:
        _caption(out, captions, w + gap)
    return out


def _caption(frames: np.ndarray, captions: tuple[str, str], right_x: int) -> None:
    """Draw the two captions and the frame count into the band above each frame, in place."""
    from PIL import Image, ImageDraw

    for k, frame in enumerate(frames):
        band = Image.fromarray(frame[:CAPTION_HEIGHT])
        draw = ImageDraw.Draw(band)
        draw.text((2, 1), captions[0], fill=(0, 0, 0))
        draw.text((right_x + 2, 1), f"{captions[1]}, frame {k + 1}/{len(frames)}", fill=(0, 0, 0))
        frame[:CAPTION_HEIGHT] = np.asarray(band)


#: failures ffmpeg reports in strerror's words (full disk, quota, permission, read-only disk)
_FFMPEG_ERRNOS = {
    os.strerror(e): e for e in (errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EROFS)
}


def write_video(frames: np.ndarray, path: Path, fps: int) -> None:
    """uint8 frames [T, h, w, 3] -> H.264 mp4 (yuv420p, plays in browsers), with the ffmpeg
    that imageio-ffmpeg ships.

    ffmpeg's exit status and error output are checked: a failure (a full disk while it writes
    the trailer, say) raises ``OSError`` with ffmpeg's reason, errno ENOSPC for a full disk.
    """
    import imageio_ffmpeg

    t, h, w, _ = frames.shape
    cmd = [
        imageio_ffmpeg.get_ffmpeg_exe(),
        "-y",
        "-f", "rawvideo",
        "-vcodec", "rawvideo",
        "-s", f"{w}x{h}",
        "-pix_fmt", "rgb24",
        "-r", str(fps),
        "-i", "-",
        "-an",
        "-vcodec", "libx264",
        "-pix_fmt", "yuv420p",
        "-movflags", "+faststart",
        "-v", "error",
        "-hide_banner",
        str(path),
    ]  # fmt: skip
    raw = np.ascontiguousarray(frames, dtype=np.uint8)
    done = subprocess.run(
        cmd, input=memoryview(raw).cast("B"), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    if done.returncode != 0:
        lines = done.stderr.decode(errors="replace").strip().splitlines()
        detail = lines[-1] if lines else f"ffmpeg exited with status {done.returncode}"
        code = next((e for text, e in _FFMPEG_ERRNOS.items() if text in "\n".join(lines)), None)
        if code is not None:
            raise OSError(code, os.strerror(code))
        raise OSError(errno.EIO, f"ffmpeg failed (exit status {done.returncode}): {detail}")


def _save_figure(plt, fig, path: Path) -> None:
    """``savefig`` into exactly ``path`` (its format from the suffix); the figure is closed
    even when the write fails."""
    try:
        fig.tight_layout()
        fig.savefig(path, dpi=100)
    finally:
        plt.close(fig)


def plot_curves(
    truth: torch.Tensor, decoded: torch.Tensor, path: Path, dims: Sequence[str]
) -> None:
    """Ground truth vs decoded curves over time: rows = trajectories, columns = dimensions."""
    truth, decoded = truth.detach().cpu().numpy(), decoded.detach().cpu().numpy()
    rows, cols = min(3, truth.shape[0]), truth.shape[-1]
    plt, fig, axes = _figure(rows, cols, (3.2 * cols, 2.2 * rows))
    for i in range(rows):
        for d in range(cols):
            ax = axes[i][d]
            ax.plot(truth[i, :, d], color="#2878d0", label="ground truth")
            ax.plot(decoded[i, :, d], color="#f07828", linestyle="--", label="decoded")
            ax.set_title(f"trajectory {i}, {dims[d]}", fontsize=8)
            ax.tick_params(labelsize=7)
    axes[0][0].legend(fontsize=7)
    _save_figure(plt, fig, path)


def plot_frame_grid(truth: torch.Tensor, decoded: torch.Tensor, path: Path) -> None:
    """Originals (top of each pair) above decodings: float frames [N, T, C, S, S]."""
    truth = truth.detach().cpu().flatten(0, 1)
    decoded = decoded.detach().cpu().flatten(0, 1)
    cols = min(8, truth.shape[0])
    pairs = min(2, truth.shape[0] // cols)
    plt, fig, axes = _figure(2 * pairs, cols, (1.4 * cols, 1.5 * 2 * pairs))
    for p in range(pairs):
        for c in range(cols):
            i = p * cols + c
            for row, frames, label in ((2 * p, truth, "original"), (2 * p + 1, decoded, "decoded")):
                img = frames[i].clamp(0, 1).permute(1, 2, 0).numpy()
                ax = axes[row][c]
                ax.imshow(
                    img.squeeze(-1) if img.shape[-1] == 1 else img, cmap="gray", vmin=0, vmax=1
                )
                ax.set_xticks([])
                ax.set_yticks([])
                if c == 0:
                    ax.set_ylabel(label, fontsize=8)
    shown = pairs * cols
    error = (decoded[:shown] - truth[:shown]).pow(2).mean().item()
    blank = truth[:shown].pow(2).mean().item()
    fig.suptitle(
        f"decoded from the frozen latents: pixel MSE {error:.3g}, {error / max(blank, 1e-12):.0%} "
        f"of a blank (all-black) frame's {blank:.3g} (100 % = no better than blank)",
        fontsize=8,
    )
    _save_figure(plt, fig, path)


def plot_loss_curves(histories: dict[str, list[dict[str, float]]], path: Path) -> None:
    """One panel per phase: train and validation loss per epoch (log scale)."""
    from matplotlib.ticker import MaxNLocator

    phases = [p for p, h in histories.items() if h]
    plt, fig, axes = _figure(1, max(1, len(phases)), (4.5 * max(1, len(phases)), 3.2))
    for ax, phase in zip(axes[0], phases, strict=False):
        hist = histories[phase]
        epochs = range(1, len(hist) + 1)
        for key in ("train_loss", "val_loss", "val_recon_mse"):
            values = [h[key] for h in hist if key in h]
            if values:
                ax.plot(epochs[: len(values)], values, marker="o", markersize=3, label=key)
        if all(h.get("train_loss", 1) > 0 for h in hist):
            ax.set_yscale("log")
        ax.set_title(f"{phase} phase")
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss" + (" (log scale)" if ax.get_yscale() == "log" else ""))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(fontsize=8)
    _save_figure(plt, fig, path)
