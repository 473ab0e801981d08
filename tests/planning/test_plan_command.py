"""`jepa plan` and `run.plan`: a tiny two_rooms run plans and writes plan.json; bad input is
exit code 2 with one clear paragraph, before any work, and writes nothing."""

from __future__ import annotations

import json

import imageio_ffmpeg
import numpy as np
import pytest
import torch

from jepa_framework.api import load_run
from jepa_framework.commands.cli import main
from jepa_framework.core.errors import JepaError
from jepa_framework.datasets.render import CAPTION_HEIGHT
from jepa_framework.planning.video import PAUSE
from jepa_framework.testing import run_tiny

pytestmark = pytest.mark.usefixtures("one_thread")

QUICK = ["output.forecast_frames=8", "decoder_train.epochs=1"]
#: a planning budget that runs in a second or two
SMALL_PLAN = [
    "plan.episodes=2",
    "plan.max_steps=3",
    "plan.planner.samples=16",
    "plan.planner.horizon=4",
    "plan.planner.iterations=2",
    "plan.planner.elites=4",
]


@pytest.fixture(scope="module")
def acting_run(tmp_path_factory):
    return run_tiny("two_rooms", tmp_path_factory.mktemp("acting"), *QUICK)


@pytest.fixture(scope="module")
def autonomous_run(tmp_path_factory):
    return run_tiny("circle", tmp_path_factory.mktemp("autonomous"), *QUICK, "eval.enabled=false")


def test_a_tiny_two_rooms_run_plans_and_writes_plan_json(acting_run, capsys):
    assert main(["plan", str(acting_run), *SMALL_PLAN]) == 0
    out = capsys.readouterr().out
    assert "world_model" in out and "plan.json" in out
    report = json.loads((acting_run / "plan.json").read_text())
    assert report["episodes"] == 2 and report["max_steps"] == 3
    assert report["planner"]["name"] == "cem" and report["planner"]["horizon"] == 4
    assert report["environment"]["name"] == "two_rooms" and report["success_radius"] == 0.1
    methods = {"world_model", "random", "simulator", "random_encoder", "supervised"}
    assert set(report["methods"]) == methods
    control = report["settings"]["random_encoder"]  # trained with the JEPA's budget
    assert control["optimizer_steps"] > 0 and control["phases"][0]["phase"] == "jepa"
    supervised = report["settings"]["supervised"]  # the same budget, on the observation loss
    assert supervised["optimizer_steps"] == control["optimizer_steps"]
    assert supervised["standardised"] and "actions" in supervised["architecture"]
    for result in report["methods"].values():
        assert 0.0 <= result["success_rate"] <= 1.0 and result["final_distance_mean"] >= 0
        assert result["seconds_per_step"] >= 0 and len(result["episodes"]) == 2
        first = result["episodes"][0]
        assert {"start", "goal", "final_state", "final_distance", "success"} <= set(first)
        ends = np.linalg.norm(np.subtract(first["final_state"], first["goal"]))
        assert ends == pytest.approx(first["final_distance"], rel=1e-4, abs=1e-6)
    starts = [e["start"] for e in report["methods"]["world_model"]["episodes"]]
    assert starts == [e["start"] for e in report["methods"]["random"]["episodes"]]
    # the world model's episodes filmed from the environment: a real H.264 video
    assert report["video"] == "plan.mp4"
    frames, _ = imageio_ffmpeg.count_frames_and_secs(str(acting_run / "plan.mp4"))
    assert frames == 2 * (3 + 1) + PAUSE  # two episodes of 3 steps and their starts, a pause
    reader = imageio_ffmpeg.read_frames(str(acting_run / "plan.mp4"))
    assert next(reader)["size"] == (2 * 64 + 4, CAPTION_HEIGHT + 64)  # agent | goal, captioned


def test_the_gradient_planner_plans_a_run_and_skips_the_simulator_it_cannot_descend(
    acting_run, capsys
):
    overrides = ["plan.episodes=2", "plan.max_steps=3", "plan.planner.name=gradient"]
    overrides += ["plan.planner.horizon=4", "plan.planner.iterations=3", "plan.planner.samples=4"]
    assert main(["plan", str(acting_run), *overrides]) == 0
    report = json.loads((acting_run / "plan.json").read_text())
    assert report["planner"]["name"] == "gradient"
    assert set(report["methods"]) == {"world_model", "random", "random_encoder", "supervised"}
    assert "cem or mppi" in report["skipped"]["simulator"]


def test_planning_an_autonomous_run_exits_2_and_writes_nothing(autonomous_run, capsys):
    before = sorted(p.name for p in autonomous_run.iterdir())
    assert main(["plan", str(autonomous_run), *SMALL_PLAN]) == 2
    err = capsys.readouterr().err
    assert "needs a world model that takes actions" in err and "jepa run two_rooms" in err
    assert "Traceback" not in err
    assert sorted(p.name for p in autonomous_run.iterdir()) == before


def test_plan_refuses_overrides_outside_the_plan_section_and_missing_folders(
    acting_run, tmp_path, capsys
):
    assert main(["plan", str(acting_run), "train.epochs=3"]) == 2
    assert "overrides of the plan section only" in capsys.readouterr().err
    assert main(["plan", str(acting_run), "plan.episodes=0"]) == 2
    assert "plan.episodes" in capsys.readouterr().err
    assert main(["plan", str(tmp_path / "nowhere")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_run_plan_returns_bounded_actions_and_checks_its_inputs(acting_run, autonomous_run):
    run = load_run(acting_run, device="cpu")
    horizon = run.recipe.plan.planner.params.horizon
    start, goal = torch.tensor([-0.5, 0.3]), torch.tensor([0.5, -0.3])
    plan = run.plan(start, goal)
    assert plan.shape == (horizon, 2) and bool((plan.abs() <= 1).all())
    assert torch.equal(run.plan(start[None], goal, seed=1), run.plan(start[None], goal, seed=1))
    with pytest.raises(JepaError, match=r"goal must be one observation of shape \[2\]"):
        run.plan(start, torch.zeros(3))
    with pytest.raises(JepaError, match="pass actions"):
        run.rollout(run.encode(start[None, None]), 3)
    rolled = run.rollout(run.encode(start[None, None]), 3, torch.zeros(1, 3, 2))
    assert rolled.shape == (1, 3, run.recipe.model.embedding_dim)
    with pytest.raises(JepaError, match=r"actions must be \[batch, steps, action_dim\]"):
        run.rollout(run.encode(start[None, None]), 3, torch.zeros(1, 3, 5))
    with pytest.raises(JepaError, match="needs a world model that takes actions"):
        load_run(autonomous_run, device="cpu").plan(start, goal)


def test_an_action_predictor_on_autonomous_data_exits_2_before_any_run(tmp_path, capsys):
    code = main(
        ["run", "circle", "model.predictor.name=action_mlp", f"output.dir={tmp_path / 'out'}"]
    )
    err = capsys.readouterr().err
    assert code == 2 and "conditions on actions" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_the_forecast_evaluation_of_an_acting_run_is_refused_before_any_run(tmp_path, capsys):
    code = main(["run", "two_rooms", "eval.enabled=true", f"output.dir={tmp_path / 'out'}"])
    err = capsys.readouterr().err
    assert code == 2 and "eval.enabled" in err and "jepa plan" in err
    assert not (tmp_path / "out").exists()


def test_an_unknown_gymnasium_id_is_a_recipe_problem(tmp_path, capsys):
    code = main(
        [
            "run",
            "two_rooms",
            "data.dataset.env.name=gymnasium",
            "data.dataset.env.id=Pendulm-v1",
            f"output.dir={tmp_path / 'out'}",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "data.dataset.env.id" in err and "Pendulum-v1" in err


def test_plans_executed_for_several_steps_and_a_replan_longer_than_the_horizon(acting_run, capsys):
    assert main(["plan", str(acting_run), *SMALL_PLAN, "plan.replan_every=2"]) == 0
    assert json.loads((acting_run / "plan.json").read_text())["replan_every"] == 2
    before = (acting_run / "plan.json").read_bytes()
    assert main(["plan", str(acting_run), *SMALL_PLAN, "plan.replan_every=9"]) == 2
    err = capsys.readouterr().err
    assert "plan.replan_every" in err and "at most 4" in err and "Traceback" not in err
    assert (acting_run / "plan.json").read_bytes() == before


def test_the_pendulum_swingup_recipe_trains_and_plans_end_to_end(tmp_path, capsys):
    run = run_tiny("pendulum_swingup", tmp_path, *QUICK)
    assert main(["plan", str(run), *SMALL_PLAN]) == 0
    report = json.loads((run / "plan.json").read_text())
    assert report["environment"]["name"] == "pendulum_swingup"
    assert "upright over the last 2 s" in report["success"]
    assert report["action_space"]["low"] == [-2.0] and "simulator" in report["methods"]
    # scored decoded, the speed counting a tenth, in the model and the simulator alike
    assert "decoded" in report["cost"] and "[1.0, 1.0, 0.1]" in report["cost"]
    assert report["simulator_state_weights"] == pytest.approx([1.0, 0.1])


def test_plans_scored_in_latent_space_or_decoded_are_both_recorded(acting_run):
    for cost in ("latent", "observation"):
        assert main(["plan", str(acting_run), *SMALL_PLAN, f"plan.cost={cost}"]) == 0
        report = json.loads((acting_run / "plan.json").read_text())
        assert ("decoded" in report["cost"]) == (cost == "observation")
        assert set(report["methods"]) >= {"world_model", "random_encoder", "supervised"}
    assert main(["plan", str(acting_run), *SMALL_PLAN, "plan.cost=pixels"]) == 2


def test_the_two_rooms_image_recipe_plans_from_frames_end_to_end(tmp_path):
    run = run_tiny("two_rooms_image", tmp_path, *QUICK)
    assert main(["plan", str(run), *SMALL_PLAN]) == 0
    report = json.loads((run / "plan.json").read_text())
    assert report["environment"]["image_size"] == 32
    assert set(report["methods"]) == {
        "world_model",
        "random",
        "simulator",
        "random_encoder",
        "supervised",
    }
    loaded = load_run(run)
    assert tuple(loaded.dataset.obs_shape) == (3, 32, 32)  # the networks saw frames
    frame = torch.rand(3, 32, 32)
    actions = loaded.plan(frame[None], frame)
    assert actions.shape == (30, 2) and actions.abs().max() <= 1.0  # the recipe's horizon


def test_goal_weights_of_the_wrong_size_exit_2_before_planning(acting_run, capsys, monkeypatch):
    from jepa_builtins.envs.two_rooms import TwoRooms

    assert main(["plan", str(acting_run), *SMALL_PLAN]) == 0
    before = (acting_run / "plan.json").read_bytes()
    monkeypatch.setattr(TwoRooms, "observation_weights", (1.0,), raising=False)
    assert main(["plan", str(acting_run), *SMALL_PLAN, "plan.cost=observation"]) == 2
    err = capsys.readouterr().err
    assert "observation_weights [1.0]" in err and "2 values" in err and "Traceback" not in err
    assert (acting_run / "plan.json").read_bytes() == before


def test_plan_observation_weights_override_the_environments_and_must_fit(acting_run, capsys):
    weighted = ["plan.cost=observation", "plan.observation_weights=[1.0, 0.25]"]
    assert main(["plan", str(acting_run), *SMALL_PLAN, *weighted]) == 0
    report = json.loads((acting_run / "plan.json").read_text())
    assert "[1.0, 0.25] (plan.observation_weights)" in report["cost"]
    before = (acting_run / "plan.json").read_bytes()
    wrong = ["plan.cost=observation", "plan.observation_weights=[1.0]"]
    assert main(["plan", str(acting_run), *SMALL_PLAN, *wrong]) == 2
    err = capsys.readouterr().err
    assert "plan.observation_weights has 1 values" in err and "holds 2" in err
    assert "Traceback" not in err and (acting_run / "plan.json").read_bytes() == before
    negative = ["plan.cost=observation", "plan.observation_weights=[1.0, -1.0]"]
    assert main(["plan", str(acting_run), *SMALL_PLAN, *negative]) == 2
    assert "plan.observation_weights" in capsys.readouterr().err


def test_the_pendulum_swingup_image_recipe_plans_from_frames_end_to_end(tmp_path):
    run = run_tiny("pendulum_swingup_image", tmp_path, *QUICK, "refit.epochs=1")
    assert main(["plan", str(run), *SMALL_PLAN, "plan.replan_every=2"]) == 0
    report = json.loads((run / "plan.json").read_text())
    assert report["environment"]["image_size"] == 32 and "decoded" in report["cost"]
    assert "upright over the last 2 s" in report["success"]
    loaded = load_run(run)
    assert tuple(loaded.dataset.obs_shape) == (3, 32, 32) and loaded.history == 2
