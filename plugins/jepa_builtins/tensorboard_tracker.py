"""The `tensorboard` tracker: scalars, images, the forecast, the recipe and hparams as event files.

TensorBoard is an optional extra (``tensorboard``), imported by the tracker's factory only: `jepa
--help` and runs that do not ask for it never import it, and a missing extra fails before any
work. Event files go to ``<run dir>/tensorboard`` (or ``log_dir``); `tensorboard --logdir results`
shows every run side by side.

The forecast is logged twice, both without moviepy (torch's ``add_video`` needs the moviepy 1.x
API): as an animated GIF in the Images tab (``forecast``) and as a strip of evenly spaced frames
(``forecast/frames``). Both are decoded from ``forecast.mp4`` with the ffmpeg that ships with
``imageio-ffmpeg``.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Any

import attrs
from attrs.validators import ge, gt

from jepa_framework import hookimpl
from jepa_framework.core.errors import JepaError

log = logging.getLogger("jepa_framework")

INSTALL_HINT = (
    "the tensorboard tracker needs the optional 'tensorboard' extra, which is not installed: run "
    "`uv sync --extra tensorboard` in a checkout, or `pip install '.[tensorboard]'` from one "
    "(jepa-framework is not on PyPI)"
)
IMAGES = {"reconstruction": "reconstruction.png", "loss_curves": "loss_curves.png"}
#: the final metrics shown beside the hyperparameters in the HParams tab
HPARAM_METRICS = {
    "jepa/val_loss": ("jepa", "val_loss"),
    "decoder/val_recon_mse": ("decoder", "val_recon_mse"),
    "embedding/rankme": ("embedding", "rankme"),
    "embedding/normalised_std": ("embedding", "normalised_std"),
}


@attrs.frozen
class TensorBoardParams:
    """Where event files go (default: ``<run dir>/tensorboard``) and how much of the forecast."""

    # folder of the event files (default: <run dir>/tensorboard)
    log_dir: str | None = None
    # seconds between writes of the event files to disk
    flush_secs: int = attrs.field(default=30, validator=gt(0))
    #: evenly spaced frames of forecast.mp4 in the ``forecast/frames`` strip (0: none)
    forecast_frames: int = attrs.field(default=8, validator=ge(0))
    #: frames per second of the animated GIF (0: no GIF)
    gif_fps: int = attrs.field(default=10, validator=ge(0))


def make_tensorboard_tracker(params: TensorBoardParams) -> TensorBoardTracker:
    """TensorBoard: scalars, reconstruction, forecast (GIF and frames), recipe text, hparams."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise JepaError(f"{INSTALL_HINT}.") from None
    return TensorBoardTracker(params, SummaryWriter)


class TensorBoardTracker:
    """One event-file directory per jepa run (a resumed run appends a new event file to it)."""

    def __init__(self, params: TensorBoardParams, writer_class: Any) -> None:
        self.params = params
        self._writer_class = writer_class
        self._writer: Any = None
        self._step = 0

    @property
    def log_dir(self) -> Path | None:
        return Path(self._writer.log_dir) if self._writer is not None else None

    def start(self, run: Any) -> None:
        p = self.params
        directory = Path(p.log_dir) if p.log_dir else Path(run.dir) / "tensorboard"
        self._writer = self._writer_class(str(directory), flush_secs=self.params.flush_secs)
        config = Path(run.dir) / "config.yaml"
        if config.exists():  # indented: a Markdown code block in the Text tab
            text = "\n".join("    " + line for line in config.read_text().splitlines())
            self._writer.add_text("recipe", text, 0)

    def log(self, scalars: dict[str, float], step: int) -> None:
        if self._writer is None:
            return
        self._step = max(self._step, step)
        for key, value in scalars.items():
            self._writer.add_scalar(key, value, step)

    def finish(self, run: Any, metrics: dict[str, Any]) -> None:
        if self._writer is None:
            return
        try:
            if metrics.get("failed"):
                self._writer.add_text("status", f"failed: {metrics.get('error', '')}", self._step)
                return
            run_dir = Path(run.dir)
            for step in (self._log_images, self._log_forecast, self._log_hparams):
                try:
                    step(run, run_dir, metrics)
                except Exception as exc:
                    log.warning("tensorboard: %s failed: %s", step.__name__.lstrip("_"), exc)
        finally:
            self._writer.close()
            self._writer = None

    def _log_images(self, run: Any, run_dir: Path, metrics: dict[str, Any]) -> None:
        import numpy as np
        from PIL import Image

        for tag, filename in IMAGES.items():
            path = run_dir / filename
            if path.exists():
                image = np.asarray(Image.open(path).convert("RGB"))
                self._writer.add_image(tag, image, self._step, dataformats="HWC")

    def _log_forecast(self, run: Any, run_dir: Path, metrics: dict[str, Any]) -> None:
        path = run_dir / "forecast.mp4"
        if not path.exists() or not (self.params.forecast_frames or self.params.gif_fps):
            return
        frames = read_video(path)
        if self.params.forecast_frames:
            import numpy as np

            picks = np.linspace(0, len(frames) - 1, min(self.params.forecast_frames, len(frames)))
            strip = frames[picks.round().astype(int)]
            self._writer.add_images("forecast/frames", strip, self._step, dataformats="NHWC")
        if self.params.gif_fps:
            self._writer._get_file_writer().add_summary(
                gif_summary("forecast", frames, self.params.gif_fps), self._step
            )

    def _log_hparams(self, run: Any, run_dir: Path, metrics: dict[str, Any]) -> None:
        from torch.utils.tensorboard.summary import hparams

        from jepa_framework.config.recipe import unstructure_recipe

        params = flat_hparams(unstructure_recipe(run.recipe))
        finals = {}
        for tag, (section, key) in HPARAM_METRICS.items():
            value = metrics.get(section, {}).get(key)
            if isinstance(value, (int, float)):
                finals[f"final/{tag}"] = float(value)
        finals["final/collapsed"] = float(bool(metrics.get("collapsed")))
        writer = self._writer._get_file_writer()
        for summary in hparams(params, finals):
            writer.add_summary(summary)
        for tag, value in finals.items():
            self._writer.add_scalar(tag, value, self._step)


def flat_hparams(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested recipe -> ``{"train.lr": 0.001, "model.encoder.name": "cnn", ...}``.

    TensorBoard's hparams accept numbers, strings and booleans only: ``None`` becomes ``"none"``
    and lists (e.g. ``tracking``) their text.
    """
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flat_hparams(value, f"{name}."))
        elif isinstance(value, (bool, int, float, str)):
            out[name] = value
        else:
            out[name] = "none" if value is None else str(value)
    return out


def read_video(path: Path) -> Any:
    """Every frame of a video file, uint8 RGB [T, H, W, 3], decoded by imageio-ffmpeg's ffmpeg."""
    import imageio_ffmpeg
    import numpy as np

    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    width, height = meta["size"]
    frames = [np.frombuffer(chunk, dtype=np.uint8).reshape(height, width, 3) for chunk in reader]
    return np.stack(frames)


def gif_summary(tag: str, frames: Any, fps: int) -> Any:
    """An image summary holding an animated GIF of ``frames`` [T, H, W, 3] uint8.

    TensorBoard's Images tab plays GIFs; this is what ``add_video`` writes, without moviepy.
    """
    from PIL import Image
    from tensorboard.compat.proto.summary_pb2 import Summary

    images = [Image.fromarray(f) for f in frames]
    buffer = io.BytesIO()
    images[0].save(
        buffer,
        format="GIF",
        save_all=True,
        append_images=images[1:],
        duration=round(1000 / fps),
        loop=0,
    )
    height, width = frames.shape[1:3]
    image = Summary.Image(
        height=height, width=width, colorspace=3, encoded_image_string=buffer.getvalue()
    )
    return Summary(value=[Summary.Value(tag=tag, image=image)])


@hookimpl
def register_trackers(register):
    register("tensorboard", make_tensorboard_tracker, params=TensorBoardParams)
