"""The train state of a run, written atomically and read back with ``weights_only=True``.

:class:`TrainState` is the one typed record of a checkpoint; :func:`resume_state` holds every
rule about continuing a run (finished, never checkpointed, recipe changed, damaged file).
Loading never executes pickled code and never suggests turning that protection off.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import attrs
import torch

from jepa_framework.errors import JepaError

log = logging.getLogger("jepa_framework")

CHECKPOINT_NAME = "checkpoint.pt"
TMP_PREFIX, TMP_SUFFIX = ".checkpoint-", ".tmp"
PHASES = ("jepa", "refit", "decoder")


def recipe_hash(recipe: dict[str, Any]) -> str:
    """A stable digest of a resolved recipe (its unstructured dict)."""
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()


def changed_keys(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Dotted paths where two resolved recipes differ."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(set(old) | set(new), key=str):
            path = f"{prefix}.{key}" if prefix else str(key)
            if key not in old or key not in new:
                out.append(path)
            else:
                out.extend(changed_keys(old[key], new[key], path))
        return out
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        pairs = enumerate(zip(old, new, strict=True))
        return [p for i, (a, b) in pairs for p in changed_keys(a, b, f"{prefix}.{i}")]
    return [] if old == new else [prefix or "(the whole recipe)"]


def _typed(kind: type | tuple[type, ...]):
    return attrs.validators.instance_of(kind)


@attrs.define(eq=False)
class TrainState:
    """Everything needed to continue training exactly where a checkpoint was written."""

    phase: str = attrs.field(validator=attrs.validators.in_(PHASES))
    epoch: int = attrs.field(validator=_typed(int))  # last finished epoch of ``phase``
    phase_step: int = attrs.field(validator=_typed(int))
    step: int = attrs.field(validator=_typed(int))  # global step over both phases
    model: dict[str, torch.Tensor] = attrs.field(validator=_typed(dict))
    decoder: dict[str, torch.Tensor] = attrs.field(validator=_typed(dict))
    optimisation: dict[str, Any] = attrs.field(validator=_typed(dict))
    rng: dict[str, Any] = attrs.field(validator=_typed(dict))
    history: dict[str, list[dict[str, float]]] = attrs.field(validator=_typed(dict))
    tracker_state: dict[str, Any] = attrs.field(validator=_typed(dict))
    recipe_hash: str = attrs.field(validator=_typed(str))
    recipe: dict[str, Any] = attrs.field(validator=_typed(dict))  # resolved, for naming changes

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self, recurse=False)

    @classmethod
    def from_dict(cls, data: Any, path: Path) -> TrainState:
        """Validate what a file held; anything else is a clear error naming the file."""
        if not isinstance(data, dict):
            raise _foreign(path, f"it holds a {type(data).__name__}, not a train state")
        names = [f.name for f in attrs.fields(cls)]
        missing = [n for n in names if n not in data]
        if missing:
            raise _foreign(path, f"it lacks {', '.join(missing)}")
        try:
            return cls(**{n: data[n] for n in names})
        except (TypeError, ValueError) as exc:
            raise _foreign(path, f"a field has the wrong type or value ({exc})") from None


def _foreign(path: Path, why: str) -> JepaError:
    return JepaError(
        f"{path} is not a checkpoint this version of jepa-framework can resume: {why}. "
        f"Start the run again with `jepa run {_config_of(path)}`."
    )


def save_checkpoint(path: Path, state: TrainState | dict[str, Any]) -> None:
    """Write to a temporary file in the same folder, fsync, then rename over the old one.

    A run killed at any instant leaves either the previous checkpoint or the new one, whole. A
    failed write (disk full, folder gone) leaves the previous one and is a clear error.
    """
    data = state.to_dict() if isinstance(state, TrainState) else state
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=TMP_PREFIX, suffix=TMP_SUFFIX)
        with os.fdopen(fd, "wb") as f:
            torch.save(data, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        raise write_error(path, exc) from None
    finally:
        if tmp is not None and Path(tmp).exists():
            Path(tmp).unlink(missing_ok=True)


def write_error(path: Path, exc: OSError) -> JepaError:
    """A failed write as a user-facing error; what was written before stays as it was."""
    reason = exc.strerror or str(exc)
    then = (
        f"resume with `jepa run --resume {path.parent}`"
        if path.name == CHECKPOINT_NAME
        else "run again"
    )
    return JepaError(
        f"could not write {path}: {reason}. Files written before are kept. Free some space or "
        f"make the folder writable (or choose another output.dir), then {then}."
    )


def load_weights(path: Path, what: str = "weights") -> Any:
    """``torch.load(weights_only=True)`` with every failure turned into a clear error."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise JepaError(f"{path} does not exist.") from None
    except pickle.UnpicklingError:
        why = (
            "it holds Python objects other than tensors and plain data, so it was not loaded "
            "(a file from another program, or one that could run code when unpickled)"
        )
    except Exception as exc:  # noqa: BLE001 - random bytes reach the unpickler's every error
        # (RuntimeError, EOFError, BadZipFile, ValueError, but also KeyError or struct.error
        # where garbage happens to parse as a legacy pickle): all mean the file is not usable
        if isinstance(exc, OSError) and not isinstance(exc, zipfile.BadZipFile) and exc.errno:
            why = f"it cannot be read ({exc.strerror})"
        else:
            why = "it is truncated or corrupt (not a complete PyTorch file)"
    raise JepaError(
        f"{path} cannot be used as {what}: {why}. Replace it with the file the run wrote, or "
        f"train again with `jepa run {_config_of(path)}`."
    )


def load_state(module: torch.nn.Module, state: Any, path: Path) -> None:
    """``module.load_state_dict`` with keys or shapes that do not fit as a clear error."""
    if not isinstance(state, dict):
        raise JepaError(f"{path} holds a {type(state).__name__}, not a state dict of weights.")
    try:
        module.load_state_dict(state)
    except RuntimeError as exc:
        detail = " ".join(line.strip() for line in str(exc).splitlines()[1:4])
        detail = detail if len(detail) <= 300 else detail[:297] + "..."
        raise JepaError(
            f"the weights in {path} do not fit the networks its recipe builds ({detail}). "
            f"The file comes from another recipe or was replaced; restore the run's own file "
            f"or train again with `jepa run {_config_of(path)}`."
        ) from None


def _config_of(path: Path) -> Path:
    """The config.yaml of the run a weight file belongs to (models/x.pt or checkpoint.pt)."""
    run_dir = path.parent.parent if path.parent.name == "models" else path.parent
    return run_dir / "config.yaml"


def load_checkpoint(path: Path) -> TrainState:
    return TrainState.from_dict(load_weights(path, "a checkpoint"), path)


def remove_stale_temporaries(run_dir: Path) -> None:
    """Delete checkpoint files a killed process left half-written (never the real one)."""
    for tmp in run_dir.glob(f"{TMP_PREFIX}*{TMP_SUFFIX}"):
        tmp.unlink(missing_ok=True)
        log.info("removed the unfinished temporary checkpoint %s", tmp)


def is_finished(run_dir: Path) -> bool:
    """A run is finished once its metrics.json is written (evaluation may follow)."""
    return (run_dir / "metrics.json").exists()


def resume_state(run_dir: Path, recipe: dict[str, Any]) -> TrainState | None:
    """The state to continue ``run_dir`` from, or ``None`` when the run already finished.

    ``recipe`` is the resolved recipe read from the run's config.yaml: it must be the one the
    checkpoint was written with.
    """
    if is_finished(run_dir):
        return None
    path = run_dir / CHECKPOINT_NAME
    remove_stale_temporaries(run_dir)
    if not path.exists():
        raise JepaError(
            f"{run_dir} holds no {CHECKPOINT_NAME}: it stopped before its first epoch ended. "
            f"Start it again with `jepa run {run_dir / 'config.yaml'}`."
        )
    state = load_checkpoint(path)
    if state.recipe_hash != recipe_hash(recipe):
        keys = changed_keys(state.recipe, recipe)
        raise JepaError(
            f"{run_dir / 'config.yaml'} differs from the recipe {path.name} was written with "
            f"(changed: {', '.join(keys) or 'formatting of values'}); resuming would mix two "
            f"recipes. Restore those values, or start a new run with "
            f"`jepa run {run_dir / 'config.yaml'}`."
        )
    return state


def rng_state(generator: torch.Generator) -> dict[str, Any]:
    state = {"torch": torch.get_rng_state(), "sampler": generator.get_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any], generator: torch.Generator) -> None:
    torch.set_rng_state(state["torch"])
    generator.set_state(state["sampler"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
