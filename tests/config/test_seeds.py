"""The recipe's one seed moves the data, the validation and the test trajectories; written
seeds pin them."""

from __future__ import annotations

import pytest

from jepa_framework.config.recipe import structure_recipe
from jepa_framework.core.errors import RecipeError
from jepa_framework.plugin.host import host

BASE = {
    "name": "t",
    "data": {"dataset": {"name": "circle", "size": 8}},
    "model": {"encoder": "mlp", "predictor": {"name": "mlp"}, "decoder": {"name": "mlp"}},
    "objective": {"regularizer": {"name": "vicreg"}},
}


def recipe(seed: int, data: dict | None = None, eval_section: dict | None = None):
    raw = {**BASE, "seed": seed, "eval": eval_section or {}}
    raw["data"] = {"dataset": {**BASE["data"]["dataset"], **(data or {})}}
    return structure_recipe(raw, host())


def seeds(r) -> tuple[int, int, int]:
    return r.dataset_spec().params.seed, r.trajectory_seed("test"), r.trajectory_seed("validation")


def test_every_empty_seed_changes_with_the_recipe_seed():
    first, second = seeds(recipe(0)), seeds(recipe(1))
    assert all(a != b for a, b in zip(first, second, strict=True))
    assert len(set(first)) == 3  # data, test and validation draws are distinct streams
    assert seeds(recipe(0)) == first  # and reproducible


def test_written_seeds_pin_the_data_and_the_test_set_across_seeds():
    pinned = [recipe(s, {"seed": 0}, {"seed": 12345}) for s in (0, 1)]
    assert [seeds(r)[:2] for r in pinned] == [(0, 12345), (0, 12345)]
    assert pinned[0].trajectory_seed("validation") != pinned[1].trajectory_seed("validation")


def test_the_split_chooses_which_trajectories_are_scored():
    r = recipe(0, eval_section={"split": "validation", "validation_seed": 7})
    assert r.trajectory_seed() == 7
    assert recipe(0).trajectory_seed() == recipe(0).trajectory_seed("test")


def test_a_validation_set_equal_to_the_test_set_is_refused():
    with pytest.raises(RecipeError, match="eval.validation_seed"):
        recipe(0, eval_section={"seed": 5, "validation_seed": 5})
    with pytest.raises(RecipeError, match="eval.split"):
        recipe(0, eval_section={"split": "train"})


def test_the_dataset_generates_from_the_resolved_seed(tmp_path):
    from jepa_framework.pipeline.assemble import build

    a = build(host(), recipe(0, {"cache": False}).dataset_spec())
    b = build(host(), recipe(1, {"cache": False}).dataset_spec())
    c = build(host(), recipe(1, {"cache": False}).dataset_spec())
    assert a.data_seed != b.data_seed
    assert not a.observations.equal(b.observations)
    assert b.observations.equal(c.observations)
