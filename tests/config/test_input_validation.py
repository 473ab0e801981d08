"""Inputs that make no sense are refused up front, with the key or argument named, exit code 2.

Cross-field ranges of the built-in datasets (``radius_min <= radius_max`` and the like) and of
the scaffold's template, repeated sweep keys and values, and the Python API's arguments.
"""

from __future__ import annotations

import importlib
import sys

import attrs
import numpy as np
import pytest
import torch

import jepa_framework
from jepa_framework import api
from jepa_framework.commands.cli import main
from jepa_framework.core.errors import JepaError
from jepa_framework.testing import TINY_OVERRIDES, plugin_host

#: (recipe, the pair's common prefix, a min above the recipe's max, that max)
PAIRS = [
    ("circle", "radius", 2.0, 1.0),
    ("circle", "omega", 0.5, 0.4),
    ("spiral", "radius", 0.5, 0.4),
    ("spiral", "growth", 0.05, 0.02),
    ("spiral", "omega", 0.5, 0.4),
    ("lissajous", "amplitude", 2.0, 1.0),
    ("lissajous", "omega", 0.2, 0.15),
]


def _pair_message(prefix: str, low: float, high: float) -> str:
    return (
        f"data.dataset.{prefix}_min: must be at most data.dataset.{prefix}_max ({high}), got {low}"
    )


@pytest.mark.parametrize("command", ["show", "run"])
@pytest.mark.parametrize(("recipe", "prefix", "low", "high"), PAIRS)
def test_a_min_above_its_max_is_a_recipe_error(
    command, recipe, prefix, low, high, tmp_path, capsys
):
    args = [command, recipe, f"output.dir={tmp_path}", f"data.dataset.{prefix}_min={low}"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert _pair_message(prefix, low, high) in err and "Traceback" not in err
    assert not any(tmp_path.iterdir())  # refused before any folder is made


@pytest.mark.parametrize(("recipe", "prefix", "low", "high"), PAIRS)
def test_lowering_the_max_below_the_min_names_the_override(recipe, prefix, low, high, capsys):
    args = ["show", recipe, f"data.dataset.{prefix}_max=0.001"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"data.dataset.{prefix}_min: must be at most data.dataset.{prefix}_max (0.001)" in err
    assert f"[command-line override 'data.dataset.{prefix}_max=0.001']" in err


def test_every_problem_is_reported_together(capsys):
    args = ["show", "spiral", "data.dataset.radius_min=0.5", "data.dataset.growth_max=0.001"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "has 2 problem(s)" in err
    assert _pair_message("radius", 0.5, 0.4) in err
    assert "data.dataset.growth_min: must be at most data.dataset.growth_max (0.001)" in err


def test_a_max_out_of_its_own_range_is_reported_once(capsys):
    assert main(["show", "circle", "data.dataset.radius_max=-1"]) == 2
    err = capsys.readouterr().err
    assert "data.dataset.radius_max: must be at least 0, got -1.0" in err
    assert "has 1 problem(s)" in err  # not also "radius_min must be at most -1"


def test_sweep_refuses_a_bad_pair_before_any_run(tmp_path, capsys):
    args = ["sweep", "circle", f"output.dir={tmp_path}", "data.dataset.radius_min=0.1,2"]
    assert main(args) == 2
    assert _pair_message("radius", 2.0, 1.0) in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def _builtin_pairs() -> list[tuple[str, type, str]]:
    from jepa_framework.plugin.host import host

    found = []
    for component in host().registry("datasets"):
        if component.params.__module__.startswith("jepa_builtins."):
            names = {f.name for f in attrs.fields(component.params)}
            for name in sorted(names):
                if name.endswith("_min") and f"{name[:-4]}_max" in names:
                    found.append((component.name, component.params, name[:-4]))
    return found


def test_every_builtin_min_max_pair_is_checked_and_equal_ends_are_fine():
    pairs = _builtin_pairs()  # the pendulum datasets have none (angle_max, velocity_max are +-)
    assert {(name, prefix) for name, _, prefix in pairs} == {(r, p) for r, p, _, _ in PAIRS}
    for _name, params, prefix in pairs:
        high = getattr(params(), f"{prefix}_max")
        with pytest.raises(ValueError, match=rf"'{prefix}_min' must be <= {prefix}_max"):
            params(**{f"{prefix}_min": high + 0.01})
        assert getattr(params(**{f"{prefix}_min": high}), f"{prefix}_min") == high


# --- the scaffold's template --------------------------------------------------------------------


@pytest.fixture
def scaffolded(tmp_path, monkeypatch):
    name = "rangecheck_osc"
    assert main(["plugins", "new", name, "--dir", str(tmp_path)]) == 0
    monkeypatch.syspath_prepend(str(tmp_path / name))  # the project folder holds the package
    try:
        yield name
    finally:
        for module in [m for m in sys.modules if m == name or m.startswith(f"{name}.")]:
            del sys.modules[module]


def test_the_scaffold_template_refuses_omega_min_above_omega_max(scaffolded, tmp_path, capsys):
    dataset = importlib.import_module(f"{scaffolded}.dataset")
    params = dataset.RangecheckOscParams
    with pytest.raises(ValueError, match="'omega_min' must be <= omega_max"):
        params(omega_min=4.0, omega_max=2.0)
    assert params(omega_min=2.0, omega_max=2.0).omega_min == 2.0
    plugin = importlib.import_module(f"{scaffolded}.plugin")
    with plugin_host(plugin, cache_dir=tmp_path / "cache"):
        assert main(["show", scaffolded, "data.dataset.omega_min=5"]) == 2
    err = capsys.readouterr().err
    assert "data.dataset.omega_min: must be at most data.dataset.omega_max (3.0), got 5.0" in err
    assert "Traceback" not in err


# --- the sweep's grid ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("axes", "words"),
    [
        (["seed=0,1", "seed=2,3"], "sweep key 'seed' is given more than once"),
        (["seed=5", "seed=0,1"], "sweep key 'seed' is both a grid axis"),
        (["seed=0,0"], "sweep axis 'seed' repeats the value(s) '0'"),
        (["seed=1, 2,1"], "sweep axis 'seed' repeats the value(s) '1'"),
        (["seed=0,00"], "sweep values seed=0 and seed=00 give the same recipe"),
        (["train.lr=0.001,1e-3"], "train.lr=0.001 and train.lr=1e-3 give the same recipe"),
    ],
)
def test_a_sweep_refuses_repeated_keys_and_values_before_any_run(axes, words, tmp_path, capsys):
    assert main(["sweep", "circle", f"output.dir={tmp_path}", *axes]) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err
    assert not any(tmp_path.iterdir())


# --- the Python API -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def circle_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("validation")
    quick = [*TINY_OVERRIDES, "eval.enabled=false", "output.forecast_frames=4"]
    return jepa_framework.train("circle", [*quick, f"output.dir={out}"], device="cpu")


def test_latents_of_the_wrong_size_are_refused(circle_run):
    dim = circle_run.recipe.model.embedding_dim
    with pytest.raises(JepaError, match=rf"rollout expects latents \[B, D\] with D = {dim}"):
        circle_run.rollout(torch.zeros(2, dim + 1), 3)
    with pytest.raises(JepaError, match=r"got shape \[2, 3, 8\]"):
        circle_run.rollout(torch.zeros(2, 3, dim), 3)
    with pytest.raises(JepaError, match=rf"decode expects latents \[\.\.\., D\] with D = {dim}"):
        circle_run.decode(np.zeros((2, 5, dim - 1), dtype=np.float32))
    with pytest.raises(JepaError, match="decode expects latents"):
        circle_run.decode(torch.tensor(1.0))
    assert circle_run.decode(torch.zeros(2, 5, dim)).shape == (2, 5, 2)  # the right size works


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"n": -1}, "n must be a whole number from 1 to 1000000; got -1"),
        ({"n": 0}, "n must be a whole number from 1"),
        ({"n": 2.5}, "n must be a whole number"),
        ({"frames": 0}, "frames must be a whole number from 1"),
        ({"seed": -3}, "seed must be a whole number from 0 to 4294967295"),
        ({"n": 10**6, "frames": 10**6}, "more than the 8 GiB"),
    ],
)
def test_sample_refuses_counts_out_of_range(circle_run, kwargs, words):
    with pytest.raises(JepaError, match=words.replace("(", r"\(")):
        circle_run.sample(**kwargs)


def test_an_unknown_device_is_refused(circle_run, tmp_path):
    for device in ("tpu", "cuda:x", 3):
        with pytest.raises(JepaError, match="device must be auto, cpu, mps, cuda or cuda:N"):
            jepa_framework.load_run(circle_run.path, device=device)
    with pytest.raises(JepaError, match="got 'tpu'"):  # before any training
        jepa_framework.train("circle", [f"output.dir={tmp_path}"], device="tpu")
    assert not any(tmp_path.iterdir())
    assert jepa_framework.load_run(circle_run.path, device=torch.device("cpu")).device.type == "cpu"


@pytest.mark.parametrize("value", ["abc", [[0.0, 1.0]], None, np.array(["a", "b"])])
def test_inputs_that_are_not_arrays_of_numbers_are_refused(circle_run, value):
    with pytest.raises(JepaError, match="windows must be|windows must hold"):
        circle_run.encode(value)
    with pytest.raises(JepaError, match="rollout's latents must"):
        circle_run.rollout(value, 2)
    with pytest.raises(JepaError, match="decode's latents must"):
        circle_run.decode(value)
    with pytest.raises(JepaError, match="context must"):
        circle_run.forecast(value, 2)


def test_forecast_and_rollout_steps_are_bounded(circle_run):
    context, _ = circle_run.sample(n=2, frames=circle_run.history)
    with pytest.raises(JepaError, match=f"steps must be at most {api.MAX_STEPS}"):
        circle_run.forecast(context, 10**7)
    with pytest.raises(JepaError, match="steps must be at most"):
        circle_run.rollout(torch.zeros(1, circle_run.recipe.model.embedding_dim), 10**7)
    with pytest.raises(JepaError, match="positive integer"):
        circle_run.forecast(context, True)
    wide = torch.zeros(10**5, circle_run.history, 2)  # 100k trajectories x 1M steps: too big
    with pytest.raises(JepaError, match=r"forecast\(steps=1000000\) would return .* GiB"):
        circle_run.forecast(wide, 10**6)
    assert circle_run.forecast(context, 3).shape == (2, 3, 2)
