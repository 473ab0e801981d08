"""The Python API: train a recipe, reopen a finished run, and forecast from a notebook.

Everything here works in the dataset's own units ("raw observations"): coordinates as the
dataset simulates them, frames as the dataset stores them (e.g. uint8) or as float frames in
[0, 1]. What goes in is converted with the dataset's ``to_float``; what comes out is float
observations of shape ``[..., *dataset.obs_shape]`` on the CPU, never a normalised or latent
form the user would have to undo.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import torch
from torch import nn

from jepa_framework.artifacts import METRICS_NAME
from jepa_framework.assemble import Assembly
from jepa_framework.data import DynamicsDataset
from jepa_framework.errors import JepaError
from jepa_framework.model import JEPA
from jepa_framework.recipe import Recipe, load_recipe, unstructure_recipe

ArrayLike = torch.Tensor | np.ndarray


def train(
    recipe: str | Path | Recipe,
    overrides: Sequence[str] = (),
    *,
    device: str | None = None,
    host: Any = None,
) -> LoadedRun:
    """Run a recipe end to end, exactly as ``jepa run`` does, and return the finished run.

    ``recipe`` is a recipe file, the name of a registered recipe (``"pendulum"``) or a
    :class:`~jepa_framework.recipe.Recipe`; ``overrides`` are ``key.path=value`` strings as on
    the command line. ``device`` chooses where the returned run's networks live (default: the
    recipe's ``train.device``).
    """
    from jepa_framework.runner import run_recipe

    host = _host(host)
    resolved = resolve_recipe(recipe, overrides, host)
    run_dir = run_recipe(resolved, host)
    return load_run(run_dir, device=device, host=host)


def resolve_recipe(recipe: str | Path | Recipe, overrides: Sequence[str], host: Any) -> Recipe:
    """A validated recipe from a file, a registered name or a Recipe, with overrides applied."""
    if isinstance(recipe, Recipe):
        if not overrides:
            return recipe
        from jepa_framework.overrides import apply_overrides
        from jepa_framework.recipe import structure_recipe

        raw, orphans = apply_overrides(unstructure_recipe(recipe), overrides)
        return structure_recipe(raw, host, f"recipe '{recipe.name}'", overrides, orphans)
    resolved, _ = load_recipe(str(recipe), list(overrides), host)
    return resolved


def load_run(
    path: str | Path, *, device: str | torch.device | None = None, host: Any = None
) -> LoadedRun:
    """Reopen a finished run directory: its typed recipe, dataset and trained networks.

    The networks are in eval mode on ``device`` (``"cpu"``, ``"cuda"``, ``"auto"``; default:
    the recipe's ``train.device``). The dataset is rebuilt from the recipe (from the cache when
    it is there).
    """
    from jepa_framework.evaluate.loading import load_run as load_assembly

    run_dir = Path(path)
    if not run_dir.is_dir():
        raise JepaError(f"run directory {run_dir} does not exist.")
    host = _host(host)
    recipe, assembly = load_assembly(run_dir, host, device=None if device is None else str(device))
    assembly.model.eval()
    assembly.decoder.eval()
    return LoadedRun(run_dir, recipe, assembly, host)


def _host(host: Any) -> Any:
    if host is not None:
        return host
    from jepa_framework.plugins import host as default_host

    return default_host()


@attrs.define(eq=False)
class LoadedRun:
    """A finished run, ready to encode, roll out, decode, forecast and evaluate.

    Shapes: windows and contexts are ``[B, T, *obs]`` (T >= ``history``; the last ``history``
    frames are used), latents ``[B, D]``, rollouts ``[B, steps, D]``, observations
    ``[..., *obs_shape]``. Inputs may be torch tensors or numpy arrays, stored (as in
    ``dataset.observations``) or float observations; outputs are float tensors on the CPU.
    """

    path: Path
    recipe: Recipe
    assembly: Assembly
    host: Any = attrs.field(repr=False)

    @property
    def dataset(self) -> DynamicsDataset:
        return self.assembly.dataset

    @property
    def model(self) -> JEPA:
        return self.assembly.model

    @property
    def decoder(self) -> nn.Module:
        return self.assembly.decoder

    @property
    def device(self) -> torch.device:
        return self.assembly.device

    @property
    def history(self) -> int:
        """Frames per context window."""
        return self.model.history

    @property
    def metrics(self) -> dict[str, Any]:
        """metrics.json of the run (losses, collapse diagnostics, timings)."""
        import json

        return json.loads((self.path / METRICS_NAME).read_text())

    def sample(self, n: int = 1, frames: int = 100, seed: int = 0) -> tuple[torch.Tensor, ...]:
        """``n`` fresh trajectories of ``frames`` frames: (stored observations, states)."""
        return self.dataset.generate(n, frames, seed)

    # --- the model, in raw observations ---------------------------------------------------

    @torch.no_grad()
    def encode(self, windows: ArrayLike) -> torch.Tensor:
        """Windows [B, T >= history, *obs] -> latents [B, D] (of the last ``history`` frames)."""
        frames = self._observations(windows, "windows")
        return self.model.encode_context(frames.to(self.device)).float().cpu()

    @torch.no_grad()
    def rollout(self, z: ArrayLike, steps: int) -> torch.Tensor:
        """Latents [B, D] -> the predictor applied ``steps`` times: [B, steps, D]."""
        z = torch.as_tensor(z, dtype=torch.float32)
        if z.dim() != 2:
            raise JepaError(f"rollout expects latents [B, D]; got shape {list(z.shape)}.")
        _check_steps(steps)
        return self.model.rollout(z.to(self.device), steps).movedim(0, 1).float().cpu()

    @torch.no_grad()
    def decode(self, z: ArrayLike) -> torch.Tensor:
        """Latents [..., D] -> observations [..., *obs_shape] (the decoder, in chunks)."""
        z = torch.as_tensor(z, dtype=torch.float32)
        lead = z.shape[:-1]
        flat = z.reshape(-1, z.shape[-1])
        parts = [self.decoder(p.to(self.device)).float().cpu() for p in flat.split(512)]
        out = torch.cat(parts) if parts else torch.empty(0, *self.dataset.obs_shape)
        return out.view(*lead, *self.dataset.obs_shape)

    def forecast(self, context: ArrayLike, steps: int) -> torch.Tensor:
        """Context frames [B, T >= history, *obs] -> the next ``steps`` frames [B, steps, *obs].

        Encodes the last ``history`` frames, rolls out in latent space, decodes every step.
        """
        _check_steps(steps)
        return self.decode(self.rollout(self.encode(context), steps))

    def evaluate(self) -> dict[str, Any]:
        """Probes, forecasts and baselines, as ``jepa eval``; writes eval.json and returns it."""
        from jepa_framework.evaluate.report import evaluate
        from jepa_framework.training import jepa_plan

        plan = jepa_plan(self.recipe, len(self.assembly.split.train))
        return evaluate(self.recipe, self.assembly, self.path, self.host, plan)

    # --- conversions ----------------------------------------------------------------------

    def _observations(self, values: ArrayLike, what: str) -> torch.Tensor:
        """Stored or float observations [B, T, ...] -> float observations [B, T, *obs_shape]."""
        x = torch.as_tensor(values)
        obs_shape = tuple(self.dataset.obs_shape)
        stored_shape = tuple(self.dataset.observations.shape[2:])
        if x.is_floating_point() and tuple(x.shape[2:]) == obs_shape and x.dim() >= 2:
            frames = x.float()
        elif tuple(x.shape[2:]) == stored_shape and x.dim() >= 2:
            frames = self.dataset.to_float(x)
        else:
            raise JepaError(
                f"{what} must be [batch, frames, *obs] with obs {list(obs_shape)} (floats) or "
                f"{list(stored_shape)} (as stored in dataset.observations); got shape "
                f"{list(x.shape)}."
            )
        if frames.shape[1] < self.history:
            raise JepaError(
                f"{what} hold {frames.shape[1]} frame(s) but this model encodes windows of "
                f"{self.history} (data.history); pass at least {self.history}."
            )
        return frames


def _check_steps(steps: int) -> None:
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise JepaError(f"steps must be a positive integer, got {steps!r}.")
