"""Build every component a recipe names, once, the same way for run, resume, eval and controls.

After building, each network is run once on a tiny zero batch and its output shape checked
against the contract in :mod:`jepa_framework.core.components`: a plugin network that breaks it fails
here with its name, plugin and the shapes, before any training.
"""

from __future__ import annotations

import math
import os
import time
from typing import Any

import attrs
import torch
from torch import nn

from jepa_framework.config.recipe import ComponentSpec, Recipe
from jepa_framework.core.components import Shapes
from jepa_framework.core.distributed import Dist, setup
from jepa_framework.core.errors import JepaError, RecipeError
from jepa_framework.core.seeds import derive_seed
from jepa_framework.datasets.base import DynamicsDataset
from jepa_framework.models.inverse_dynamics import InverseDynamics
from jepa_framework.models.jepa import JEPA, StandardisedPredictor, action_dim_of
from jepa_framework.pipeline.decoder_fit import linear_map

#: samples in the zero batch that checks network output shapes
CONTRACT_BATCH = 2


def pick_device(name: str) -> torch.device:
    """``auto`` means CUDA when present, else CPU; asking for absent CUDA is a user error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise JepaError(f"train.device: '{name}' is not a device; use auto, cpu or cuda.") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise JepaError("train.device: CUDA was asked for but is not available; use auto or cpu.")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise JepaError(
            f"train.device: '{name}' does not exist; this machine has "
            f"{torch.cuda.device_count()} CUDA device(s). Use auto or cuda:0."
        )
    return device


def build(host: Any, spec: ComponentSpec, *args: Any) -> Any:
    """One component from its recipe spec, by its registered factory.

    A factory that raises (other than a `JepaError`, the plugin's own clear message) is a
    `PluginFault` naming the plugin and the component. The host remembers what each factory
    built, so a later error in the object's methods is attributed to its component.
    """
    component = host.registry(spec.kind).get(spec.name)
    try:
        built = component.factory(spec.params, *args)
    except JepaError:
        raise
    except Exception as exc:
        from jepa_framework.plugin.faults import factory_fault

        raise factory_fault(host, exc, component) from exc
    remember = getattr(host, "remember", None)
    if remember is not None:
        remember(built, component)
    return built


def shapes_of(recipe: Recipe, dataset: DynamicsDataset) -> Shapes:
    actions = dataset.action_space
    return Shapes(
        tuple(dataset.obs_shape),
        recipe.data.history,
        recipe.model.embedding_dim,
        actions.dim if actions is not None else 0,
    )


@torch.no_grad()
def check_contract(
    host: Any,
    spec: ComponentSpec,
    module: nn.Module,
    given: tuple[int, ...],
    expected: tuple,
    extra: tuple[tuple[int, ...], ...] = (),
) -> None:
    """Run ``module`` on zeros of shape ``given`` (and of each shape of ``extra``, further
    inputs such as actions); its output must have shape ``expected``.

    Runs in eval mode (no batch-norm statistics change) and restores the mode afterwards.
    """
    role = spec.kind[:-1]
    plugin = host.registry(spec.kind).get(spec.name).plugin
    who = f"{role} '{spec.name}' (plugin '{plugin}')"
    device = next((p.device for p in module.parameters()), torch.device("cpu"))
    was_training = module.training
    module.eval()
    try:
        out = module(*(torch.zeros(shape, device=device) for shape in (given, *extra)))
    except Exception as exc:  # a plugin's network may fail in any way on the wrong shape
        raise JepaError(
            f"{who} cannot process a batch of shape {list(given)}: {type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}. A {role} must map "
            f"{_contract(role)}; check its code or its parameters under model.{role}."
        ) from None
    finally:
        module.train(was_training)
    actual = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
    if actual != expected:
        inputs = " and ".join(str(list(shape)) for shape in (given, *extra))
        raise JepaError(
            f"{who} breaks its contract: on input {inputs} it returned "
            f"{list(actual) if isinstance(actual, tuple) else actual}, expected {list(expected)} "
            f"({_contract(role)}). Fix the {role}'s output shape, or choose another "
            f"model.{role}.name."
        )


def _contract(role: str) -> str:
    return {
        "encoder": "[B, H, *obs_shape] -> [B, embedding_dim]",
        "predictor": "[B, embedding_dim] (and [B, action_dim] if it takes actions) -> "
        "[B, embedding_dim]",
        "decoder": "[B, embedding_dim] -> [B, *obs_shape]",
    }[role]


def check_contracts(host: Any, recipe: Recipe, shapes: Shapes, networks: dict) -> None:
    """Encoder -> [B, D], predictor -> [B, D], decoder -> [B, *obs_shape] on zero batches."""
    b, d = CONTRACT_BATCH, shapes.embedding_dim
    window = (b, shapes.history, *shapes.obs_shape)
    model = recipe.model
    check_contract(host, model.encoder, networks["encoder"], window, (b, d))
    predictor = networks["predictor"]
    check_actions(host, recipe, shapes, predictor)
    actions = ((b, shapes.action_dim),) if action_dim_of(predictor) else ()
    check_contract(host, model.predictor, predictor, (b, d), (b, d), actions)
    check_contract(host, model.decoder, networks["decoder"], (b, d), (b, *shapes.obs_shape))


def check_actions(host: Any, recipe: Recipe, shapes: Shapes, predictor: nn.Module) -> None:
    """An action-conditioned predictor needs a dataset with actions of its width."""
    wants, spec = action_dim_of(predictor), recipe.model.predictor
    if not wants or wants == shapes.action_dim:
        return
    plugin = host.registry(spec.kind).get(spec.name).plugin
    dataset = recipe.data.dataset.name
    if not shapes.action_dim:
        raise JepaError(
            f"predictor '{spec.name}' (plugin '{plugin}', model.predictor.name) conditions on "
            f"actions, but dataset '{dataset}' (data.dataset.name) has none: its trajectories "
            f"are autonomous. Use a dataset with an action space (e.g. env_rollouts), or an "
            f"autonomous predictor such as residual_mlp."
        )
    raise JepaError(
        f"predictor '{spec.name}' (plugin '{plugin}', model.predictor.name) takes actions of "
        f"{wants} dimension(s), but dataset '{dataset}' (data.dataset.name) has actions of "
        f"{shapes.action_dim}; build the predictor from the shapes it is given "
        f"(shapes.action_dim)."
    )


def check_batches(recipe: Recipe, n_train: int, n_val: int, world_size: int = 1) -> None:
    """Refuse a split that trains on one-sample batches or on less than one batch.

    A batch of one sample has no batch statistics (a regularizer's variance or covariance, the
    collapse diagnostics), so the loss or the validation metrics would come out NaN and the run
    would blame the learning rate; a train.batch_size above the training set silently trains
    one short step per epoch.
    """
    batch, size = recipe.train.batch_size, n_train + n_val  # what the dataset holds
    held = f"data.val_fraction {recipe.data.val_fraction:g} holds {n_val} out"
    of = f"data.dataset.size {size} gives {n_train} training trajectories ({held})"
    if n_val == 1:
        fraction = recipe.data.val_fraction
        enough = max(3, math.ceil(1.5 / fraction))
        while round(enough * fraction) < 2:  # round() halves to even: a step or two more
            enough += 1
        raise RecipeError(
            [
                f"data.dataset.size: {size} trajectories leave 1 for validation ({held}); "
                f"validation statistics need at least 2: raise data.dataset.size to at least "
                f"{enough} (or data.val_fraction)"
            ]
        )
    if n_train < 2:
        raise RecipeError(
            [
                f"data.dataset.size: {size} trajectories leave {n_train} for training ({held}); "
                f"training needs at least 2: raise data.dataset.size or lower data.val_fraction"
            ]
        )
    if batch > n_train:
        raise RecipeError(
            [
                f"train.batch_size: {batch} is larger than the training set: {of}; lower "
                f"train.batch_size to at most {n_train} or raise data.dataset.size"
            ]
        )
    if batch > 1 and n_train % batch == 1 and world_size == 1:
        near = (b for d in range(1, n_train) for b in (batch - d, batch + d))
        other = next((b for b in near if 2 <= b <= n_train and n_train % b != 1), None)
        instead = f"train.batch_size={other}" if other else "another train.batch_size"
        raise RecipeError(
            [
                f"train.batch_size: {batch} leaves a last batch of 1 sample every epoch ({of}), "
                f"where batch statistics are undefined; use {instead} or change "
                f"data.dataset.size"
            ]
        )


@attrs.frozen
class Split:
    """Training and validation trajectory indices, computed once per run."""

    train: torch.Tensor
    val: torch.Tensor


@attrs.frozen
class Assembly:
    """Everything a recipe names, built and on its device."""

    dataset: DynamicsDataset
    split: Split
    model: JEPA
    decoder: nn.Module
    regularizer: Any
    trackers: list[Any]
    device: torch.device
    data_seconds: float
    dist: Dist
    # a freshly initialised predictor's weights, where the recipe refits the predictor
    refit_init: dict[str, torch.Tensor] | None = None


def assemble(recipe: Recipe, host: Any, trackers: bool = True) -> Assembly:
    """Build trackers first (an uninstalled extra fails before any work), then the rest.

    Also joins the torchrun process group when launched by torchrun and sets torch's threads.
    ``trackers=False`` (evaluation of a finished run) builds none.
    """
    built_trackers = [build(host, spec) for spec in recipe.tracking] if trackers else []
    dist_info, device = setup(pick_device(recipe.train.device))
    cores = (os.cpu_count() or 1) // dist_info.local_world_size
    torch.set_num_threads(recipe.train.threads or max(1, cores))
    torch.manual_seed(recipe.seed)
    t0 = time.perf_counter()
    dataset = build(host, recipe.dataset_spec())
    data_seconds = time.perf_counter() - t0
    split = Split(*dataset.split(recipe.data.val_fraction, recipe.seed))
    check_batches(recipe, len(split.train), len(split.val), dist_info.world_size)
    if recipe.eval.enabled and trackers:  # `jepa eval` checks in evaluate_run
        from jepa_framework.pipeline.eval_memory import check_eval_fits

        check_eval_fits(recipe, dataset)
    shapes = shapes_of(recipe, dataset)
    networks = {
        "encoder": build(host, recipe.model.encoder, shapes).to(device),
        "predictor": build(host, recipe.model.predictor, shapes).to(device),
        "decoder": build(host, recipe.model.decoder, shapes).to(device),
    }
    check_contracts(host, recipe, shapes, networks)
    if trackers and recipe.eval.enabled and action_dim_of(networks["predictor"]):
        raise RecipeError(
            [
                f"eval.enabled: predictor '{recipe.model.predictor.name}' conditions on "
                "actions, and the forecast evaluation does not pass actions yet; set "
                "eval.enabled=false and evaluate the run with `jepa plan RUN_DIR`"
            ]
        )
    if recipe.decoder_train.solver == "least_squares":
        linear_map(networks["decoder"], recipe.model.decoder.name)
    regularizer = build(host, recipe.objective.regularizer)
    predictor, refit_init = networks["predictor"], None
    if recipe.refit.epochs:
        if next(predictor.parameters(), None) is None:
            raise JepaError(
                f"refit.epochs is {recipe.refit.epochs}, but predictor "
                f"'{recipe.model.predictor.name}' has no parameters to refit. Set refit.epochs "
                f"to 0 or choose a trained predictor (e.g. residual_mlp)."
            )
        predictor = StandardisedPredictor(predictor, shapes.embedding_dim).to(device)
        refit_init = fresh_predictor_state(host, recipe, shapes)
    model = JEPA(networks["encoder"], predictor, regularizer.target, recipe.data.history)
    model.inverse_dynamics = inverse_dynamics_head(recipe, shapes, predictor)
    model.to(device)
    decoder = networks["decoder"]
    if recipe.train.compile:  # in place, so state_dict keys stay those of the plain modules
        for module in (model.encoder, model.target_encoder, model.predictor, decoder):
            if module is not None:
                module.compile()
    return Assembly(
        dataset,
        split,
        model,
        decoder,
        regularizer,
        built_trackers,
        device,
        data_seconds,
        dist_info,
        refit_init,
    )


def inverse_dynamics_head(
    recipe: Recipe, shapes: Shapes, predictor: nn.Module
) -> InverseDynamics | None:
    """objective.inverse_dynamics's head, drawn apart from the main random stream (so phase 1
    starts the same with or without it); None when its weight is 0."""
    spec = recipe.objective.inverse_dynamics
    if not spec.weight:
        return None
    action_dim = action_dim_of(predictor)
    if not action_dim:
        raise RecipeError(
            [
                f"objective.inverse_dynamics.weight: {spec.weight}, but predictor "
                f"'{recipe.model.predictor.name}' takes no actions, so there is no action to "
                "read back; set it to 0, or choose an action-conditioned predictor (action_mlp) "
                "on a dataset with actions"
            ]
        )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(recipe.seed, "inverse_dynamics"))
        return InverseDynamics(shapes.embedding_dim, action_dim, spec.hidden_dim, spec.weight)


def fresh_predictor_state(host: Any, recipe: Recipe, shapes: Shapes) -> dict[str, torch.Tensor]:
    """The weights the refit phase starts from, drawn apart from the main random stream (so
    phase 1 is the same with or without a refit)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(recipe.seed, "refit_predictor"))
        return build(host, recipe.model.predictor, shapes).state_dict()


def random_encoder(recipe: Recipe, host: Any, assembly: Assembly) -> nn.Module:
    """A freshly initialised encoder of the recipe's architecture (the probe control)."""
    shapes = shapes_of(recipe, assembly.dataset)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(recipe.seed, "random_encoder"))
        return build(host, recipe.model.encoder, shapes).to(assembly.device).eval()
