"""Base classes for datasets of trajectories held in memory, with an on-disk cache.

A plugin subclasses :class:`VectorDataset` or :class:`ImageDataset`, implements ``simulate`` and
declares its params class (a subclass of :class:`DatasetParams`). Everything that varies by
dataset -- how to turn stored frames into floats, how to draw a comparison, how forecasts are
scored (its :attr:`~DynamicsDataset.observation_space`) -- is a method here, so the core never
asks which dataset it holds.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any, ClassVar

import attrs
import numpy as np
import torch

from jepa_framework.observations import ImageObservations, ObservationSpace, VectorObservations
from jepa_framework.validators import MAX_COUNT, MAX_SEED, count

log = logging.getLogger(__name__)

CACHE_ENV = "JEPA_CACHE_DIR"


def default_cache_dir() -> Path:
    """``$JEPA_CACHE_DIR``, else ``$XDG_CACHE_HOME/jepa-framework``, else ``~/.cache/...``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "jepa-framework"


@attrs.frozen
class DatasetParams:
    """Options every dataset accepts; subclasses add their own fields (with defaults)."""

    # number of trajectories (a recipe needs 2: one is held out for validation)
    size: int = attrs.field(default=1000, validator=count(1, 10 * MAX_COUNT))
    # frames per trajectory (a recipe needs data.history + objective.rollout_steps)
    sequence_length: int = attrs.field(default=30, validator=count(1, MAX_COUNT))
    # data seed, independent of the training seed
    seed: int = attrs.field(default=0, validator=count(0, MAX_SEED))
    cache: bool = True  # keep generated arrays on disk, keyed by these params


@attrs.frozen
class Trajectories:
    """Generated data: observations [N, T, *stored_shape] and ground-truth states [N, T, S]."""

    observations: np.ndarray
    states: np.ndarray


class DynamicsDataset:
    """Trajectories in memory; batches are drawn by tensor indexing, never per sample.

    Subclasses set ``state_names`` and implement :meth:`simulate`; ``params`` is their attrs params.
    """

    state_names: ClassVar[tuple[str, ...]] = ()
    #: frames per Lyapunov time, for datasets with chaotic dynamics (``None`` if not chaotic)
    lyapunov_frames: ClassVar[float | None] = None
    #: seconds between frames, for reporting horizons in time
    frame_dt: ClassVar[float] = 0.05
    #: the :meth:`trajectory_groups` entry that leads eval.json's summary (e.g. the chaotic band)
    headline_group: ClassVar[str | None] = None

    def __init__(self, params: DatasetParams, cache_dir: Path | None = None) -> None:
        self.params = params
        self.timings: dict[str, float] = {}
        data = self._load_or_generate(cache_dir or default_cache_dir())
        self.observations = torch.from_numpy(data.observations)
        self.states = torch.from_numpy(np.ascontiguousarray(data.states, dtype=np.float32))

    # --- to implement -------------------------------------------------------------------------

    def simulate(self, n: int, steps: int, rng: np.random.Generator) -> Trajectories:
        """Generate ``n`` trajectories of ``steps`` frames, vectorised over trajectories."""
        raise NotImplementedError

    @property
    def obs_shape(self) -> tuple[int, ...]:
        """Shape of one observation as the networks see it (after :meth:`to_float`)."""
        raise NotImplementedError

    def to_float(self, stored: torch.Tensor) -> torch.Tensor:
        """Stored observations [..., *stored_shape] -> float32 [..., *obs_shape], per batch."""
        return stored.float()

    @property
    def observation_space(self) -> ObservationSpace:
        """How forecasts of these observations are scored, summarised and compared."""
        raise NotImplementedError

    def frames_for_video(self, observations: torch.Tensor, size: int) -> np.ndarray:
        """Float observations [T, *obs_shape] -> uint8 RGB frames [T, size, size, 3]."""
        raise NotImplementedError

    def plot_reconstruction(self, truth: torch.Tensor, decoded: torch.Tensor, path: Path) -> None:
        """Write a PNG comparing float observations ``truth`` and ``decoded``, both [N, T, ...]."""
        raise NotImplementedError

    # --- provided -----------------------------------------------------------------------------

    def probe_targets(self, states: torch.Tensor) -> tuple[torch.Tensor, tuple[str, ...]]:
        """What a linear probe should recover from states [..., S]: targets [..., P] and names.

        The default is the state as it is; datasets with angles override this with their sine
        and cosine, which a linear map can reach (a raw unwrapped angle it cannot).
        """
        return states.float(), tuple(self.state_names)

    def trajectory_groups(self, states: torch.Tensor) -> dict[str, torch.Tensor]:
        """Named subsets of trajectories to report separately, from initial states [N, S].

        Returns boolean masks [N] (e.g. energy bands of a chaotic system); none by default.
        """
        return {}

    @property
    def group_lyapunov_frames(self) -> dict[str, float | None]:
        """Frames per Lyapunov time of each trajectory group (``None``: not chaotic there).

        A group missing here uses :attr:`lyapunov_frames`; chaos often depends on the group
        (a pendulum's energy band), so each band's VPT is measured in its own Lyapunov times.
        """
        return {}

    def probe_positions(self, targets: torch.Tensor) -> torch.Tensor | None:
        """Observed coordinates [..., C] from probe targets [..., P], or ``None`` (the default).

        Lets a probed state be scored like a coordinate forecast (same NRMSE and normaliser),
        so that forecasts from images and from coordinates mean the same thing. It must be
        exact on true targets. Datasets that return ``None`` get no probed-position forecast.
        """
        return None

    def generate(self, n: int, steps: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Fresh trajectories (e.g. a long one for the forecast video): stored obs and states."""
        data = self.simulate(n, steps, np.random.default_rng(seed))
        return torch.from_numpy(data.observations), torch.from_numpy(
            np.asarray(data.states, dtype=np.float32)
        )

    def __len__(self) -> int:
        return self.observations.shape[0]

    @property
    def sequence_length(self) -> int:
        return self.observations.shape[1]

    def split(self, val_fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Train and validation trajectory indices: split by trajectory, never by frame."""
        n = len(self)
        order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
        n_val = max(1, round(n * val_fraction)) if n > 1 else 0
        return order[n_val:].sort().values, order[:n_val].sort().values

    def cache_key(self) -> str:
        payload = {"class": f"{type(self).__module__}.{type(self).__qualname__}"}
        payload.update({k: v for k, v in attrs.asdict(self.params).items() if k != "cache"})
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:20]

    def _load_or_generate(self, cache_dir: Path) -> Trajectories:
        """Cached arrays when valid, else generate (and cache). Records where time went."""
        n, steps = self.params.size, self.params.sequence_length
        path = cache_dir / f"{type(self).__name__.lower()}-{self.cache_key()}.npz"
        start = time.perf_counter()
        if self.params.cache and path.exists():
            data = _read_cache(path, n, steps)
            if data is not None:
                self.timings = {"cache_read_s": time.perf_counter() - start}
                return data
            log.warning("dataset cache %s is corrupt or partial; regenerating it", path)
        data = self.simulate(n, steps, np.random.default_rng(self.params.seed))
        self.timings = {"generation_s": time.perf_counter() - start}
        if self.params.cache:
            start = time.perf_counter()
            _write_cache(path, data)
            self.timings["cache_write_s"] = time.perf_counter() - start
        return data


def _read_cache(path: Path, n: int, steps: int) -> Trajectories | None:
    """The cached arrays, or ``None`` when the file is unreadable or has the wrong shape."""
    try:
        with np.load(path, allow_pickle=False) as f:
            obs, states = f["observations"], f["states"]
    except Exception:  # any damage (truncation, bad zip, missing key) means regenerate
        return None
    if obs.shape[:2] != (n, steps) or states.shape[:2] != (n, steps):
        return None
    return Trajectories(obs, states)


def _write_cache(path: Path, data: Trajectories) -> None:
    """Write atomically (temporary file, then rename) so a killed run never leaves half a file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            np.savez(f, observations=data.observations, states=data.states)
        os.replace(tmp, path)
    except OSError as exc:  # a read-only or full disk only costs regeneration next time
        log.warning("could not write dataset cache %s: %s", path, exc)


class VectorDataset(DynamicsDataset):
    """Observations are float vectors of 2-D points (x0, y0, x1, y1, ...)."""

    #: half-width of the square drawn in videos, in observation units
    view_extent: ClassVar[float] = 1.2

    @property
    def obs_shape(self) -> tuple[int, ...]:
        return tuple(self.observations.shape[2:])

    @property
    def observation_space(self) -> ObservationSpace:
        return VectorObservations()

    def frames_for_video(self, observations: torch.Tensor, size: int) -> np.ndarray:
        from jepa_framework.render import draw_points

        return draw_points(
            observations.detach().cpu().numpy(), size, self.view_extent, self.draw_overlay
        )

    def draw_overlay(self, draw: Any, points: np.ndarray, size: int) -> None:
        """Draw extra marks under the points of one video frame (e.g. a pendulum's rods).

        ``draw`` is a ``PIL.ImageDraw.ImageDraw``; ``points`` [P, 2] are pixel positions. The
        default draws nothing.
        """

    def plot_reconstruction(self, truth: torch.Tensor, decoded: torch.Tensor, path: Path) -> None:
        from jepa_framework.render import plot_curves

        plot_curves(truth, decoded, path, dims=self._dim_names())

    def _dim_names(self) -> list[str]:
        d = self.obs_shape[0]
        return [f"{'xy'[i % 2]}{i // 2 + 1}" if d > 2 else "xy"[i] for i in range(d)]


class ImageDataset(DynamicsDataset):
    """Observations are frames; stored as uint8 [N, T, *stored] and made float per batch."""

    @property
    def obs_shape(self) -> tuple[int, ...]:
        raise NotImplementedError

    @property
    def observation_space(self) -> ObservationSpace:
        return ImageObservations()

    def frames_for_video(self, observations: torch.Tensor, size: int) -> np.ndarray:
        from jepa_framework.render import upscale_frames

        return upscale_frames(observations.detach().cpu(), size)

    def plot_reconstruction(self, truth: torch.Tensor, decoded: torch.Tensor, path: Path) -> None:
        from jepa_framework.render import plot_frame_grid

        plot_frame_grid(truth, decoded, path)


def describe(dataset: DynamicsDataset) -> dict[str, Any]:
    return {
        "trajectories": len(dataset),
        "sequence_length": dataset.sequence_length,
        "obs_shape": list(dataset.obs_shape),
        "stored_dtype": str(dataset.observations.dtype),
        "state_names": list(dataset.state_names),
    }
