"""YAML recipe -> frozen, typed :class:`Recipe`, with command-line overrides and clear errors.

The libraries do the work: attrs validators hold every range and choice (next to the field they
check), cattrs structures the mapping and finds every problem with its path
(``cattrs.transform_error``), and this module adds component lookup by registry name, a
did-you-mean for unknown keys and a mark on problems that came from the command line. Reading is
bounded (:mod:`jepa_framework.config.safe_yaml`) and only safe tags are built; components are named,
never imported by path, so a recipe cannot execute code.
"""

from __future__ import annotations

import copy
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import attrs
import cattrs
import yaml
from attrs.validators import deep_iterable, in_, optional
from cattrs.errors import ClassValidationError

from jepa_framework.config import safe_yaml
from jepa_framework.config.converter import make_converter, short
from jepa_framework.config.overrides import apply_overrides
from jepa_framework.config.problems import cattrs_problems, recipe_error
from jepa_framework.core.errors import JepaError, RecipeError, did_you_mean
from jepa_framework.core.seeds import derive_seed
from jepa_framework.core.validators import (
    MAX_COUNT,
    MAX_SEED,
    MAX_WIDTH,
    between,
    budget_multiples,
    count,
    device_name,
    folder_name,
    fraction,
    path_text,
    positive,
)

#: the held-out trajectory sets: eval.split chooses which one the forecasts score
SPLITS = ("test", "validation")

__all__ = ["Recipe", "apply_overrides", "dump_recipe", "load_recipe", "structure_recipe"]

# --- components chosen by name ------------------------------------------------------------------


@attrs.frozen
class ComponentSpec:
    """A component picked by registry ``name`` plus its own validated ``params``."""

    kind: ClassVar[str] = ""
    name: str
    params: Any

    def to_dict(self) -> dict[str, Any]:
        params = attrs.asdict(self.params, recurse=True)
        for key, value in attrs.asdict(self.params, recurse=False).items():
            if isinstance(value, ComponentSpec):  # a component inside one (a dataset's env)
                params[key] = value.to_dict()
        return {"name": self.name, **params}


class DatasetSpec(ComponentSpec):
    kind = "datasets"


class EncoderSpec(ComponentSpec):
    kind = "encoders"


class PredictorSpec(ComponentSpec):
    kind = "predictors"


class DecoderSpec(ComponentSpec):
    kind = "decoders"


class RegularizerSpec(ComponentSpec):
    kind = "regularizers"


class TrackerSpec(ComponentSpec):
    kind = "trackers"


class EnvironmentSpec(ComponentSpec):
    kind = "environments"


class PlannerSpec(ComponentSpec):
    kind = "planners"


# --- the recipe -------------------------------------------------------------------------------

field = attrs.field


@attrs.frozen
class DataSection:
    dataset: DatasetSpec
    history: int = field(default=2, validator=count(1, 10_000))  # frames per context window (H)
    val_fraction: float = field(default=0.1, validator=fraction(open_low=True, open_high=True))


@attrs.frozen
class ModelSection:
    encoder: EncoderSpec
    predictor: PredictorSpec
    decoder: DecoderSpec
    embedding_dim: int = field(default=32, validator=count(1, MAX_WIDTH))


@attrs.frozen
class TargetSection:
    """EMA decay of the target encoder, on a cosine schedule from start to end."""

    ema_start: float = field(default=0.99, validator=fraction())
    ema_end: float = field(default=1.0, validator=fraction())


@attrs.frozen
class InverseDynamicsSection:
    """An inverse-dynamics term, for action-conditioned predictors (off at weight 0).

    A small head reads the action a_t back from the context latent z_t and the next window's
    target latent; ``weight`` times its MSE joins phase 1's loss, so the encoder must keep what
    the actions move (EB-JEPA's Two Rooms needs such a term; PLDM uses one too).
    """

    weight: float = field(default=0.0, validator=between(0, 1e6))
    # hidden units of the head's two hidden layers
    hidden_dim: int = field(default=64, validator=count(1, MAX_WIDTH))


@attrs.frozen
class ObjectiveSection:
    regularizer: RegularizerSpec
    # predictor unrolled this many steps in latent space (k)
    rollout_steps: int = field(default=4, validator=count(1, 10_000))
    target: TargetSection = attrs.Factory(TargetSection)
    inverse_dynamics: InverseDynamicsSection = attrs.Factory(InverseDynamicsSection)


@attrs.frozen
class TrainSection:
    # one epoch = every training trajectory once, at a random start
    epochs: int = field(default=20, validator=count(1, 100_000))
    batch_size: int = field(default=256, validator=count(1, 2**20))
    lr: float = field(default=1.0e-3, validator=positive(10.0))
    weight_decay: float = field(default=0.05, validator=between(0, 100))
    warmup_epochs: float = field(default=1.0, validator=between(0, 100_000))
    grad_clip: float = field(default=1.0, validator=between(0, 1e6))  # max grad norm; 0: off
    # auto | cpu | cuda | cuda:N | mps
    device: str = field(default="auto", validator=device_name)
    # CPU threads for torch; 0 = every core of the machine
    threads: int = field(default=0, validator=count(0, 4096))
    precision: str = field(default="fp32", validator=in_(("fp32", "bf16")))  # bf16: autocast
    compile: bool = False  # torch.compile the networks


@attrs.frozen
class RefitSection:
    """Phase 1b (off at 0 epochs): refit the predictor on the frozen encoder's latents.

    Joint training asks the predictor to follow a moving target; once the encoder is final, a
    fresh predictor fitted on its standardised latents forecasts further (the refit_predictor
    control measures exactly this). The latents are encoded once, so an epoch costs little.
    """

    # one epoch = every training trajectory once, at a random window; 0 = no refit
    epochs: int = field(default=0, validator=count(0, 100_000))
    batch_size: int = field(default=256, validator=count(1, 2**20))
    lr: float = field(default=1.0e-3, validator=positive(10.0))
    # latent steps unrolled in the loss; 0 = objective.rollout_steps
    rollout_steps: int = field(default=0, validator=count(0, 10_000))

    def steps(self, objective: ObjectiveSection) -> int:
        return self.rollout_steps or objective.rollout_steps


@attrs.frozen
class DecoderTrainSection:
    """Phase 2: a decoder learns to reconstruct frames from frozen latents (verification only)."""

    epochs: int = field(default=20, validator=count(1, 100_000))
    batch_size: int = field(default=256, validator=count(1, 2**20))
    lr: float = field(default=1.0e-3, validator=positive(10.0))
    # least_squares: a linear decoder solved in closed form on every training window's latent
    # (epochs, batch_size and lr then unused), where gradient descent on nearly collinear
    # latents converges slowly
    solver: str = field(default="gradient", validator=in_(("gradient", "least_squares")))


@attrs.frozen
class OutputSection:
    dir: str = field(default="results", validator=path_text)
    # frames in forecast.mp4 (rolled out from one context)
    forecast_frames: int = field(default=240, validator=count(1, 100_000))
    # pixels per side of each half of the video
    video_panel_size: int = field(default=256, validator=count(16, 4096))
    fps: int = field(default=20, validator=count(1, 240))


@attrs.frozen
class EvalSection:
    """`jepa eval` settings; it also runs at the end of `jepa run` when enabled.

    Forecasts are scored on ``trajectories`` freshly generated held-out trajectories (at most the
    dataset's size, so tiny recipes evaluate quickly) of ``history + horizon`` frames.
    """

    enabled: bool = True
    # held-out trajectories for forecasts (capped at data size)
    trajectories: int = field(default=256, validator=count(1, MAX_COUNT))
    # forecast steps scored (may exceed the training sequence length)
    horizon: int = field(default=100, validator=count(1, 100_000))
    # seed of the test trajectories, scored for the result tables; empty: derived from the
    # recipe's seed (a fixed value keeps one test set across seeds)
    seed: int | None = field(default=None, validator=optional(count(0, MAX_SEED)))
    # seed of the validation trajectories, for screening, ablations, choosing recipe settings
    # and probe penalties; empty: derived from the recipe's seed
    validation_seed: int | None = field(default=None, validator=optional(count(0, MAX_SEED)))
    # which trajectories the forecasts score: test (the result tables) | validation (screening)
    split: str = field(default="test", validator=in_(SPLITS))
    # most training windows used to fit the linear probes
    probe_samples: int = field(default=5000, validator=count(1, 10 * MAX_COUNT))
    # probe predicted latents up to k steps ahead (capped by the data)
    probe_steps: int = field(default=20, validator=count(1, 10_000))
    # frames of history for the linear AR baseline; 0 = data.history
    ar_order: int = field(default=0, validator=count(0, 10_000))
    # train the supervised baselines (the recipe's own networks end to end; residual MLP)
    baselines: bool = True
    # controls: the recipe's predictor trained on the latents of a frozen random encoder
    # (random_encoder) and of the JEPA's own frozen encoder (refit_predictor)
    controls: bool = True
    # hidden units of the residual MLP baseline (coordinates)
    baseline_hidden_dim: int = field(default=256, validator=count(1, MAX_WIDTH))
    # each supervised baseline trains at these multiples of the JEPA's optimizer steps
    baseline_budgets: list[int] = field(factory=lambda: [1], validator=budget_multiples)


#: what `jepa plan` scores a world model's plans on (PlanSection.cost)
PLAN_COSTS = ("latent", "observation")


@attrs.frozen
class PlanSection:
    """`jepa plan` settings: closed-loop planning toward goals with an action-conditioned run.

    Each of ``episodes`` start/goal pairs is drawn from the environment's task distribution
    (its own seed, apart from the data's); the agent acts ``max_steps`` times, replanning every
    ``replan_every`` steps, and succeeds when it ends within the environment's success radius
    of the goal (or as the environment's own ``succeeded`` rule says).
    """

    # the planner and its options (`jepa list planners`); empty: cem with its defaults
    planner: PlannerSpec | None = None
    # held-out start/goal pairs
    episodes: int = field(default=50, validator=count(1, MAX_COUNT))
    # environment steps per episode (receding horizon: planned anew every replan_every steps)
    max_steps: int = field(default=60, validator=count(1, 100_000))
    # steps of each plan executed before planning again (1: every step); at most the
    # planner's horizon
    replan_every: int = field(default=1, validator=count(1, 10_000))
    # seed of the start/goal pairs; empty: derived from the recipe's seed
    seed: int | None = field(default=None, validator=optional(count(0, MAX_SEED)))
    # cost = squared distance of the last predicted latent to the goal's + this weight times
    # the mean over the whole predicted path (0: the end alone, indifferent to when the goal
    # is reached, so under a receding horizon the agent dawdles)
    path_weight: float = field(default=1.0, validator=between(0, 1e6))
    # what the world model's plan is scored on: latent (the predicted latents' distance to the
    # goal's latent) | observation (the predicted latents decoded by the run's decoder, their
    # distance to the goal observation, weighted by the environment's observation_weights)
    cost: str = field(default="latent", validator=in_(PLAN_COSTS))
    # weights of the observation's values in the decoded cost (one per value, e.g.
    # [1, 1, 0.5]); empty: the environment's observation_weights
    observation_weights: list[float] | None = field(
        default=None, validator=optional(deep_iterable(between(0, 1e6)))
    )
    # also score a random policy and the planner with the true simulator as its model
    baselines: bool = True
    # world-model episodes filmed into plan.mp4 (the agent beside its goal; 0: no video)
    video_episodes: int = field(default=4, validator=count(0, 1000))


@attrs.frozen
class Recipe:
    name: str = field(validator=folder_name)  # the run folder is output.dir/<name>_<time>
    data: DataSection
    model: ModelSection
    objective: ObjectiveSection
    seed: int = field(default=0, validator=count(0, MAX_SEED))
    train: TrainSection = attrs.Factory(TrainSection)
    refit: RefitSection = attrs.Factory(RefitSection)
    decoder_train: DecoderTrainSection = attrs.Factory(DecoderTrainSection)
    output: OutputSection = attrs.Factory(OutputSection)
    eval: EvalSection = attrs.Factory(EvalSection)
    tracking: list[TrackerSpec] = attrs.Factory(lambda: [])
    plan: PlanSection = attrs.Factory(PlanSection)

    # Every seed the recipe leaves empty derives from its one ``seed``: the data, the validation
    # and the test trajectories change with it as initialisation does, so mean ± std over seeds
    # covers the data too; a seed written in the recipe pins that set (the fixed-data setting).
    # They are resolved where they are used, so an override of ``seed`` moves them all.

    def dataset_spec(self) -> DatasetSpec:
        """``data.dataset`` with its seed filled in (where the dataset's params have one)."""
        spec, params = self.data.dataset, self.data.dataset.params
        fields = attrs.fields_dict(type(params)) if attrs.has(type(params)) else {}
        if "seed" not in fields or params.seed is not None:
            return spec
        return attrs.evolve(spec, params=attrs.evolve(params, seed=_seed_for(self.seed, "data")))

    def plan_seed(self) -> int:
        """The seed of `jepa plan`'s start/goal pairs (plan.seed, else derived)."""
        return _seed_for(self.seed, "plan") if self.plan.seed is None else self.plan.seed

    def trajectory_seed(self, split: str | None = None) -> int:
        """The seed of the held-out ``split`` (test | validation; default eval.split)."""
        split = split or self.eval.split
        pinned = self.eval.seed if split == "test" else self.eval.validation_seed
        return _seed_for(self.seed, split) if pinned is None else pinned


def _cross_checks(recipe: Recipe) -> list[tuple[str, str]]:
    """Problems that involve two fields (each field's own range is its validator's job)."""
    params, problems = recipe.data.dataset.params, []
    test, validation = (recipe.trajectory_seed(split) for split in SPLITS)
    if test == validation:
        problems.append(
            (
                "eval.validation_seed",
                f"gives the same trajectories as the test set (seed {test}): give eval.seed "
                "and eval.validation_seed different values, or leave them empty (derived from "
                "seed)",
            )
        )
    size = getattr(params, "size", None)
    if size is not None and size < 2:
        problems.append(("data.dataset.size", f"must be at least 2 (one is held out), got {size}"))
    frames = getattr(params, "sequence_length", None)
    clip = recipe.data.history + recipe.objective.rollout_steps
    if frames is not None and frames < clip:
        problems.append(
            (
                "data.dataset.sequence_length",
                f"{frames} frames are fewer than a training clip needs: data.history + "
                f"objective.rollout_steps = {clip}; raise it or lower those",
            )
        )
    refit_clip = recipe.data.history + recipe.refit.steps(recipe.objective)
    if recipe.refit.epochs and frames is not None and frames < refit_clip:
        problems.append(
            (
                "refit.rollout_steps",
                f"data.history + refit.rollout_steps = {refit_clip} frames, more than the "
                f"{frames} of a trajectory (data.dataset.sequence_length); lower it",
            )
        )
    return problems


def _converter(registries: Any) -> cattrs.Converter:
    def params_of(kind: str, name: str) -> type:
        return registries.registry(kind).get(name).params

    return make_converter(ComponentSpec, params_of if registries is not None else None)


def _spec_type(path: str) -> Any:
    """The declared type at a dotted path of the recipe (``objective.regularizer``)."""
    t: Any = Recipe
    for key in path.split("."):
        if typing.get_origin(t) is list and key.isdigit():
            t = typing.get_args(t)[0]
        elif attrs.has(t) and key in attrs.fields_dict(t):
            t = typing.get_type_hints(t)[key]
        else:
            return None
        t = _unless_none(t)
    return t


def _unless_none(t: Any) -> Any:
    """``X`` for an optional ``X | None`` (``plan.planner``), else ``t`` itself."""
    if typing.get_origin(t) in (typing.Union, types.UnionType):
        present = [a for a in typing.get_args(t) if a is not type(None)]
        if len(present) == 1:
            return present[0]
    return t


def _drop_orphans(raw: dict[str, Any], orphans: set[str], registries: Any) -> None:
    """Drop keys a rename left behind that the newly named component does not accept."""
    for dotted in sorted(orphans):
        where, _, key = dotted.rpartition(".")
        spec, node = _spec_type(where), raw
        for part in where.split("."):
            if isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                node = node.get(part) if isinstance(node, dict) else None
        is_spec = isinstance(spec, type) and issubclass(spec, ComponentSpec)
        if not (is_spec and isinstance(node, dict)):
            continue
        registry, name = registries.registry(spec.kind), node.get("name")
        known = isinstance(name, str) and name in registry  # else structuring reports it
        if known and key not in attrs.fields_dict(registry.get(name).params):
            node.pop(key, None)


def structure_recipe(
    raw: Any,
    registries: Any,
    source: str = "recipe",
    overrides: Sequence[str] = (),
    orphans: set[str] | frozenset[str] = frozenset(),
) -> Recipe:
    """Validate a raw mapping into a Recipe, raising one RecipeError listing every problem.

    ``overrides`` (the command-line texts already applied to ``raw``) mark the problems they
    caused; ``orphans`` are the keys :func:`apply_overrides` reported as left behind by a rename.
    """
    if not isinstance(raw, dict):
        raise recipe_error([("", f"expected a mapping at the top level, got {short(raw)}")], source)
    if orphans:
        raw = copy.deepcopy(raw)
        _drop_orphans(raw, set(orphans), registries)
    try:
        recipe = _converter(registries).structure(raw, Recipe)
    except (ClassValidationError, TypeError, ValueError) as exc:
        raise recipe_error(cattrs_problems(exc), source, overrides) from None
    found = _cross_checks(recipe)
    if found:
        raise recipe_error(found, source, overrides)
    return recipe


def _seed_for(seed: int, purpose: str) -> int:
    """A seed derived from the recipe's for ``purpose``, within the recipe's seed range."""
    return derive_seed(seed, purpose) % (MAX_SEED + 1)


def unstructure_recipe(recipe: Recipe) -> dict[str, Any]:
    """The fully resolved recipe as plain data (what config.yaml holds)."""
    return _converter(None).unstructure(recipe)


# --- files ------------------------------------------------------------------------------------


def read_yaml(path: Path) -> dict[str, Any]:
    """The recipe file as a mapping, read within :mod:`~jepa_framework.config.safe_yaml`'s
    limits."""
    source = f"recipe {path}"
    try:
        raw = safe_yaml.loads(safe_yaml.read_text(path))
    except OSError as exc:
        raise JepaError(f"cannot read recipe {path}: {exc.strerror or exc}.") from None
    except ValueError as exc:
        raise JepaError(f"{source} {exc}.") from None
    except safe_yaml.YamlLimitError as exc:
        raise RecipeError([f"refused: the YAML {exc}"], source) from None
    except yaml.YAMLError as exc:
        raise RecipeError([f"not valid YAML: {exc}"], source) from None
    if raw is None:
        raise JepaError(
            f"{source} is empty. A recipe needs at least name, data, model and objective; "
            f"`jepa show circle` prints a complete one."
        )
    if not isinstance(raw, dict):
        raise RecipeError([f"expected a mapping at the top level, got {short(raw)}"], source)
    return raw


def locate(recipe: str, registries: Any) -> Path:
    """A recipe file path, or the name of a built-in recipe (``jepa run pendulum``)."""
    path = Path(recipe)
    if path.is_file():
        return path
    if recipe in registries.recipes:  # a folder named like a recipe does not hide the recipe
        return registries.recipes[recipe]
    if path.suffix in {".yaml", ".yml"}:
        raise JepaError(f"recipe file {path} does not exist.")
    if path.is_dir():
        hint = (
            f" To rerun a finished run, use `jepa run {path / 'config.yaml'}`."
            if (path / "config.yaml").is_file()
            else ""
        )
        raise JepaError(f"{path} is a folder, not a recipe file.{hint}")
    known = ", ".join(sorted(registries.recipes)) or "none"
    raise JepaError(
        f"'{recipe}' is neither a recipe file nor a built-in recipe"
        f"{did_you_mean(recipe, registries.recipes)}. Built-in recipes: {known}."
    )


def load_recipe(
    recipe: str, overrides: Sequence[str] = (), registries: Any = None
) -> tuple[Recipe, dict[str, Any]]:
    """Locate, read, override and validate a recipe; returns it and its raw form."""
    if registries is None:
        from jepa_framework.plugin.host import host

        registries = host()
    path = locate(recipe, registries)
    raw, orphans = apply_overrides(read_yaml(path), overrides)
    return structure_recipe(raw, registries, f"recipe {path}", overrides, orphans), raw


def dump_recipe(recipe: Recipe, header: str = "") -> str:
    body = yaml.safe_dump(unstructure_recipe(recipe), sort_keys=False)
    comments = "".join(f"# {line}\n" for line in header.splitlines())
    return comments + body
