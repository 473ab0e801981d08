"""The train state of a run, written atomically and read back with ``weights_only=True``.

:class:`TrainState` is the one typed record of a checkpoint; :func:`resume_state` holds every
rule about continuing a run (finished, never checkpointed, recipe changed, damaged file).
Loading never executes pickled code and never suggests turning that protection off.

:func:`atomic_path` and :func:`write_file` are the one way a run writes any file (checkpoint,
weights, config.yaml, JSON, figures, video): into a temporary name beside it, checked and
fsynced, then renamed over it, so a full disk or a kill leaves the old file or the new one,
whole, and never a partial one. :func:`write_error` turns the failure into a message naming the
file, the space it needs where that is known, and what is kept.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import json
import logging
import os
import pickle
import secrets
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import torch

from jepa_framework.core.errors import JepaError

log = logging.getLogger("jepa_framework")

CHECKPOINT_NAME = "checkpoint.pt"
CONFIG_NAME = "config.yaml"
#: a file being written is ``.<stem>-<random>.tmp<suffix>`` beside it (the suffix stays last:
#: matplotlib and ffmpeg choose the format from it)
TMP_MARK = ".tmp"
TMP_PREFIX, TMP_SUFFIX = ".checkpoint-", TMP_MARK  # the checkpoint's: .checkpoint-<r>.tmp.pt
#: errno values that mean "no space": a full disk or an exhausted quota
NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})
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
    """Serialise in memory, then :func:`write_file` (space reserved, fsynced, renamed).

    A run killed at any instant leaves either the previous checkpoint or the new one, whole. A
    failed write (disk full, folder gone) leaves the previous one and is a clear error.
    """
    data = state.to_dict() if isinstance(state, TrainState) else state
    write_file(path, serialise(data, path))


def serialise(data: Any, path: Path) -> bytes:
    """``torch.save`` into memory, so the size is known before anything touches the disk."""
    buffer = io.BytesIO()
    try:
        torch.save(data, buffer)
    except OSError as exc:
        raise write_error(path, exc) from None
    return buffer.getvalue()


def write_file(path: Path, data: bytes) -> None:
    """``data`` into ``path`` atomically: the space is reserved before a byte is written, and
    the file is read back to its full size before it replaces the old one."""
    with atomic_path(path, needed=len(data)) as tmp:
        with open(tmp, "r+b") as f:
            _reserve(f.fileno(), len(data))
            f.write(data)
        if tmp.stat().st_size != len(data):
            raise OSError(errno.EIO, f"only {tmp.stat().st_size} of {len(data)} bytes were written")


@contextlib.contextmanager
def atomic_path(path: Path, needed: int | None = None) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; on a clean exit it is fsynced, checked
    (not empty) and renamed over ``path``.

    On any failure the temporary file is removed, ``path`` keeps what it held before, and an
    ``OSError`` becomes :func:`write_error` (``needed``: the bytes the file takes, if known).
    The file gets the usual permissions (umask applied), not a temporary file's 0600.
    """
    tmp: Path | None = None
    try:
        tmp = _create_temporary(path)
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
            size = os.fstat(fd).st_size
        finally:
            os.close(fd)
        if size == 0:
            raise OSError(errno.EIO, "the writer produced an empty file")
        os.replace(tmp, path)
        tmp = None
        _sync_folder(path.parent)
    except OSError as exc:
        raise write_error(path, exc, needed) from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                tmp.unlink()


def _create_temporary(path: Path) -> Path:
    for _ in range(100):
        tmp = path.with_name(f".{path.stem}-{secrets.token_hex(4)}{TMP_MARK}{path.suffix}")
        try:
            os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
            return tmp
        except FileExistsError:
            continue
    raise OSError(errno.EEXIST, f"no free temporary name beside {path.name}")


def _reserve(fd: int, size: int) -> None:
    """Allocate ``size`` bytes up front, so a full disk fails here, before any write; a
    filesystem that cannot reserve space (EOPNOTSUPP, EINVAL) is written to as it is."""
    if size <= 0 or not hasattr(os, "posix_fallocate"):
        return
    try:
        os.posix_fallocate(fd, 0, size)
    except OSError as exc:
        if exc.errno in NO_SPACE:
            raise


def _sync_folder(folder: Path) -> None:
    """fsync the folder so the rename itself survives a crash (where folders can be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # the file is in place; some filesystems cannot sync a folder
    finally:
        os.close(fd)


def run_folder_of(path: Path) -> Path:
    """The run folder a file of a run lies in (models/x.pt, or directly in it)."""
    return path.parent.parent if path.parent.name == "models" else path.parent


def folder_gone_error(run_dir: Path, while_: str, names: list[str] | None = None) -> JepaError:
    """The run folder disappeared under a running run: nothing in it can be resumed.

    ``names``: what the folder held, where known (else the files every run writes)."""
    held = ", ".join(names) if names else f"config.yaml, run.log, its {CHECKPOINT_NAME} if any"
    return JepaError(
        f"the run folder {run_dir} no longer exists: it was deleted {while_}, and with it "
        f"everything the run had written there ({held}). Nothing is left to resume; start the "
        f"run again from its recipe with `jepa run RECIPE`."
    )


def write_error(
    path: Path, exc: OSError, needed: int | None = None, then: str | None = None
) -> JepaError:
    """A failed write as a user-facing error: the file, why, the space needed where known, and
    what to do; the files written before stay as they were (no partial file is left)."""
    run_dir = run_folder_of(path)
    if not run_dir.is_dir():
        return folder_gone_error(run_dir, f"while the run was writing {path.name}")
    reason = exc.strerror or str(exc)
    if then is None:
        then = _next_step(run_dir)
    if exc.errno in NO_SPACE:
        free = _free_space(run_dir)
        space = [f"it needs {format_size(needed)}"] if needed else []
        if free is not None:
            space.append(f"{format_size(free)} free")
        return JepaError(
            f"could not write {path}: the disk is full ({reason}"
            f"{'; ' + ', '.join(space) if space else ''}). "
            f"Nothing was left half-written and the files written before are kept. Free some "
            f"space (or choose another output.dir), then {then}."
        )
    return JepaError(
        f"could not write {path}: {reason}. Nothing was left half-written and the files "
        f"written before are kept. Make the folder writable (or choose another output.dir), "
        f"then {then}."
    )


def _next_step(run_dir: Path) -> str:
    config = run_dir / CONFIG_NAME
    if is_finished(run_dir):
        return "run the same command again (the run itself is complete)"
    if config.exists() and (run_dir / CHECKPOINT_NAME).exists():
        return f"resume with `jepa run --resume {run_dir}`"
    if config.exists():
        return f"start the run again with `jepa run {config}`"
    return "start the run again"


def _free_space(folder: Path) -> int | None:
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def format_size(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError  # unreachable


def load_weights(path: Path, what: str = "weights") -> Any:
    """``torch.load(weights_only=True)`` with every failure turned into a clear error."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise JepaError(f"{path} does not exist.") from None
    except pickle.UnpicklingError as exc:
        if _refused_objects(path, exc):
            why = (
                "it holds Python objects other than tensors and plain data, so it was not "
                "loaded (a file from another program, or one that could run code when "
                "unpickled)"
            )
        else:  # the unpickler stumbled on bytes that are no pickle at all
            why = "it is damaged or not a checkpoint at all (not a PyTorch file)"
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


def _refused_objects(path: Path, exc: pickle.UnpicklingError) -> bool:
    """Whether a weights-only load refused a well-formed pickle's Python objects (its GLOBALs),
    rather than tripping over random bytes ("Unsupported operand", "invalid load key")."""
    if "global" not in str(exc).lower():
        return False
    try:
        with open(path, "rb") as f:
            head = f.read(2)
        return zipfile.is_zipfile(path) or head[:1] == b"\x80"  # torch's zip, or a pickle
    except OSError:
        return False


def load_checkpoint(path: Path) -> TrainState:
    return TrainState.from_dict(load_weights(path, "a checkpoint"), path)


def remove_stale_temporaries(run_dir: Path) -> None:
    """Delete files a killed process left half-written under their temporary names (see
    :func:`atomic_path`), in the run folder and models/; never a real file."""
    for folder in (run_dir, run_dir / "models"):
        for pattern in (f".*-*{TMP_MARK}", f".*-*{TMP_MARK}.*"):
            for tmp in folder.glob(pattern):
                tmp.unlink(missing_ok=True)
                log.info("removed the unfinished temporary file %s", tmp)


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
