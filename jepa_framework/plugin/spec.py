"""The plugin contract: every hook a plugin may implement.

Registration hooks receive a ``register(name, factory, params=ParamsClass)`` callable, one hook per
kind of component. Lifecycle hooks let observers (trackers, loggers, profilers) follow a run.
"""

from __future__ import annotations

from collections.abc import Callable
from os import PathLike
from pathlib import Path
from typing import Any, Protocol

import pluggy

PROJECT_NAME = "jepa_framework"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


class RegisterComponent(Protocol):
    """What a registration hook receives: ``register(name, factory, params=ParamsClass)``.

    ``params`` is an attrs class whose fields are the component's recipe keys (checked, with
    their defaults, when a recipe names the component); ``None`` means it takes no keys.
    """

    def __call__(
        self, name: str, factory: Callable[..., Any], params: type | None = None
    ) -> None: ...


class Run(Protocol):
    """What lifecycle hooks receive (``jepa_framework.pipeline.run.Run`` is one): the resolved
    recipe, the run folder, and ``state``, a dict observers may keep their own values in."""

    recipe: Any
    dir: Path
    state: dict[str, Any]

    @property
    def name(self) -> str: ...


class RegisterRecipe(Protocol):
    """What ``register_recipes`` receives: ``register(name, path_to_yaml)``."""

    def __call__(self, name: str, path: str | PathLike[str]) -> None: ...


@hookspec
def register_datasets(register: RegisterComponent) -> None:
    """Register dataset factories: ``factory(params) -> DynamicsDataset``."""


@hookspec
def register_encoders(register: RegisterComponent) -> None:
    """Register encoder factories: ``factory(params, shapes) -> nn.Module`` (window -> z)."""


@hookspec
def register_predictors(register: RegisterComponent) -> None:
    """Register predictor factories: ``factory(params, shapes) -> nn.Module`` (z_t -> z_t+1)."""


@hookspec
def register_decoders(register: RegisterComponent) -> None:
    """Register decoder factories: ``factory(params, shapes) -> nn.Module`` (z -> last frame)."""


@hookspec
def register_regularizers(register: RegisterComponent) -> None:
    """Register objective factories: ``factory(params) -> Regularizer``."""


@hookspec
def register_trackers(register: RegisterComponent) -> None:
    """Register experiment trackers: ``factory(params) -> Tracker``."""


@hookspec
def register_environments(register: RegisterComponent) -> None:
    """Register environment factories: ``factory(params) -> gymnasium.Env``.

    The environment renders ``rgb_array`` frames, has a ``Box`` action space, and exposes its
    true state as ``env.state`` (an array); ``reset(options={"state": s})`` starts it at ``s``.
    For closed-loop planning it also offers ``sample_task(rng) -> (start, goal)`` states,
    ``distance(state, goal)`` and ``success_radius`` (docs/how-to/plan.md).
    """


@hookspec
def register_planners(register: RegisterComponent) -> None:
    """Register planner factories: ``factory(params) -> Planner``
    (:class:`jepa_framework.planning.problem.Planner`: action sequences of least latent cost)."""


@hookspec
def register_recipes(register: RegisterRecipe) -> None:
    """Register built-in recipes by name: ``register(name, path_to_yaml)``."""


@hookspec
def on_run_start(run: Run) -> None:
    """A run directory exists and the resolved recipe is known; nothing is trained yet."""


@hookspec
def on_epoch_end(run: Run, phase: str, epoch: int, metrics: dict[str, float]) -> None:
    """An epoch of ``phase`` (``"jepa"``, ``"refit"`` or ``"decoder"``) finished with these
    metrics."""


@hookspec
def on_run_end(run: Run, metrics: dict[str, Any]) -> None:
    """The run ended, after every tracker's ``finish(run, metrics)`` with the same ``metrics``.

    On success every artifact is written and ``metrics`` is what went into metrics.json. If the
    run failed (non-finite loss, full disk, interrupt, any error) ``metrics`` is
    ``{"failed": True, "error": "<type>: <message>"}`` and the error propagates afterwards.
    """
