"""Matched budgets counted whole: every trained method repeats every phase the JEPA's forecaster
trained in (phase 1, then the refit), and eval.json records each method's steps and wall time."""

from __future__ import annotations

import json

import pytest

from jepa_framework.commands.cli import main
from jepa_framework.config.recipe import load_recipe
from jepa_framework.evaluate.matched_budget import (
    Budget,
    PhaseBudget,
    jepa_budget,
    method_budgets,
    scaled_plan,
)
from jepa_framework.pipeline.optim import StepPlan
from jepa_framework.pipeline.training import phase_plans

from .. import conftest

PHASE_1 = StepPlan(epochs=2, steps_per_epoch=3, warmup_steps=1)
REFIT = StepPlan(epochs=4, steps_per_epoch=5, warmup_steps=2)
PLANS = {"jepa": PHASE_1, "refit": REFIT, "decoder": StepPlan(9, 9, 9)}


def _recipe(*overrides: str):
    recipe, _ = load_recipe("pendulum", [*conftest.TINY, *overrides])
    return recipe


def test_without_a_refit_the_budget_is_phase_one_alone():
    recipe = _recipe("objective.rollout_steps=3", "train.lr=2e-3")
    budget = jepa_budget(recipe, PLANS)
    (phase,) = budget.phases
    assert phase == PhaseBudget("jepa", PHASE_1, 8, 2e-3, 0.05, 1.0, 3)
    assert budget.total_steps == PHASE_1.total_steps == 6


def test_a_refit_adds_its_own_steps_rollout_batch_and_lr():
    recipe = _recipe(
        "objective.rollout_steps=3",
        "refit.epochs=4",
        "refit.batch_size=5",
        "refit.lr=3e-4",
        "refit.rollout_steps=1",
    )
    budget = jepa_budget(recipe, PLANS)
    assert [p.phase for p in budget.phases] == ["jepa", "refit"]
    refit = budget.phases[1]
    # the trainer's refit: refit's plan, batch, lr and rollout, train's weight decay and clipping
    assert refit == PhaseBudget("refit", REFIT, 5, 3e-4, 0.05, 1.0, 1)
    assert budget.total_steps == 6 + 20
    # the refit's rollout length falls back on objective.rollout_steps
    default = jepa_budget(_recipe("objective.rollout_steps=3", "refit.epochs=4"), PLANS)
    assert default.phases[1].rollout_steps == 3


def test_the_trainer_and_the_evaluation_share_one_set_of_plans():
    recipe = _recipe("refit.epochs=3", "refit.batch_size=4")
    plans = phase_plans(recipe, 21)
    assert plans["jepa"] == StepPlan.for_epochs(2, 21, 8, recipe.train.warmup_epochs)
    assert plans["refit"].total_steps == 3 * 6


def test_a_multiple_scales_every_phase():
    budget = Budget(
        (
            PhaseBudget("jepa", PHASE_1, 8, 1e-3, 0.0, 1.0, 3),
            PhaseBudget("refit", REFIT, 5, 1e-3, 0.0, 1.0, 1),
        )
    )
    x4 = budget.scaled(4)
    assert x4.total_steps == 4 * budget.total_steps
    assert [p.plan for p in x4.phases] == [scaled_plan(PHASE_1, 4), scaled_plan(REFIT, 4)]
    assert x4.phases[1].plan.warmup_steps == REFIT.warmup_steps  # more epochs, same warmup


def test_every_method_gets_a_budget_entry_and_untrained_ones_take_no_step():
    budget = Budget((PhaseBudget("jepa", PHASE_1, 8, 1e-3, 0.0, 1.0, 3),))
    trained = {"supervised": {"optimizer_steps": 6, "wall_s": 1.5, "phases": ["..."], "x": 1}}
    out = method_budgets(["jepa", "copy_last", "supervised"], budget, 12.0, trained)
    assert out == {
        "jepa": {"optimizer_steps": 6, "wall_s": 12.0, "phases": budget.record()},
        "copy_last": {"optimizer_steps": 0, "wall_s": None, "phases": []},
        "supervised": {"optimizer_steps": 6, "wall_s": 1.5, "phases": ["..."]},
    }


@pytest.fixture(scope="module")
def refit_report(tmp_path_factory):
    """A tiny pendulum run with a refit phase of 3 steps at rollout 1 (phase 1: 6 at 3)."""
    out = tmp_path_factory.mktemp("refit_budget")
    args = [
        "run",
        "pendulum",
        *conftest.TINY,
        "objective.rollout_steps=3",
        "eval.horizon=10",
        "output.forecast_frames=4",
        "train.threads=1",
        "refit.epochs=1",
        "refit.batch_size=8",
        "refit.rollout_steps=1",
        f"output.dir={out}",
    ]
    assert main(args) == 0
    (run_dir,) = out.iterdir()
    return json.loads((run_dir / "eval.json").read_text())


def test_baselines_and_controls_train_on_every_phase_the_jepa_trained_in(refit_report):
    budgets = refit_report["budgets"]
    jepa = budgets["jepa"]
    assert jepa["optimizer_steps"] == 6 + 3 and jepa["wall_s"] > 0
    shape = [(p["phase"], p["optimizer_steps"], p["rollout_steps"]) for p in jepa["phases"]]
    assert shape == [("jepa", 6, 3), ("refit", 3, 1)]
    for name in ("supervised", "residual_mlp", "random_encoder", "refit_predictor"):
        entry = budgets[name]
        assert entry["optimizer_steps"] == jepa["optimizer_steps"], name
        ran = [(p["phase"], p["optimizer_steps"], p["rollout_steps"]) for p in entry["phases"]]
        assert ran == shape, name
        assert [p["batch_size"] for p in entry["phases"]] == [8, 8], name
        assert entry["wall_s"] > 0, name
    settings = refit_report["settings"]
    assert len(settings["baselines"]["supervised"]["epoch_losses"]) == 2 + 1
    assert settings["random_encoder"]["optimizer_steps"] == 9
    # the budget curve places the JEPA at its total steps, beside the baselines at 1x
    curve = refit_report["budget_curve"]
    assert curve["jepa"]["1"]["optimizer_steps"] == 9 == curve["supervised"]["1"]["optimizer_steps"]
