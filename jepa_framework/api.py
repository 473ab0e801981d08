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

from jepa_framework.config.recipe import Recipe, load_recipe, unstructure_recipe
from jepa_framework.core.errors import JepaError
from jepa_framework.core.validators import DEVICE_PATTERN, MAX_COUNT, MAX_SEED
from jepa_framework.datasets.base import DynamicsDataset
from jepa_framework.models.jepa import JEPA
from jepa_framework.pipeline.artifacts import METRICS_NAME
from jepa_framework.pipeline.assemble import Assembly

ArrayLike = torch.Tensor | np.ndarray

#: most trajectories ``sample`` draws, and most frames or steps ``sample``, ``rollout`` and
#: ``forecast`` produce: the bound recipes put on counts
MAX_STEPS = MAX_COUNT
#: most bytes of one tensor that ``sample``, ``rollout``, ``decode`` or ``forecast`` returns
#: (8 GiB): a larger request is refused before any work instead of exhausting memory
MAX_OUTPUT_BYTES = 8 * 2**30


def train(
    recipe: str | Path | Recipe,
    overrides: Sequence[str] = (),
    *,
    device: str | None = None,
    host: Any = None,
) -> LoadedRun:
    """Run a recipe end to end, exactly as ``jepa run`` does, and return the finished run.

    ``recipe`` is a recipe file, the name of a registered recipe (``"pendulum"``) or a
    :class:`~jepa_framework.config.recipe.Recipe`; ``overrides`` are ``key.path=value`` strings as
    on
    the command line. ``device`` chooses where the returned run's networks live (default: the
    recipe's ``train.device``).
    """
    from jepa_framework.jobs.runner import run_recipe

    _check_device(device)
    host = _host(host)
    resolved = resolve_recipe(recipe, overrides, host)
    run_dir = run_recipe(resolved, host)
    return load_run(run_dir, device=device, host=host)


def resolve_recipe(recipe: str | Path | Recipe, overrides: Sequence[str], host: Any) -> Recipe:
    """A validated recipe from a file, a registered name or a Recipe, with overrides applied."""
    if isinstance(recipe, Recipe):
        if not overrides:
            return recipe
        from jepa_framework.config.overrides import apply_overrides
        from jepa_framework.config.recipe import structure_recipe

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
    it is there). Files missing under models/ of a finished run are written again from its
    checkpoint.pt, which holds the final weights; a run that did not finish is a clear error
    that says how to resume it.
    """
    from jepa_framework.evaluate.loading import load_run as load_assembly

    _check_device(device)
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
    from jepa_framework.plugin.host import host as default_host

    return default_host()


@attrs.define(eq=False)
class LoadedRun:
    """A finished run, ready to encode, roll out, decode, forecast and evaluate.

    Shapes: windows and contexts are ``[B, T, *obs]`` (T >= ``history``; the last ``history``
    frames are used), latents ``[B, D]``, rollouts ``[B, steps, D]``, observations
    ``[..., *obs_shape]``. Inputs may be torch tensors or numpy arrays, stored (as in
    ``dataset.observations``) or float observations; outputs are float tensors on the CPU.

    Inputs are checked before any work and refused with a :class:`JepaError` naming the
    argument: anything but a tensor or array of numbers, a latent whose last size is not the
    run's ``model.embedding_dim``, counts below 1 or above :data:`MAX_STEPS`, and requests whose
    result would exceed :data:`MAX_OUTPUT_BYTES`.
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
        """``n`` fresh trajectories of ``frames`` frames: (stored observations, states).

        ``n`` and ``frames`` are whole numbers from 1 to :data:`MAX_STEPS`, ``seed`` one from 0
        to 2**32 - 1, and the observations must fit in :data:`MAX_OUTPUT_BYTES`.
        """
        _check_count(n, "n")
        _check_count(frames, "frames")
        _check_count(seed, "seed", low=0, high=MAX_SEED)
        stored = self.dataset.observations
        _check_size(
            (n, frames, *stored.shape[2:]), stored.element_size(), f"sample(n={n}, frames={frames})"
        )
        return self.dataset.generate(n, frames, seed)

    # --- the model, in raw observations ---------------------------------------------------

    @torch.no_grad()
    def encode(self, windows: ArrayLike) -> torch.Tensor:
        """Windows [B, T >= history, *obs] -> latents [B, D] (of the last ``history`` frames)."""
        frames = self._observations(windows, "windows")
        return self.model.encode_context(frames.to(self.device)).float().cpu()

    @torch.no_grad()
    def rollout(self, z: ArrayLike, steps: int, actions: ArrayLike | None = None) -> torch.Tensor:
        """Latents [B, D] -> the predictor applied ``steps`` times: [B, steps, D].

        ``steps`` is a whole number from 1 to :data:`MAX_STEPS`. A run whose predictor takes
        actions needs ``actions`` [B, steps, A] (step k applies ``actions[:, k]``); an
        autonomous one takes none.
        """
        z = self._latents(z, "rollout", exact_dim=2)
        _check_steps(steps)
        _check_size((z.shape[0], steps, z.shape[1]), 4, f"rollout(steps={steps})")
        moves = self._actions(actions, z.shape[0], steps)
        return self.model.rollout(z.to(self.device), steps, moves).movedim(0, 1).float().cpu()

    def plan(self, context: ArrayLike, goal: ArrayLike, seed: int = 0) -> torch.Tensor:
        """Actions [horizon, A] that the recipe's planner (``plan.planner``) chooses to reach
        ``goal`` from ``context``, in the world model's latent space.

        ``context`` is the episode so far, observations [T, *obs] (the last ``history`` are
        used) or one observation [*obs]; ``goal`` is one observation [*obs]; both stored or
        float, as for :meth:`encode`. Execute the first action and plan again (receding
        horizon), as ``jepa plan`` does. Only runs whose predictor takes actions can plan.
        """
        from jepa_framework.planning.report import check_acting, plan_actions

        check_acting(self.recipe, self.assembly, self.path)
        _check_count(seed, "seed", low=0, high=MAX_SEED)
        obs = tuple(self.dataset.obs_shape)
        stored = tuple(self.dataset.observations.shape[2:])
        x = _as_numbers(context, "context")
        if tuple(x.shape) in (obs, stored):
            x = x[None]
        frames = self._observations(x[None], "context", min_frames=1)[0]
        g = _as_numbers(goal, "goal")
        if tuple(g.shape) not in (obs, stored):
            raise JepaError(
                f"goal must be one observation of shape {list(obs)} (floats) or {list(stored)} "
                f"(as stored in dataset.observations); got shape {list(g.shape)}."
            )
        target = self._observations(g[None, None], "goal", min_frames=1)[0, 0]
        return plan_actions(self.recipe, self.assembly, self.host, frames, target, seed)

    @torch.no_grad()
    def decode(self, z: ArrayLike) -> torch.Tensor:
        """Latents [..., D] -> observations [..., *obs_shape] (the decoder, in chunks)."""
        z = self._latents(z, "decode")
        _check_size((*z.shape[:-1], *self.dataset.obs_shape), 4, "decode")
        lead = z.shape[:-1]
        flat = z.reshape(-1, z.shape[-1])
        parts = [self.decoder(p.to(self.device)).float().cpu() for p in flat.split(512)]
        out = torch.cat(parts) if parts else torch.empty(0, *self.dataset.obs_shape)
        return out.view(*lead, *self.dataset.obs_shape)

    def forecast(
        self, context: ArrayLike, steps: int, actions: ArrayLike | None = None
    ) -> torch.Tensor:
        """Context frames [B, T >= history, *obs] -> the next ``steps`` frames [B, steps, *obs].

        Encodes the last ``history`` frames, rolls out in latent space, decodes every step.
        ``steps`` is a whole number from 1 to :data:`MAX_STEPS`, and the forecast (float32,
        ``B * steps * prod(obs_shape)`` numbers) must fit in :data:`MAX_OUTPUT_BYTES`. A run
        whose predictor takes actions needs ``actions`` [B, steps, A], as :meth:`rollout`.
        """
        _check_steps(steps)
        batch = _as_numbers(context, "context").shape[:1]
        _check_size((*batch, steps, *self.dataset.obs_shape), 4, f"forecast(steps={steps})")
        return self.decode(self.rollout(self.encode(context), steps, actions))

    def evaluate(self) -> dict[str, Any]:
        """Probes, forecasts and baselines, as ``jepa eval``; writes eval.json and returns it.

        It says on stderr (which a notebook shows) that it has started, and prints the summary
        table when done, as ``jepa eval`` does.
        """
        import time

        from jepa_framework.core.progress import say
        from jepa_framework.evaluate import format_summary
        from jepa_framework.evaluate.report import evaluate
        from jepa_framework.jobs.runner import GLOSSARY
        from jepa_framework.pipeline.training import phase_plans

        plans = phase_plans(self.recipe, len(self.assembly.split.train))
        say(
            f"evaluating {self.path}: probes, forecasts and baselines trained at this run's "
            f"budget (a minute or more at the built-in recipes' sizes) ..."
        )
        started = time.perf_counter()
        report = evaluate(self.recipe, self.assembly, self.path, self.host, plans)
        say(
            f"evaluation ({time.perf_counter() - started:.1f}s), written to "
            f"{self.path / 'eval.json'}:\n\n{format_summary(report)}\n\n{GLOSSARY}"
        )
        return report

    # --- conversions ----------------------------------------------------------------------

    def _actions(self, actions: ArrayLike | None, batch: int, steps: int) -> torch.Tensor | None:
        """Actions [B, steps, A] as float32 on the device, checked against the run's predictor."""
        want = self.model.action_dim
        if actions is None and not want:
            return None
        if actions is None:
            raise JepaError(
                f"this run's predictor conditions on actions: pass actions [{batch}, {steps}, "
                f"{want}] (step k applies actions[:, k])."
            )
        if not want:
            raise JepaError("this run's predictor is autonomous: it takes no actions; pass none.")
        a = _as_numbers(actions, "actions").float()
        if tuple(a.shape) != (batch, steps, want):
            raise JepaError(
                f"actions must be [batch, steps, action_dim] = [{batch}, {steps}, {want}]; got "
                f"shape {list(a.shape)}."
            )
        return a.to(self.device)

    def _observations(self, values: ArrayLike, what: str, min_frames: int = 0) -> torch.Tensor:
        """Stored or float observations [B, T, ...] -> float observations [B, T, *obs_shape]."""
        x = _as_numbers(values, what)
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
        if frames.shape[1] < (min_frames or self.history):
            raise JepaError(
                f"{what} hold {frames.shape[1]} frame(s) but this model encodes windows of "
                f"{self.history} (data.history); pass at least {self.history}."
            )
        return frames

    def _latents(self, z: ArrayLike, what: str, exact_dim: int | None = None) -> torch.Tensor:
        """Latents [B, D] (``exact_dim=2``) or [..., D] as float32, D = model.embedding_dim."""
        x = _as_numbers(z, f"{what}'s latents").float()
        dim = self.recipe.model.embedding_dim
        shape = "[B, D]" if exact_dim == 2 else "[..., D]"
        if (exact_dim is not None and x.dim() != exact_dim) or x.dim() < 1 or x.shape[-1] != dim:
            raise JepaError(
                f"{what} expects latents {shape} with D = {dim} (this run's model.embedding_dim, "
                f"as encode returns them); got shape {list(x.shape)}."
            )
        return x


def _as_numbers(values: Any, what: str) -> torch.Tensor:
    """``values`` as a tensor, when it is a torch tensor or numpy array of real numbers."""
    if not isinstance(values, (torch.Tensor, np.ndarray)):
        raise JepaError(
            f"{what} must be a torch.Tensor or numpy.ndarray; got {type(values).__name__} "
            f"{_short(values)}."
        )
    kind = values.dtype.kind if isinstance(values, np.ndarray) else None
    if kind is not None and kind not in "iuf":
        raise JepaError(
            f"{what} must hold real numbers; got a numpy array of dtype {values.dtype}."
        )
    x = torch.as_tensor(values)
    if x.dtype == torch.bool or x.is_complex():
        raise JepaError(f"{what} must hold real numbers; got dtype {x.dtype}.")
    return x


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def _check_count(value: Any, name: str, low: int = 1, high: int = MAX_STEPS) -> None:
    """A whole number in [low, high], named in the error."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise JepaError(f"{name} must be a whole number from {low} to {high}; got {value!r}.")


def _check_steps(steps: int) -> None:
    """Rollout and forecast steps: a positive integer, at most MAX_STEPS."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise JepaError(f"steps must be a positive integer, got {steps!r}.")
    if steps > MAX_STEPS:
        raise JepaError(
            f"steps must be at most {MAX_STEPS} (MAX_STEPS), got {steps}; forecast in pieces, "
            f"feeding the last frames back as context."
        )


def _check_size(shape: tuple[int, ...], itemsize: int, what: str) -> None:
    """Refuse a result of ``shape`` (numbers of ``itemsize`` bytes) beyond MAX_OUTPUT_BYTES."""
    size = int(np.prod(shape, dtype=object)) * itemsize
    if size > MAX_OUTPUT_BYTES:
        raise JepaError(
            f"{what} would return {size / 2**30:.1f} GiB (shape {list(shape)}), more than the "
            f"{MAX_OUTPUT_BYTES // 2**30} GiB that one call may return (MAX_OUTPUT_BYTES); "
            f"ask for fewer trajectories or steps at a time."
        )


def _check_device(device: Any) -> None:
    """None, or auto, cpu, mps, cuda or cuda:N as a string or torch.device."""
    if device is None:
        return
    name = str(device) if isinstance(device, torch.device) else device
    if not isinstance(name, str) or not DEVICE_PATTERN.fullmatch(name):
        raise JepaError(
            f"device must be auto, cpu, mps, cuda or cuda:N (or a torch.device); got "
            f"{_short(device)}."
        )
