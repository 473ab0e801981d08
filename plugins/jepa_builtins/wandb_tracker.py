"""The `wandb` tracker: scalars, media, summary metrics and final weights to Weights & Biases.

wandb is an optional extra and slow to import, so it is imported by the tracker's factory only:
`jepa --help` and runs that do not ask for W&B never import it. The factory runs before any work,
so a missing extra fails at once; after that, a W&B failure (network down, quota, a bug in wandb)
is logged as a warning and training goes on.

The default mode is ``offline``: nothing leaves the machine unless a recipe asks for ``online``
(`wandb sync <run dir>/wandb/offline-run-*` uploads an offline run later).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import attrs
from attrs.validators import in_

from jepa_framework import hookimpl
from jepa_framework.core.errors import JepaError

log = logging.getLogger("jepa_framework")

MODES = ("online", "offline", "disabled")
#: key in ``run.state`` (saved in every checkpoint) under which the W&B run id survives a resume
STATE_KEY = "wandb_run_id"
INSTALL_HINT = (
    "the wandb tracker needs the optional 'wandb' extra, which is not installed: run "
    "`uv sync --extra wandb` in a checkout, or `pip install '.[wandb]'` from one "
    "(jepa-framework is not on PyPI)"
)
MEDIA = {
    "reconstruction": "reconstruction.png",
    "loss_curves": "loss_curves.png",
    "forecast": "forecast.mp4",
}


@attrs.frozen
class WandbParams:
    """Options of ``wandb.init``; ``dir`` is where the ``wandb/`` folder goes (default: run dir)."""

    # offline (files only, sync later with `wandb sync`) | online | disabled
    mode: str = attrs.field(default="offline", validator=in_(MODES))
    # W&B project
    project: str = "jepa"
    # W&B team or user (default: your default entity)
    entity: str | None = None
    # W&B group, e.g. one per sweep
    group: str | None = None
    # W&B tags of the run
    tags: list[str] = attrs.Factory(list)
    #: W&B display name (default: the run directory's name); not ``name``, which picks the tracker
    run_name: str | None = None
    dir: str | None = None


def make_wandb_tracker(params: WandbParams) -> WandbTracker:
    """Weights & Biases: scalars, reconstruction, forecast video, weights (offline by default)."""
    if params.mode == "disabled":
        return WandbTracker(params, None)
    try:
        import wandb
    except ImportError:
        raise JepaError(f"{INSTALL_HINT}.") from None
    except Exception as exc:  # installed but broken (e.g. a protobuf mismatch)
        raise JepaError(f"wandb is installed but cannot be imported: {exc}") from None
    return WandbTracker(params, wandb)


class WandbTracker:
    """One W&B run per jepa run; every method swallows W&B errors after logging a warning."""

    def __init__(self, params: WandbParams, wandb: Any) -> None:
        self.params = params
        self._wandb = wandb
        self._run: Any = None
        self._log_failed = False

    def start(self, run: Any) -> None:
        if self._wandb is None:
            return
        try:
            self._run = self._init(run)
            run.state[STATE_KEY] = self._run.id
        except Exception as exc:
            log.warning("wandb: could not start a run, W&B logging is off for this run: %s", exc)
            self._run = None

    def _init(self, run: Any) -> Any:
        from jepa_framework.config.recipe import unstructure_recipe

        p = self.params
        directory = Path(p.dir) if p.dir else Path(run.dir)
        directory.mkdir(parents=True, exist_ok=True)
        run_id = run.state.get(STATE_KEY)
        return self._wandb.init(
            mode=p.mode,
            project=p.project,
            entity=p.entity,
            group=p.group,
            tags=list(p.tags) or None,
            name=p.run_name or run.name,
            dir=str(directory),
            config=unstructure_recipe(run.recipe),
            id=run_id,
            resume="allow" if run_id else None,
        )

    def log(self, scalars: dict[str, float], step: int) -> None:
        if self._run is None:
            return
        try:
            self._run.log(dict(scalars), step=step)
        except Exception as exc:
            if not self._log_failed:  # once, not every 10 steps
                log.warning("wandb: could not log scalars (further failures are silent): %s", exc)
                self._log_failed = True

    def finish(self, run: Any, metrics: dict[str, Any]) -> None:
        if self._run is None:
            return
        if metrics.get("failed"):  # mark the W&B run failed; there are no artifacts to send
            try:
                self._run.finish(exit_code=1)
            except Exception as exc:
                log.warning("wandb: could not finish the failed run: %s", exc)
            self._run = None
            return
        try:
            for step in (self._log_media, self._log_summary, self._log_weights):
                try:
                    step(Path(run.dir), metrics)
                except Exception as exc:
                    log.warning("wandb: %s failed: %s", step.__name__.lstrip("_"), exc)
            self._run.finish()
        except Exception as exc:
            log.warning("wandb: could not finish the run: %s", exc)
        finally:
            self._run = None

    def _log_media(self, run_dir: Path, metrics: dict[str, Any]) -> None:
        media: dict[str, Any] = {}
        for key, filename in MEDIA.items():
            path = run_dir / filename
            if not path.exists():
                continue
            if path.suffix == ".mp4":  # a file path needs no moviepy
                media[key] = self._wandb.Video(str(path), format="mp4")
            else:
                media[key] = self._wandb.Image(str(path))
        if media:
            self._run.log(media)

    def _log_summary(self, run_dir: Path, metrics: dict[str, Any]) -> None:
        self._run.summary.update(flat_scalars({k: v for k, v in metrics.items() if k != "history"}))

    def _log_weights(self, run_dir: Path, metrics: dict[str, Any]) -> None:
        models = run_dir / "models"
        if not models.is_dir():
            return
        artifact = self._wandb.Artifact(
            f"model-{self._run.id}",
            type="model",
            description=f"final weights of jepa run {run_dir.name}",
            metadata=flat_scalars({k: v for k, v in metrics.items() if k != "history"}),
        )
        artifact.add_dir(str(models), name="models")
        if (run_dir / "config.yaml").exists():
            artifact.add_file(str(run_dir / "config.yaml"))  # how to rebuild the networks
        self._run.log_artifact(artifact)


def flat_scalars(data: dict[str, Any], prefix: str = "") -> dict[str, float | bool]:
    """Nested metrics -> ``{"jepa/val_loss": 0.1, ...}``: finite numbers and booleans only."""
    out: dict[str, float | bool] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flat_scalars(value, f"{name}/"))
        elif isinstance(value, bool) or (isinstance(value, (int, float)) and math.isfinite(value)):
            out[name] = value
    return out


@hookimpl
def register_trackers(register):
    register("wandb", make_wandb_tracker, params=WandbParams)
