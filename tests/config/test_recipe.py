"""Recipes: typed loading, every problem reported at once with paths, overrides, round trips."""

from __future__ import annotations

import pytest
import yaml

from jepa_framework.config.recipe import (
    apply_overrides,
    dump_recipe,
    load_recipe,
    locate,
    structure_recipe,
)
from jepa_framework.core.errors import JepaError, RecipeError
from jepa_framework.plugin.host import host

BASE = {
    "name": "t",
    "data": {"dataset": {"name": "circle", "size": 8}},
    "model": {"encoder": "mlp", "predictor": {"name": "mlp"}, "decoder": {"name": "mlp"}},
    "objective": {"regularizer": {"name": "vicreg", "var_weight": 10.0}},
}


def load(raw, orphans=frozenset()):
    return structure_recipe(raw, host(), orphans=orphans)


def override(raw, texts):
    return apply_overrides(raw, texts)[0]


def problems_of(raw) -> list[str]:
    with pytest.raises(RecipeError) as info:
        load(raw)
    return info.value.problems


def test_a_valid_recipe_gets_typed_params_and_defaults():
    recipe = load(BASE)
    assert recipe.data.dataset.params.size == 8
    assert recipe.model.encoder.name == "mlp"  # `encoder: mlp` shorthand
    assert recipe.objective.regularizer.params.var_weight == 10.0
    assert recipe.train.epochs == 20 and recipe.objective.rollout_steps == 4


def test_every_problem_is_reported_at_once_with_its_dotted_path():
    raw = override(
        BASE,
        [
            "objective.regularizer.var_weigth=3",
            "train.epochs=five",
            "model.predictor.name=residual_mpl",
            "trian.lr=0.1",
        ],
    )
    problems = problems_of(raw)
    text = "\n".join(problems)
    assert len(problems) == 4, text
    assert "objective.regularizer.var_weigth: unknown key (did you mean 'var_weight'?)" in text
    assert "train.epochs: expected an integer, got 'five'" in text
    assert "model.predictor.name: unknown predictor 'residual_mpl'" in text
    assert "did you mean 'residual_mlp'?" in text
    assert "trian: unknown key (did you mean 'train'?)" in text


def test_wrong_types_are_refused_not_coerced():
    assert any("data.history" in p for p in problems_of(override(BASE, ["data.history=2.5"])))
    assert any(
        "data.dataset.cache" in p for p in problems_of(override(BASE, ["data.dataset.cache=1"]))
    )


def test_yaml_1_1_exponent_strings_are_numbers():
    recipe = load(override(BASE, ["train.lr=1e-3"]))
    assert recipe.train.lr == pytest.approx(1e-3)


def test_missing_sections_and_bad_choices_are_named():
    raw = {k: v for k, v in BASE.items() if k != "model"}
    assert any(p.startswith("model:") for p in problems_of(raw))
    problems = problems_of(override(BASE, ["train.precision=bf61"]))
    assert len(problems) == 1
    assert problems[0].startswith("train.precision: must be in ('fp32', 'bf16') (got 'bf61')")
    assert problems[0].endswith("(did you mean 'bf16'?)")


def test_overrides_parse_values_as_yaml_and_create_keys():
    raw = override(BASE, ["train.epochs=5", "tracking=[{name: local}]", "seed=3"])
    recipe = load(raw)
    assert recipe.train.epochs == 5 and recipe.seed == 3
    assert recipe.tracking[0].name == "local"
    assert BASE["model"]["encoder"] == "mlp"  # the original is untouched


def test_renaming_a_component_drops_keys_the_new_one_does_not_accept():
    raw, orphans = apply_overrides(BASE, ["objective.regularizer.name=mse"])
    assert orphans == {"objective.regularizer.var_weight"}
    assert raw["objective"]["regularizer"] == {"name": "mse", "var_weight": 10.0}
    assert load(raw, orphans).objective.regularizer.name == "mse"
    with pytest.raises(RecipeError, match="var_weight: unknown key"):
        load(raw)  # without the rename's report the key is refused


def test_keys_set_after_a_rename_are_checked_not_dropped():
    raw, orphans = apply_overrides(
        BASE, ["objective.regularizer.name=sigreg", "objective.regularizer.lamm=0.1"]
    )
    assert orphans == {"objective.regularizer.var_weight"}
    problems = problems_of_loaded(raw, orphans)
    assert problems == [
        "objective.regularizer.lamm: unknown key (did you mean 'lam'?); "
        "allowed keys: lam, num_directions, on_predictions"
    ]


def test_a_rename_keeps_keys_the_new_component_accepts():
    base = override(BASE, ["objective.regularizer={name: sigreg, lam: 0.5}"])
    raw, orphans = apply_overrides(base, ["objective.regularizer.name=vicreg"])
    assert orphans == {"objective.regularizer.lam"}
    raw, orphans = apply_overrides(raw, ["objective.regularizer.name=sigreg"])
    assert load(raw, orphans).objective.regularizer.params.lam == 0.5


def problems_of_loaded(raw, orphans) -> list[str]:
    with pytest.raises(RecipeError) as info:
        load(raw, orphans)
    return info.value.problems


def test_a_bad_override_is_a_clear_error():
    with pytest.raises(JepaError, match="command-line override 'train.epochs': not of the form"):
        apply_overrides(BASE, ["train.epochs"])


def test_python_tags_are_refused(tmp_path):
    path = tmp_path / "evil.yaml"
    path.write_text("name: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(RecipeError, match="not valid YAML"):
        load_recipe(str(path))


def test_built_in_recipes_load_by_name_and_round_trip(tmp_path):
    names = sorted(host().recipes)  # every shipped recipe, a new one included without listing it
    assert {"circle", "pendulum", "pendulum_image", "pendulum_image_long"} <= set(names)
    for name in names:
        recipe, _ = load_recipe(name)
        path = tmp_path / f"{name}.yaml"
        path.write_text(dump_recipe(recipe, header="provenance line"))
        again, _ = load_recipe(str(path))
        assert again == recipe
        assert yaml.safe_load(path.read_text())["name"] == name


def test_unknown_recipe_names_suggest_a_built_in():
    with pytest.raises(JepaError, match="did you mean 'pendulum'"):
        load_recipe("pendulm")


def test_a_folder_named_like_a_builtin_recipe_does_not_hide_it(tmp_path, monkeypatch):
    """`cd vanderpol && jepa run vanderpol` must find the recipe, not the package folder."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "circle").mkdir()
    assert locate("circle", host()).name == "circle.yaml"
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.yaml").write_text("name: x\n")
    with pytest.raises(JepaError, match="is a folder, not a recipe file.*run/config.yaml"):
        locate("run", host())
