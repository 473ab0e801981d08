"""YAML recipe -> frozen, typed :class:`Recipe`, with command-line overrides and clear errors.

cattrs does the validation (unknown keys, wrong types); this module adds component lookup by
registry name, dotted paths and a did-you-mean. Only ``yaml.safe_load`` is used and components are
named, never imported by path, so a recipe cannot execute code.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import attrs
import cattrs
import yaml
from cattrs.errors import ClassValidationError, ForbiddenExtraKeysError, IterableValidationError

from jepa_framework.errors import JepaError, RecipeError, did_you_mean
from jepa_framework.registry import UnknownComponentError

# --- components chosen by name ------------------------------------------------------------------


@attrs.frozen
class ComponentSpec:
    """A component picked by registry ``name`` plus its own validated ``params``."""

    kind: ClassVar[str] = ""
    name: str
    params: Any

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, **attrs.asdict(self.params, recurse=True)}


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


# --- the recipe -------------------------------------------------------------------------------


@attrs.frozen
class DataSection:
    dataset: DatasetSpec
    history: int = 2  # frames per context window (H)
    val_fraction: float = 0.1  # trajectories held out for validation


@attrs.frozen
class ModelSection:
    encoder: EncoderSpec
    predictor: PredictorSpec
    decoder: DecoderSpec
    embedding_dim: int = 32


@attrs.frozen
class TargetSection:
    """EMA decay of the target encoder, on a cosine schedule from start to end."""

    ema_start: float = 0.99
    ema_end: float = 1.0


@attrs.frozen
class ObjectiveSection:
    regularizer: RegularizerSpec
    rollout_steps: int = 4  # predictor unrolled this many steps in latent space (k)
    target: TargetSection = attrs.Factory(TargetSection)


@attrs.frozen
class TrainSection:
    epochs: int = 20  # one epoch = every training trajectory once, at a random start
    batch_size: int = 256
    lr: float = 1.0e-3
    weight_decay: float = 0.05
    warmup_epochs: float = 1.0
    grad_clip: float = 1.0  # max gradient norm; 0 disables clipping
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    threads: int = 0  # CPU threads for torch; 0 = every core of the machine
    precision: str = "fp32"  # fp32 | bf16 (autocast)
    compile: bool = False  # torch.compile the networks


@attrs.frozen
class DecoderTrainSection:
    """Phase 2: a decoder learns to reconstruct frames from frozen latents (verification only)."""

    epochs: int = 20
    batch_size: int = 256
    lr: float = 1.0e-3


@attrs.frozen
class OutputSection:
    dir: str = "results"
    forecast_frames: int = 240  # frames in forecast.mp4 (rolled out from one context)
    video_panel_size: int = 256  # pixels per side of each half of the video
    fps: int = 20


@attrs.frozen
class EvalSection:
    """`jepa eval` settings; it also runs at the end of `jepa run` when enabled.

    Forecasts are scored on ``trajectories`` freshly generated held-out trajectories (at most the
    dataset's size, so tiny recipes evaluate quickly) of ``history + horizon`` frames.
    """

    enabled: bool = True
    trajectories: int = 256  # held-out trajectories for forecasts (capped at data size)
    horizon: int = 100  # forecast steps scored (may exceed the training sequence length)
    seed: int = 12345  # seed of the held-out trajectories (distinct from the data seed)
    probe_samples: int = 5000  # most training windows used to fit the linear probes
    probe_steps: int = 20  # probe predicted latents up to k steps ahead (capped by the data)
    ar_order: int = 0  # frames of history for the linear AR baseline; 0 = data.history
    baselines: bool = True  # train the supervised residual MLP baseline (same budget as JEPA)
    baseline_hidden_dim: int = 256  # width of that MLP


@attrs.frozen
class Recipe:
    name: str
    data: DataSection
    model: ModelSection
    objective: ObjectiveSection
    seed: int = 0
    train: TrainSection = attrs.Factory(TrainSection)
    decoder_train: DecoderTrainSection = attrs.Factory(DecoderTrainSection)
    output: OutputSection = attrs.Factory(OutputSection)
    eval: EvalSection = attrs.Factory(EvalSection)
    tracking: list[TrackerSpec] = attrs.Factory(lambda: [])


CHOICES = {
    ("train", "precision"): ("fp32", "bf16"),
}

# --- loading ----------------------------------------------------------------------------------


class _UnknownName(ValueError):
    pass


def _strict_converter(registries: Any, renamed: set[str]) -> cattrs.Converter:
    """A converter that refuses extra keys and lossy type coercions, and knows the registries."""
    conv = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)

    def strict_int(value: Any, _: type) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"expected an integer, got {value!r}")
        return value

    def strict_float(value: Any, _: type) -> float:
        if isinstance(value, bool):
            raise TypeError(f"expected a number, got {value!r}")
        if isinstance(value, str):  # YAML 1.1 reads 1e-3 as a string
            try:
                return float(value)
            except ValueError:
                raise TypeError(f"expected a number, got {value!r}") from None
        if not isinstance(value, (int, float)):
            raise TypeError(f"expected a number, got {value!r}")
        return float(value)

    def strict_bool(value: Any, _: type) -> bool:
        if not isinstance(value, bool):
            raise TypeError(f"expected true or false, got {value!r}")
        return value

    def strict_str(value: Any, _: type) -> str:
        if not isinstance(value, str):
            raise TypeError(f"expected a string, got {value!r}")
        return value

    conv.register_structure_hook(int, strict_int)
    conv.register_structure_hook(float, strict_float)
    conv.register_structure_hook(bool, strict_bool)
    conv.register_structure_hook(str, strict_str)

    def structure_component(value: Any, cls: type[ComponentSpec]) -> ComponentSpec:
        if isinstance(value, str):  # `encoder: cnn` is short for `encoder: {name: cnn}`
            value = {"name": value}
        if not isinstance(value, dict) or "name" not in value:
            raise TypeError(f"expected a mapping with a 'name' key, got {value!r}")
        name = strict_str(value["name"], str)
        try:
            component = registries.registry(cls.kind).get(name)
        except UnknownComponentError as exc:
            raise _UnknownName(str(exc)) from None
        params = {k: v for k, v in value.items() if k != "name"}
        if id(value) in renamed:
            accepted = {f.name for f in attrs.fields(component.params)}
            params = {k: v for k, v in params.items() if k in accepted}
        return cls(name=name, params=conv.structure(params, component.params))

    conv.register_structure_hook_func(
        lambda t: isinstance(t, type) and issubclass(t, ComponentSpec), structure_component
    )
    conv.register_unstructure_hook_func(
        lambda t: isinstance(t, type) and issubclass(t, ComponentSpec), lambda c: c.to_dict()
    )
    return conv


def _walk(exc: BaseException, path: str) -> Iterator[tuple[str, BaseException]]:
    """(dotted path, leaf exception) for every problem cattrs found."""
    if isinstance(exc, IterableValidationError):
        with_notes, without = exc.group_exceptions()
        for sub, note in with_notes:
            yield from _walk(sub, f"{path}[{note.index!r}]")
        for sub in without:
            yield from _walk(sub, path)
    elif isinstance(exc, ClassValidationError):
        with_notes, without = exc.group_exceptions()
        for sub, note in with_notes:
            yield from _walk(sub, f"{path}.{note.name}" if path else note.name)
        for sub in without:
            yield from _walk(sub, path)
    else:
        yield path, exc


def _describe(path: str, exc: BaseException) -> list[str]:
    where = path or "<top level>"
    if isinstance(exc, ForbiddenExtraKeysError):
        fields = [f.name for f in attrs.fields(exc.cl)] if attrs.has(exc.cl) else []
        allowed = ", ".join(fields) or "none"
        return [
            f"{where}.{key}: unknown key{did_you_mean(key, fields)}; allowed keys: {allowed}"
            for key in sorted(exc.extra_fields)
        ]
    if isinstance(exc, KeyError):
        return [f"{where}: required key is missing"]
    if isinstance(exc, _UnknownName):
        return [f"{where}.name: {exc}"]
    if len(exc.args) >= 2 and isinstance(exc.args[1], attrs.Attribute):  # an attrs validator
        field, hint = exc.args[1], ""
        if len(exc.args) >= 4 and isinstance(exc.args[3], str):
            hint = did_you_mean(exc.args[3], [str(o) for o in exc.args[2]])
        return [f"{where}.{field.name}: {exc.args[0]}{hint}"]
    message = str(exc) or type(exc).__name__
    if "invalid literal" in message or "could not convert" in message:
        message = f"wrong type ({message})"
    return [f"{where}: {message}"]


def _check_choices(recipe: Recipe) -> list[str]:
    problems = []
    for (section, key), allowed in CHOICES.items():
        value = getattr(getattr(recipe, section), key)
        if value not in allowed:
            problems.append(
                f"{section}.{key}: '{value}' is not one of {', '.join(allowed)}"
                f"{did_you_mean(value, allowed)}"
            )
    if recipe.data.history < 1:
        problems.append("data.history: must be at least 1")
    if recipe.objective.rollout_steps < 1:
        problems.append("objective.rollout_steps: must be at least 1")
    if recipe.eval.horizon < 1 or recipe.eval.trajectories < 1:
        problems.append("eval.horizon and eval.trajectories: must be at least 1")
    if not 0.0 < recipe.data.val_fraction < 1.0:
        problems.append("data.val_fraction: must lie strictly between 0 and 1")
    return problems


def structure_recipe(raw: dict[str, Any], registries: Any, source: str = "recipe") -> Recipe:
    """Validate a raw mapping into a Recipe, raising one RecipeError listing every problem."""
    if not isinstance(raw, dict):
        raise RecipeError(
            [f"expected a mapping at the top level, got {type(raw).__name__}"], source
        )
    renamed = {id(node) for node in _renamed_nodes(raw)}
    conv = _strict_converter(registries, renamed)
    try:
        recipe = conv.structure(raw, Recipe)
    except (ClassValidationError, IterableValidationError) as exc:
        problems = [msg for path, leaf in _walk(exc, "") for msg in _describe(path, leaf)]
        raise RecipeError(problems, source) from None
    except (TypeError, ValueError) as exc:
        raise RecipeError([str(exc)], source) from None
    problems = _check_choices(recipe)
    if problems:
        raise RecipeError(problems, source)
    return recipe


def unstructure_recipe(recipe: Recipe) -> dict[str, Any]:
    """The fully resolved recipe as plain data (what config.yaml holds)."""
    conv = _strict_converter(None, set())
    return conv.unstructure(recipe)


# --- files, names and overrides ---------------------------------------------------------------

RENAMED_MARK = "__renamed__"


def _renamed_nodes(raw: Any) -> Iterator[dict]:
    if isinstance(raw, dict):
        if raw.pop(RENAMED_MARK, False):
            yield raw
        for value in raw.values():
            yield from _renamed_nodes(value)
    elif isinstance(raw, list):
        for value in raw:
            yield from _renamed_nodes(value)


def read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise JepaError(f"cannot read recipe {path}: {exc.strerror}.") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RecipeError([f"not valid YAML: {exc}"], str(path)) from None
    return raw if raw is not None else {}


def locate(recipe: str, registries: Any) -> Path:
    """A recipe file path, or the name of a built-in recipe (``jepa run pendulum``)."""
    path = Path(recipe)
    if path.suffix in {".yaml", ".yml"} or path.exists():
        if not path.exists():
            raise JepaError(f"recipe file {path} does not exist.")
        return path
    if recipe in registries.recipes:
        return registries.recipes[recipe]
    known = ", ".join(sorted(registries.recipes)) or "none"
    raise JepaError(
        f"'{recipe}' is neither a recipe file nor a built-in recipe"
        f"{did_you_mean(recipe, registries.recipes)}. Built-in recipes: {known}."
    )


def parse_override(text: str) -> tuple[list[str], Any]:
    """``train.epochs=5`` -> (["train", "epochs"], 5); values are parsed as YAML."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise JepaError(
            f"override '{text}' is not of the form key.path=value (e.g. train.epochs=5)."
        )
    try:
        parsed = yaml.safe_load(value) if value.strip() else ""
    except yaml.YAMLError:
        parsed = value
    return key.strip().split("."), parsed


def _child(node: Any, key: str, where: str, text: str) -> Any:
    """The mapping (or list) at ``node[key]``, created if missing."""
    if isinstance(node, list):
        return _child_list(node, key, where, text)
    child = node.get(key)
    if isinstance(child, str):  # shorthand `encoder: cnn`
        child = {"name": child}
    elif child is None:
        child = {}
    elif not isinstance(child, (dict, list)):
        raise JepaError(f"override '{text}': '{where}' holds {child!r}, not a mapping.")
    node[key] = child
    return child


def _child_list(node: list, key: str, where: str, text: str) -> Any:
    if not key.isdigit() or int(key) >= len(node):
        raise JepaError(f"override '{text}': '{where}' is not an index of a {len(node)}-item list.")
    child = node[int(key)]
    if isinstance(child, str):
        child = node[int(key)] = {"name": child}
    return child


def apply_overrides(raw: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """A copy of ``raw`` with overrides applied.

    Renaming a component (``objective.regularizer.name=sigreg``) drops the recipe's keys that the
    new component does not accept, so one recipe serves every regularizer in a sweep.
    """
    out = copy.deepcopy(raw)
    for text in overrides:
        keys, value = parse_override(text)
        node: Any = out
        for i, key in enumerate(keys[:-1]):
            node = _child(node, key, ".".join(keys[: i + 1]), text)
        last = keys[-1]
        if isinstance(node, list):
            _child_list(node, last, ".".join(keys), text)
            node[int(last)] = value
            continue
        if last == "name" and len(keys) > 1 and node.get("name") != value:
            node[RENAMED_MARK] = True
        node[last] = value
    return out


def load_recipe(
    recipe: str, overrides: Sequence[str] = (), registries: Any = None
) -> tuple[Recipe, dict[str, Any]]:
    """Locate, read, override and validate a recipe; returns it and its raw form."""
    if registries is None:
        from jepa_framework.plugins import host

        registries = host()
    path = locate(recipe, registries)
    raw = apply_overrides(read_yaml(path), overrides)
    return structure_recipe(copy.deepcopy(raw), registries, source=str(path)), raw


def dump_recipe(recipe: Recipe, header: str = "") -> str:
    body = yaml.safe_dump(unstructure_recipe(recipe), sort_keys=False)
    comments = "".join(f"# {line}\n" for line in header.splitlines())
    return comments + body
