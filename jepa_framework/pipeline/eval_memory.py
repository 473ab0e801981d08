"""How much memory the evaluation will need, checked before any training.

It lives in the build layer beside :mod:`jepa_framework.pipeline.assemble`, not in the evaluation
package: a run checks it while assembling, long before anything is evaluated, and the build
layer never imports :mod:`jepa_framework.evaluate`. The scoring loop
(:func:`jepa_framework.evaluate.rollout.score`) takes its chunk size from :data:`CHUNK`, so the
estimate and the work agree.

The evaluation generates ``n = min(eval.trajectories, len(dataset))`` fresh trajectories of
``context + eval.horizon`` frames (context: ``max(data.history, eval.ar_order)``) and keeps them
in their stored form (:func:`~jepa_framework.evaluate.rollout.held_out`); forecasts are then
scored in chunks of 32 trajectories, each chunk converted to float32 observations with every
method's forecast of it (:func:`~jepa_framework.evaluate.rollout.score`); a coordinate dataset's
scorer also takes the std over every scored frame in float32. The estimate here is a lower bound:
the held-out set plus three float copies of one chunk (the chunk itself, the JEPA's decoded
forecast and one baseline's), or the whole scored set in float32, whichever is larger. A recipe
whose lower bound exceeds the memory available is refused with the figures, before training.

An ``eval.horizon`` longer than ``data.dataset.sequence_length`` is fine: the held-out
trajectories are generated at the length the evaluation needs (the probes use at most the
training length).
"""

from __future__ import annotations

import math
import os
from typing import Any

from jepa_framework.core.errors import RecipeError

#: trajectories per scoring chunk (rollout.score's default)
CHUNK = 32
#: float copies of a chunk alive at once, at least
CHUNK_COPIES = 3


def available_memory() -> int | None:
    """Bytes of memory available now: /proc/meminfo's MemAvailable, else free physical pages
    (None when the system says neither)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as info:
            for line in info:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def _itemsize(array: Any) -> int:
    dtype = getattr(array, "dtype", None)
    size = getattr(dtype, "itemsize", None)
    return int(size) if size else int(array.element_size())


def eval_sizes(recipe: Any, dataset: Any) -> dict[str, int]:
    """Trajectories, frames and the lower bound of bytes the evaluation needs."""
    cfg = recipe.eval
    n = min(cfg.trajectories, len(dataset))
    context = max(recipe.data.history, cfg.ar_order)
    frames = context + cfg.horizon
    stored = math.prod(dataset.observations.shape[2:]) * _itemsize(dataset.observations)
    states = math.prod(dataset.states.shape[2:]) * 4
    floats = math.prod(dataset.obs_shape) * 4
    held = n * frames * (stored + states)
    chunks = CHUNK_COPIES * min(n, CHUNK) * frames * floats
    scored = n * cfg.horizon * floats
    return {
        "trajectories": n,
        "context": context,
        "frames": frames,
        "bytes": held + max(chunks, scored),
    }


def gib(n: float) -> str:
    return f"{n / 2**30:.1f} GiB"


def check_eval_fits(recipe: Any, dataset: Any, available: int | None = None) -> None:
    """Refuse an evaluation whose held-out forecasts cannot fit in the memory available, or
    whose trajectories are longer than recorded data holds."""
    sizes = eval_sizes(recipe, dataset)
    recorded = getattr(dataset, "max_held_out_frames", None)
    if recorded is not None and sizes["frames"] > recorded:
        fits = recorded - sizes["context"]
        lower = f"eval.horizon to at most {fits}" if fits > 0 else "eval.horizon"
        raise RecipeError(
            [
                f"eval.horizon: the evaluation forecasts held-out trajectories of "
                f"{sizes['frames']} frames (eval.horizon {recipe.eval.horizon} + "
                f"{sizes['context']} context frames), but the dataset's recorded trajectories "
                f"have {recorded}. Lower {lower}, or record longer trajectories"
            ]
        )
    available = available_memory() if available is None else available
    if available is None or sizes["bytes"] <= available:
        return
    cfg, n, frames = recipe.eval, sizes["trajectories"], sizes["frames"]
    per_frame = sizes["bytes"] / frames
    fits = max(0, int(available / per_frame) - sizes["context"])
    capped = f", capped at the dataset's {len(dataset)}" if n < cfg.trajectories else ""
    lower = f"eval.horizon to at most {fits}" if fits else "eval.horizon"
    raise RecipeError(
        [
            f"eval.horizon: the evaluation forecasts {n} held-out trajectories (eval.trajectories "
            f"{cfg.trajectories}{capped}) of {frames} frames (eval.horizon {cfg.horizon} + "
            f"{sizes['context']} context frames) of shape {list(dataset.obs_shape)}; that needs "
            f"at least {gib(sizes['bytes'])} of memory, but {gib(available)} is available. "
            f"Lower {lower} (or eval.trajectories), or set eval.enabled=false"
        ]
    )
