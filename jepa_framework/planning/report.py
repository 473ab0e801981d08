"""`jepa plan`: closed-loop planning with a trained action-conditioned run, scored into plan.json.

The run's world model plans toward each held-out goal (``plan`` section of the recipe: the
planner, the number of episodes and steps, the seed of the start/goal pairs) beside two
references on the same pairs: a random policy (the floor), the same planner with the true
simulator as its model (the ceiling, where the environment can simulate in batches), and the
same planner on the random-encoder control (a frozen random encoder, the recipe's predictor
trained on its latents with the JEPA's budget: what planning gets from features nobody
trained) and on the supervised model (the recipe's networks trained end to end on the
observation loss with the same budget; :mod:`~jepa_framework.planning.references`). Every
bad input -- an autonomous run, a dataset without an environment, an environment without
planning tasks, an override outside ``plan`` -- is refused before any planning, and nothing is
written then.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from jepa_framework.config.recipe import PlannerSpec, Recipe, load_recipe
from jepa_framework.core.errors import JepaError, PluginError
from jepa_framework.core.progress import progress
from jepa_framework.core.seeds import derive_seed
from jepa_framework.core.threads import one_torch_thread
from jepa_framework.datasets.environments import missing_task
from jepa_framework.pipeline.artifacts import CONFIG_NAME, write_json
from jepa_framework.pipeline.assemble import Assembly, build
from jepa_framework.planning.closed_loop import draw_tasks, run_episode, summarise
from jepa_framework.planning.costs import (
    LatentGoalCost,
    ObservationGoalCost,
    context_window,
    goal_weights,
)
from jepa_framework.planning.policies import PlanningPolicy, Policy, RandomPolicy
from jepa_framework.planning.problem import Planner, PlanningProblem
from jepa_framework.planning.references import random_encoder_model, supervised_model
from jepa_framework.planning.video import PLAN_VIDEO_NAME, write_plan_video

log = logging.getLogger("jepa_framework")

PLAN_NAME = "plan.json"
#: the default planner when the recipe's plan.planner is empty
DEFAULT_PLANNER = "cem"


def plan_recipe(run_dir: Path, overrides: list[str], host: Any) -> Recipe:
    """The run's recipe with ``plan.*`` overrides applied (other keys would not match the
    trained weights, so they are refused)."""
    if not run_dir.is_dir():
        raise JepaError(f"run directory {run_dir} does not exist.")
    if not (run_dir / CONFIG_NAME).is_file():
        raise JepaError(f"{run_dir} is not a run directory: it holds no {CONFIG_NAME}.")
    foreign = [o for o in overrides if not o.partition("=")[0].strip().startswith("plan.")]
    if foreign:
        raise JepaError(
            f"`jepa plan` takes overrides of the plan section only (plan.episodes=20, "
            f"plan.planner.name=mppi, ...); {', '.join(foreign)} would change what the run "
            f"was trained with. Train a new run with `jepa run` for that."
        )
    keys = [o.partition("=")[0].strip() for o in overrides]
    if any(k.startswith("plan.planner.") for k in keys) and "plan.planner.name" not in keys:
        saved, _ = load_recipe(str(run_dir / CONFIG_NAME), (), host)
        if saved.plan.planner is None:  # an empty planner is cem: its options start from there
            overrides = [f"plan.planner.name={DEFAULT_PLANNER}", *overrides]
    recipe, _ = load_recipe(str(run_dir / CONFIG_NAME), overrides, host)
    return recipe


def check_acting(recipe: Recipe, assembly: Assembly, run_dir: Path) -> None:
    """A clear error when the run's world model takes no actions (nothing to plan with)."""
    dataset = recipe.data.dataset.name
    if not assembly.model.action_dim:
        raise JepaError(
            f"`jepa plan` needs a world model that takes actions, and {run_dir} is autonomous: "
            f"its predictor '{recipe.model.predictor.name}' (model.predictor.name) takes none, "
            f"trained on dataset '{dataset}' (data.dataset.name). Train an action-conditioned "
            f"recipe, e.g. `jepa run two_rooms`, and plan with its run folder. Nothing was "
            f"written."
        )


def check_plannable(recipe: Recipe, assembly: Assembly, run_dir: Path) -> Any:
    """The environment to plan in; a clear error when the run cannot plan."""
    check_acting(recipe, assembly, run_dir)
    dataset = recipe.data.dataset.name
    env = assembly.dataset.environment()
    if env is None:
        raise JepaError(
            f"dataset '{dataset}' (data.dataset.name) of {run_dir} has no environment to plan "
            f"in (its environment() returns None): closed-loop planning needs the simulator "
            f"the data came from, such as env_rollouts' data.dataset.env. Nothing was written."
        )
    missing = missing_task(env)
    if missing:
        raise JepaError(
            f"the environment of {run_dir} (data.dataset.env) sets no planning task: it lacks "
            f"{', '.join(missing)} (docs/how-to/plan.md says what each is). Nothing was written."
        )
    return env


def build_planner(recipe: Recipe, host: Any) -> tuple[Planner, PlannerSpec]:
    """The recipe's planner (``plan.planner``, else cem with its defaults), checked."""
    spec = recipe.plan.planner
    if spec is None:
        component = host.registry("planners").get(DEFAULT_PLANNER)
        spec = PlannerSpec(name=DEFAULT_PLANNER, params=component.params())
    planner = build(host, spec)
    if not callable(getattr(planner, "plan", None)) or not isinstance(
        getattr(planner, "horizon", None), int
    ):
        plugin = host.registry("planners").get(spec.name).plugin
        raise PluginError(
            f"planner '{spec.name}' (plugin '{plugin}') is not a Planner: it needs a "
            "plan(problem, init) method and an int horizon "
            "(jepa_framework.planning.problem.Planner)"
        )
    return planner, spec


def evaluate_planning(recipe: Recipe, assembly: Assembly, run_dir: Path, host: Any) -> dict:
    """Score the world model's planner, a random policy and the simulator's planner on the
    same held-out start/goal pairs; writes plan.json in ``run_dir`` and returns it."""
    env = check_plannable(recipe, assembly, run_dir)
    planner, spec = build_planner(recipe, host)
    cfg, seed = recipe.plan, recipe.plan_seed()
    if cfg.replan_every > planner.horizon:
        raise JepaError(
            f"plan.replan_every: {cfg.replan_every} steps of each plan would be executed, but "
            f"planner '{spec.name}' plans {planner.horizon} (its horizon); lower "
            f"plan.replan_every to at most {planner.horizon}. Nothing was written."
        )
    space, device = assembly.dataset.action_space, assembly.device
    assert space is not None
    assembly.model.eval()
    tasks = draw_tasks(env, cfg.episodes, seed)

    def generator(purpose: str) -> torch.Generator:
        return torch.Generator().manual_seed(derive_seed(seed, purpose))

    decoded = cfg.cost == "observation"
    # checked before any planning: a plugin's weights of the wrong size fail here, not midway
    weights = observation_weights(recipe, env, observation_size(assembly)) if decoded else None
    state_weights = goal_weights(env, "state", len(tasks[0].goal))

    def planning(name: str, decoder: Any = None, **model_or_env: Any) -> PlanningPolicy:
        """The one planner, cost and replanning period, on a model or the simulator."""
        return PlanningPolicy(
            planner,
            space,
            generator(name),
            device,
            path_weight=cfg.path_weight,
            replan_every=cfg.replan_every,
            decoder=decoder if decoded else None,
            observation_weights=weights,
            **model_or_env,
        )

    own = assembly.decoder.eval()
    methods: dict[str, Policy] = {
        "world_model": planning("world_model", own, model=assembly.model, dataset=assembly.dataset)
    }
    skipped: dict[str, str] = {}
    notes: dict[str, Any] = {}
    if cfg.baselines:
        methods["random"] = RandomPolicy(space, np.random.default_rng(derive_seed(seed, "random")))
        if getattr(planner, "needs_gradient", False):
            skipped["simulator"] = (
                f"planner '{spec.name}' descends the cost's gradient and the simulator has "
                "none; plan with cem or mppi for the true-model ceiling"
            )
        elif callable(getattr(env, "simulate", None)):
            methods["simulator"] = planning("simulator", env=env)
        references = {"random_encoder": random_encoder_model, "supervised": supervised_model}
        for name, make in references.items():
            reference, decoder, notes[name] = make(recipe, host, assembly, decoded)
            methods[name] = planning(name, decoder, model=reference, dataset=assembly.dataset)
    results: dict[str, Any] = {}
    filmed: list = []
    for name, policy in methods.items():
        started = time.perf_counter()
        bar = progress(len(tasks), 0, f"plan {name}", enabled=True)  # episodes, on stderr
        episodes = []
        with one_torch_thread():  # batches of a few hundred: a thread pool only spins
            for i, task in enumerate(tasks):
                episode_seed = derive_seed(seed, f"episode{i}")
                episodes.append(run_episode(env, policy, task, cfg.max_steps, episode_seed))
                bar.set_postfix(success=f"{sum(e.success for e in episodes)}/{len(episodes)}")
                bar.update(1)
        bar.close()
        if name == "world_model":
            filmed = episodes[: cfg.video_episodes]
        results[name] = summarise(episodes)
        log.info(
            "planning with %s: success %.0f %% over %d episodes, final distance %.3f, "
            "%.1f ms per step (%.1fs)",
            name,
            100 * results[name]["success_rate"],
            len(episodes),
            results[name]["final_distance_mean"],
            1000 * results[name]["seconds_per_step"],
            time.perf_counter() - started,
        )
    report = {
        "run": run_dir.name,
        "environment": _environment_of(recipe),
        "planner": spec.to_dict(),
        "episodes": cfg.episodes,
        "max_steps": cfg.max_steps,
        "seed": seed,
        "success_radius": float(env.success_radius),
        "success": success_rule(env),
        "replan_every": cfg.replan_every,
        "action_space": space.to_dict(),
        "cost": cost_in_words(cfg.cost, cfg.path_weight, weights, cfg.observation_weights is None),
        "simulator_state_weights": [round(float(w), 6) for w in state_weights],
        "methods": results,
    }
    if notes:
        report["settings"] = notes
    if skipped:
        report["skipped"] = skipped
    if filmed:
        report["video"] = PLAN_VIDEO_NAME
    write_json(run_dir / PLAN_NAME, report)
    if filmed:
        write_plan_video(env, filmed, run_dir, derive_seed(seed, "video"))
    return report


@torch.no_grad()
def plan_actions(
    recipe: Recipe,
    assembly: Assembly,
    host: Any,
    context: torch.Tensor,
    goal: torch.Tensor,
    seed: int = 0,
) -> torch.Tensor:
    """One plan: float context frames [T, *obs] (the last ``history`` used, the first repeated
    when fewer) and a float goal observation [*obs] -> actions [horizon, A] on the CPU."""
    planner, _ = build_planner(recipe, host)
    model, device = assembly.model, assembly.device
    space = assembly.dataset.action_space
    assert space is not None
    model.eval()
    path_weight = recipe.plan.path_weight
    if recipe.plan.cost == "observation":
        env = assembly.dataset.environment()
        weights = observation_weights(recipe, env, observation_size(assembly))
        decoder = assembly.decoder.eval()
        cost = ObservationGoalCost(model, decoder, goal.float(), weights, device, path_weight)
    else:
        cost = LatentGoalCost(model, goal.float(), device, path_weight)
    cost.start_from(context_window(list(context.float()), model.history))
    low, high = space.bounds(device)
    problem = PlanningProblem(cost, low, high, torch.Generator().manual_seed(seed))
    with one_torch_thread():
        return planner.plan(problem).float().cpu()


def observation_size(assembly: Assembly) -> int:
    """How many values one observation of the run's dataset holds."""
    return math.prod(assembly.dataset.obs_shape)


def observation_weights(recipe: Recipe, env: Any, size: int) -> np.ndarray:
    """The weights of the decoded cost: ``plan.observation_weights`` where the recipe sets them,
    else the environment's; a clear error when they do not fit the observation."""
    chosen = recipe.plan.observation_weights
    if chosen is None:
        return goal_weights(env, "observation", size)
    if len(chosen) != size:
        raise JepaError(
            f"plan.observation_weights has {len(chosen)} values, but an observation of this "
            f"run holds {size}: give one weight per value, or leave it empty for the "
            "environment's. Nothing was written."
        )
    return np.asarray(chosen, dtype=np.float32)


def cost_in_words(
    cost: str, path_weight: float, weights: np.ndarray | None, declared: bool = True
) -> str:
    """What the world model's plans were scored on (plan.json's ``cost``)."""
    if cost != "observation":
        return (
            "squared distance of the last predicted latent to the goal's latent + "
            f"{path_weight:g} x its mean over the predicted path"
        )
    scaled = ""
    if weights is not None and not np.all(weights == 1):
        source = "the environment's observation_weights" if declared else "plan.observation_weights"
        scaled = f", each value weighted by {[round(float(w), 6) for w in weights]} ({source})"
    return (
        "squared distance of the last predicted latent, decoded by the run's decoder, to the "
        f"goal observation + {path_weight:g} x its mean over the predicted path{scaled}"
    )


def success_rule(env: Any) -> str:
    """What counts as a success in ``env``, in words (plan.json's ``success``)."""
    rule = getattr(env, "success_rule", None)
    return str(rule) if rule else f"ending within {float(env.success_radius):g} of the goal"


def _environment_of(recipe: Recipe) -> dict[str, Any] | str:
    """The dataset's environment spec as plan.json records it (its name where it has none)."""
    env = getattr(recipe.data.dataset.params, "env", None)
    return env.to_dict() if hasattr(env, "to_dict") else recipe.data.dataset.name


def plan_run(run_dir: Path, overrides: list[str] = (), host: Any = None) -> dict[str, Any]:
    """`jepa plan RUN_DIR [plan.key=value ...]`: rebuild the run, plan, write plan.json."""
    from jepa_framework.evaluate.loading import load_run

    if host is None:
        from jepa_framework.plugin.host import host as make_host

        host = make_host()
    recipe = plan_recipe(run_dir, list(overrides), host)
    _, assembly = load_run(run_dir, host)
    return evaluate_planning(recipe, assembly, run_dir, host)


def format_plan(report: dict[str, Any]) -> str:
    """The methods of plan.json as a small table."""
    lines = [f"{'method':<12} {'success':>8} {'final distance':>15} {'ms / step':>10}"]
    for name, result in report["methods"].items():
        lines.append(
            f"{name:<12} {100 * result['success_rate']:>7.0f}% "
            f"{result['final_distance_mean']:>15.3f} {1000 * result['seconds_per_step']:>10.1f}"
        )
    lines.append(
        f"{report['episodes']} held-out start/goal pairs, {report['max_steps']} steps each; "
        f"success: {report['success']}"
    )
    return "\n".join(lines)


__all__ = ["PLAN_NAME", "PLAN_VIDEO_NAME", "evaluate_planning", "format_plan", "plan_run"]
