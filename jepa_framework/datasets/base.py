"""Base classes for datasets of trajectories, cached on disk and held in RAM or memory-mapped.

A plugin subclasses :class:`VectorDataset` or :class:`ImageDataset`, implements ``simulate`` and
declares its params class (a subclass of :class:`DatasetParams`). Everything that varies by
dataset -- how to turn stored frames into floats, how to draw a comparison, what kind of
observation it holds (its :attr:`~DynamicsDataset.observation_space`, which the evaluation
scores by kind) -- is a method here, so the core never asks which dataset it holds.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from pathlib import Path
from typing import Any, ClassVar

import attrs
import numpy as np
import torch

from jepa_framework.core.provenance import code_identity
from jepa_framework.core.validators import MAX_COUNT, MAX_SEED, count
from jepa_framework.datasets import cache as datacache
from jepa_framework.datasets.actions import ActionSpace
from jepa_framework.datasets.observations import (
    ImageObservations,
    ObservationSpace,
    VectorObservations,
)
from jepa_framework.datasets.references import NothingLearned

log = logging.getLogger(__name__)

CACHE_ENV = "JEPA_CACHE_DIR"
STORAGE = ("auto", "memory", "mmap")
#: ``storage: auto`` loads cached arrays up to this size into memory and maps larger ones
MEMORY_LIMIT_BYTES = 1 << 30
#: params that change how data is read, not what it is: left out of the cache key
READ_ONLY_PARAMS = ("cache", "storage")


def default_cache_dir() -> Path:
    """``$JEPA_CACHE_DIR``, else ``$XDG_CACHE_HOME/jepa-framework``, else ``~/.cache/...``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "jepa-framework"


@attrs.frozen
class DatasetParams:
    """Options every dataset accepts; subclasses add their own fields (with defaults)."""

    # number of trajectories (training and validation each need at least 2; data.val_fraction)
    size: int = attrs.field(default=1000, validator=count(1, 10 * MAX_COUNT))
    # frames per trajectory (a recipe needs data.history + objective.rollout_steps)
    sequence_length: int = attrs.field(default=30, validator=count(1, MAX_COUNT))
    # data seed; empty: derived from the recipe's seed, so each seed draws its own data (a
    # value here keeps the same data across seeds); 0 for a dataset built outside a recipe
    seed: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(count(0, MAX_SEED))
    )
    cache: bool = True  # keep generated arrays on disk, keyed by these params
    # where training reads frames: memory | mmap (the cache file, paged in by the kernel) | auto
    # (memory up to 1 GiB of arrays, else mmap); without the cache the data is always in memory
    storage: str = attrs.field(default="auto", validator=attrs.validators.in_(STORAGE))


@attrs.frozen
class Trajectories:
    """Generated data: observations [N, T, *stored_shape] and ground-truth states [N, T, S].

    ``actions`` [N, T, A]: the action applied between frame t and t+1 (the last row is padding),
    required of datasets that declare an :attr:`~DynamicsDataset.action_space`, else ``None``.
    """

    observations: np.ndarray
    states: np.ndarray
    actions: np.ndarray | None = None


class DynamicsDataset:
    """Trajectories in RAM or memory-mapped from the cache (:mod:`jepa_framework.datasets.cache`);
    batches are drawn by index, never per sample.

    Subclasses set ``state_names`` and implement :meth:`simulate`; ``params`` is their attrs params.
    """

    state_names: ClassVar[tuple[str, ...]] = ()
    #: frames per Lyapunov time, for datasets with chaotic dynamics (``None`` if not chaotic)
    lyapunov_frames: ClassVar[float | None] = None
    #: seconds between frames, for reporting horizons in time
    frame_dt: ClassVar[float] = 0.05
    #: the :meth:`trajectory_groups` entry that leads eval.json's summary (e.g. the chaotic band)
    headline_group: ClassVar[str | None] = None
    #: dimensions of one stored observation that ``simulate`` must return (``None``: any)
    _frame_ndim: ClassVar[int | None] = None

    def __init__(self, params: DatasetParams, cache_dir: Path | None = None) -> None:
        self.params = params
        self.timings: dict[str, float] = {}
        #: where observations live: "memory", or "mmap" (the cache file, paged in by the kernel)
        self.storage = "memory"
        arrays = self._load_or_generate(cache_dir or default_cache_dir())
        #: stored observations [N, T, *stored]: in RAM, or a copy-on-write map of the cache file
        self.observations = torch.from_numpy(arrays["observations"])
        self.states = torch.from_numpy(arrays["states"])  # float32 [N, T, S]
        #: float32 [N, T, A] when the dataset has an action space (row t: frame t -> t+1)
        self.actions = torch.from_numpy(arrays["actions"]) if "actions" in arrays else None

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
        """What these observations are (kind, shape): the evaluation scores them by kind."""
        raise NotImplementedError

    @property
    def action_space(self) -> ActionSpace | None:
        """The actions that drive the trajectories, or ``None`` (the default: autonomous data).

        A dataset that declares one must return ``actions`` from :meth:`simulate`; it is read
        before any data is generated, so it may depend on ``params`` only.
        """
        return None

    def environment(self) -> Any:
        """A fresh ``gymnasium.Env`` of the dynamics this data was collected from, or ``None``.

        Closed-loop planning steps it; datasets of recorded data without a simulator have none.
        """
        return None

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

    @property
    def nothing_learned_reference(self) -> str | NothingLearned | None:
        """The best forecaster of this data that learns nothing, or ``None`` (the default).

        A predictor plugin without parameters applied to the raw observations (the identity
        encoder, the flattened frames of the last ``data.history`` as the latent): its name
        (default params) or a :class:`~jepa_framework.datasets.references.NothingLearned` with
        params. The evaluation scores it beside every method as ``<predictor>_raw``; the
        periodic curves name ``oscillator``. Without one, copy-last and the linear
        autoregression are the data's nothing-learned references.
        """
        return None

    def generate(
        self, n: int, steps: int, seed: int, split: str = "test"
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Fresh trajectories (e.g. a long one for the forecast video): stored obs and states.

        Checked like every chunk of the dataset: the same per-frame shape and dtype as the
        stored data, and finite; anything else is a PluginError naming the dataset. ``split``
        (test | validation) names the held-out set they are for: a simulator draws fresh ones
        from ``seed`` whatever it is; recorded data serves them from that set's own pool.
        """
        arrays = self.generate_arrays(n, steps, seed, split)
        return arrays["observations"], arrays["states"]

    @property
    def max_held_out_frames(self) -> int | None:
        """The most frames :meth:`generate` can give a trajectory (``None``: any number, as a
        simulator can; recorded data: the recorded length)."""
        return None

    def generate_arrays(
        self, n: int, steps: int, seed: int, split: str = "test"
    ) -> dict[str, torch.Tensor]:
        """:meth:`generate` with every array: observations, states and actions (if any)."""
        contract = self._contract()
        rng = np.random.default_rng(seed)
        parts = datacache.run_simulate(self.simulate, contract, n, steps, rng)
        stored = {"observations": self.observations.numpy(), "states": self.states.numpy()}
        if getattr(self, "actions", None) is not None:
            stored["actions"] = self.actions.numpy()
        what = f"in generate({n}, {steps}, seed={seed})"
        datacache.check_like(parts, datacache.Layout.of(stored), contract, what)
        datacache.check_finite(parts, contract, 0, what)
        return {name: torch.from_numpy(part) for name, part in parts.items()}

    def __len__(self) -> int:
        return self.observations.shape[0]

    @property
    def data_seed(self) -> int:
        """The seed the trajectories are generated with (a recipe fills an empty one)."""
        seed = getattr(self.params, "seed", None)
        return 0 if seed is None else seed

    @property
    def sequence_length(self) -> int:
        return self.observations.shape[1]

    @property
    def state_dim(self) -> int:
        """Degrees of freedom of the state, which latents must span to hold it (the evaluation
        flags dimensional collapse below it). Default: the width of the stored states; a
        dataset whose states hold redundant or constant coordinates overrides it."""
        return int(self.states.shape[-1])

    def split(self, val_fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Train and validation trajectory indices: split by trajectory, never by frame."""
        n = len(self)
        order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
        n_val = max(1, round(n * val_fraction)) if n > 1 else 0
        return order[n_val:].sort().values, order[:n_val].sort().values

    def cache_key(self) -> str:
        """Hash of the class, the code that provides it, and every param that shapes the data.

        The code is named by its distribution's version (and, for editable installs and
        unpackaged code, a hash of its source), so an edited ``simulate`` never serves stale data.
        """
        payload: dict[str, Any] = {
            "class": f"{type(self).__module__}.{type(self).__qualname__}",
            "code": dict(code_identity(type(self))),
            "format": [datacache.FORMAT, datacache.CHUNK_BYTES, datacache.MAX_CHUNK],
        }
        payload.update(
            {k: v for k, v in attrs.asdict(self.params).items() if k not in READ_ONLY_PARAMS}
        )
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:20]

    def _load_or_generate(self, cache_dir: Path) -> dict[str, np.ndarray]:
        """Cached arrays when valid, else generate (and cache), in RAM or memory-mapped as
        ``params.storage`` says. Records where time went in ``self.timings``."""
        n, steps, seed = self.params.size, self.params.sequence_length, self.data_seed
        timings = datacache.Timings()
        if self.params.cache:
            entry = datacache.CacheEntry(
                cache_dir / f"{type(self).__name__.lower()}-{self.cache_key()}"
            )
            try:
                return self._from_cache(entry, timings)
            except OSError as exc:  # a read-only or full disk: generate in memory instead
                log.warning("cannot use dataset cache %s (%s); generating in memory", entry, exc)
                timings = datacache.Timings()
        arrays = datacache.in_memory(self.simulate, self._contract(), n, steps, seed, timings)
        self.timings = {"generation_s": timings.generation_s}
        return arrays

    def _from_cache(
        self, entry: datacache.CacheEntry, timings: datacache.Timings
    ) -> dict[str, np.ndarray]:
        """Verify-or-generate under the entry's lock, then map or load the valid entry."""
        n, steps, seed = self.params.size, self.params.sequence_length, self.data_seed
        start = time.perf_counter()
        with entry.locked():
            job = datacache.Generation(self.simulate, self._contract(), n, steps, seed, timings)
            arrays = entry.load(job)
        if self._keep_in_memory(arrays):
            arrays = {name: np.array(array) for name, array in arrays.items()}
        else:
            self.storage = "mmap"
        self.timings = {
            "generation_s": timings.generation_s,
            "cache_write_s": timings.cache_write_s,
        }
        self.timings = {k: v for k, v in self.timings.items() if v}
        self.timings["cache_read_s"] = time.perf_counter() - start - sum(self.timings.values())
        return arrays

    def _contract(self) -> datacache.Contract:
        """What every ``simulate`` call must return, and the dataset named when it does not."""
        return datacache.Contract(
            who=self._who(),
            frame_ndim=self._frame_ndim,
            state_width=len(self.state_names) or None,
            finite_hint=self._finite_hint(),
            action_width=self.action_space.dim if self.action_space is not None else None,
        )

    def _who(self) -> str:
        """``dataset 'name' (plugin 'p', class m.C)`` as registered by a loaded plugin, else the
        class alone (a dataset built directly, before any plugin host)."""
        cls = type(self)
        where = f"{cls.__module__}.{cls.__qualname__}"
        for component in _registered_datasets():
            if component.factory is cls:
                return f"dataset '{component.name}' (plugin '{component.plugin}', class {where})"
        return f"dataset class {where}"

    def _finite_hint(self) -> str:
        fields = {f.name for f in attrs.fields(type(self.params))}
        knobs = [f"data.dataset.{f}" for f in sorted(fields) if f.endswith(("_max", "_range"))]
        steps = [
            text
            for field, text in (
                ("dt", "lower data.dataset.dt"),
                ("substeps", "raise data.dataset.substeps"),
            )
            if field in fields
        ]
        ranges = f"narrow the ranges ({', '.join(knobs)})" if knobs else "narrow its ranges"
        if steps:
            smaller = " or ".join(steps)
            return f"An integrator that blows up needs smaller steps: {smaller}, or {ranges}."
        return f"Fix the dataset's simulate(), or {ranges} under data.dataset."

    def _keep_in_memory(self, arrays: dict[str, np.ndarray]) -> bool:
        """``storage``: memory, mmap, or auto (memory up to :data:`MEMORY_LIMIT_BYTES`)."""
        if self.params.storage == "auto":
            return sum(a.nbytes for a in arrays.values()) <= MEMORY_LIMIT_BYTES
        return self.params.storage == "memory"


class VectorDataset(DynamicsDataset):
    """Observations are float vectors of 2-D points (x0, y0, x1, y1, ...)."""

    _frame_ndim = 1  # observations [n, steps, F]

    #: half-width of the square drawn in videos, in observation units
    view_extent: ClassVar[float] = 1.2

    @property
    def obs_shape(self) -> tuple[int, ...]:
        return tuple(self.observations.shape[2:])

    @property
    def observation_space(self) -> ObservationSpace:
        return VectorObservations(dims=tuple(self._dim_names()))

    def frames_for_video(self, observations: torch.Tensor, size: int) -> np.ndarray:
        from jepa_framework.datasets.render import draw_points

        return draw_points(
            observations.detach().cpu().numpy(), size, self.view_extent, self.draw_overlay
        )

    def draw_overlay(self, draw: Any, points: np.ndarray, size: int) -> None:
        """Draw extra marks under the points of one video frame (e.g. a pendulum's rods).

        ``draw`` is a ``PIL.ImageDraw.ImageDraw``; ``points`` [P, 2] are pixel positions. The
        default draws nothing.
        """

    def plot_reconstruction(self, truth: torch.Tensor, decoded: torch.Tensor, path: Path) -> None:
        from jepa_framework.datasets.render import plot_curves

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
        return ImageObservations(shape=tuple(self.obs_shape))

    def frames_for_video(self, observations: torch.Tensor, size: int) -> np.ndarray:
        from jepa_framework.datasets.render import upscale_frames

        return upscale_frames(observations.detach().cpu(), size)

    def plot_reconstruction(self, truth: torch.Tensor, decoded: torch.Tensor, path: Path) -> None:
        from jepa_framework.datasets.render import plot_frame_grid

        plot_frame_grid(truth, decoded, path)


def _registered_datasets() -> list[Any]:
    """The datasets of the plugin host if one is built already (never builds one from here)."""
    from jepa_framework.plugin import host as plugins

    host = plugins.current()
    return list(host.registry("datasets")) if host is not None else []


def describe(dataset: DynamicsDataset) -> dict[str, Any]:
    return {
        "trajectories": len(dataset),
        "sequence_length": dataset.sequence_length,
        "obs_shape": list(dataset.obs_shape),
        "stored_dtype": str(dataset.observations.dtype),
        "storage": getattr(dataset, "storage", "memory"),
        "state_names": list(dataset.state_names),
        **_action_fields(dataset),
    }


def _action_fields(dataset: DynamicsDataset) -> dict[str, Any]:
    actions = getattr(dataset, "actions", None)
    return {} if actions is None else {"action_dim": int(actions.shape[2])}
