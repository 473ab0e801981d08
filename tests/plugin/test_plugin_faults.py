"""Faults in plugin code are one paragraph naming the plugin, the component and the method; a
recipe that cannot train (batches of one, a batch larger than the data) or evaluate (more
memory than there is) is refused before training.

The faulty plugin is a real installed distribution (dist-info and entry point on sys.path), so
attribution goes through the same mechanism as for any third-party plugin.
"""

from __future__ import annotations

import pytest

from jepa_framework.commands.cli import main
from jepa_framework.plugin import host as plugins

from ..conftest import TINY, make_distribution

QUICK = [*TINY, "eval.enabled=false", "output.forecast_frames=4"]

FAULTY = """
import attrs
import torch
from torch import nn

from jepa_framework import hookimpl


class Exploding(nn.Module):
    '''An encoder that passes the contract check (eval mode) and raises when training.'''

    def __init__(self, shapes):
        super().__init__()
        size = shapes.history
        for n in shapes.obs_shape:
            size *= n
        self.linear = nn.Linear(size, shapes.embedding_dim)

    def forward(self, x):
        if self.training:
            raise RuntimeError("the encoder exploded")
        return self.linear(x.flatten(1))


class ExplodingRegularizer:
    target = "ema"

    def __init__(self, params):
        pass

    def __call__(self, predictions, targets, context):
        raise ValueError("the regularizer exploded")


def broken_tracker(params):
    raise KeyError("no api key")


class FlakyTracker:
    def __init__(self, params):
        self.calls = 0

    def start(self, run):
        pass

    def log(self, scalars, step):
        self.calls += 1
        raise ConnectionError("the server went away")

    def finish(self, run, metrics):
        pass


@hookimpl
def register_encoders(register):
    register("exploding", lambda params, shapes: Exploding(shapes))


@hookimpl
def register_regularizers(register):
    register("exploding", ExplodingRegularizer)


@hookimpl
def register_trackers(register):
    register("broken", broken_tracker)
    register("flaky", FlakyTracker)
"""


@pytest.fixture(scope="module")
def faulty_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("faulty")
    make_distribution(root, "faulty-dist", {"faulty_plugin": FAULTY}, {"faulty": "faulty_plugin"})
    return root


@pytest.fixture
def faulty(faulty_dir, monkeypatch):
    """The process-wide host with the faulty plugin installed."""
    monkeypatch.syspath_prepend(str(faulty_dir))
    monkeypatch.delenv("JEPA_TRACEBACK", raising=False)
    plugins.reset()
    host = plugins.host()
    assert host.info["faulty"].distribution == "faulty-dist"
    yield host
    plugins.reset()


def _fails(capsys, tmp_path, *overrides, recipe="circle"):
    capsys.readouterr()
    code = main(["run", recipe, *QUICK, *overrides, f"output.dir={tmp_path}"])
    err = capsys.readouterr().err
    assert code == 2, err
    return err


def _run_log(tmp_path) -> str:
    (run_dir,) = tmp_path.iterdir()
    return (run_dir / "run.log").read_text()


def _one_paragraph(err: str) -> str:
    (line,) = [x for x in err.splitlines() if x.startswith("jepa: error:")]
    assert "Traceback" not in err
    return line


def test_a_network_whose_forward_raises_names_plugin_component_and_method(faulty, tmp_path, capsys):
    err = _fails(capsys, tmp_path, "model.encoder.name=exploding")
    line = _one_paragraph(err)
    assert "encoder 'exploding' of plugin 'faulty' (faulty-dist 0.1)" in line
    assert "RuntimeError: the encoder exploded" in line
    assert "Exploding.forward" in line and "faulty_plugin.py, line" in line
    assert "JEPA_DISABLE_PLUGINS=faulty" in line and "model.encoder.name" in line
    log = _run_log(tmp_path)
    assert "Traceback" in log and "the encoder exploded" in log
    assert "run.log" in line  # the paragraph says where the traceback is


def test_a_regularizer_that_raises_is_attributed_to_its_plugin(faulty, tmp_path, capsys):
    err = _fails(capsys, tmp_path, "objective.regularizer.name=exploding")
    line = _one_paragraph(err)
    assert "regularizer 'exploding' of plugin 'faulty'" in line
    assert "ValueError: the regularizer exploded" in line
    assert "ExplodingRegularizer.__call__" in line
    assert "Traceback" in _run_log(tmp_path)


def test_jepa_traceback_shows_the_traceback_on_the_console(faulty, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("JEPA_TRACEBACK", "1")
    err = _fails(capsys, tmp_path, "model.encoder.name=exploding")
    assert "Traceback" in err and "raise RuntimeError" in err
    assert "encoder 'exploding' of plugin 'faulty'" in err.splitlines()[-1]


def test_a_tracker_whose_factory_raises_is_one_paragraph_before_any_work(faulty, tmp_path, capsys):
    err = _fails(capsys, tmp_path, "tracking=[{name: broken}]")
    line = _one_paragraph(err)
    assert "tracker 'broken' of plugin 'faulty' (faulty-dist 0.1)" in line
    assert "KeyError" in line and "no api key" in line and "its factory" in line
    assert not tmp_path.exists() or not any(tmp_path.iterdir())


def test_a_tracker_whose_log_raises_warns_once_and_the_run_completes(faulty, tmp_path, capsys):
    capsys.readouterr()
    code = main(["run", "circle", *QUICK, "tracking=[{name: flaky}]", f"output.dir={tmp_path}"])
    err = capsys.readouterr().err
    assert code == 0, err
    warnings = [x for x in err.splitlines() if x.startswith("jepa: warning:")]
    assert len(warnings) == 1, err
    assert "tracker 'flaky' of plugin 'faulty' (faulty-dist 0.1)" in warnings[0]
    assert "ConnectionError: the server went away" in warnings[0] and " in log" in warnings[0]
    log = _run_log(tmp_path)
    assert "Traceback" in log and "failed again in log" in log


def test_a_bug_in_a_builtin_component_is_attributed_to_the_builtin_plugin(
    tmp_path, capsys, monkeypatch
):
    import types

    from jepa_builtins import regularizers

    def broken(self, predictions, targets, context):
        raise ZeroDivisionError("a bug")

    # the same code as if it were written in jepa_builtins/regularizers.py
    in_builtins = types.FunctionType(broken.__code__, vars(regularizers), "__call__")
    plugins.reset()
    monkeypatch.setattr(regularizers.VICReg, "__call__", in_builtins)
    try:
        err = _fails(capsys, tmp_path)  # circle trains with vicreg
    finally:
        plugins.reset()
    line = _one_paragraph(err)
    assert "regularizer 'vicreg' of plugin 'builtin_regularizers' (jepa-framework" in line
    assert "ZeroDivisionError: a bug" in line


def test_a_framework_bug_stays_a_traceback_and_reaches_run_log(tmp_path, capsys, monkeypatch):
    import types

    from jepa_framework.pipeline import training

    def broken(self):
        raise ZeroDivisionError("a framework bug")

    in_core = types.FunctionType(broken.__code__, vars(training), "_jepa_phase")
    monkeypatch.setattr(training.Trainer, "_jepa_phase", in_core)
    with pytest.raises(ZeroDivisionError):
        main(["run", "circle", *QUICK, f"output.dir={tmp_path}"])
    log = _run_log(tmp_path)
    assert "a bug in jepa-framework" in log and "Traceback" in log


ODD = """
from jepa_framework import hookimpl
from jepa_builtins.datasets.curves import CircleDataset, CircleParams


class OddCircle(CircleDataset):
    def probe_targets(self, states):
        raise IndexError("no such column")


@hookimpl
def register_datasets(register):
    register("odd_circle", OddCircle, params=CircleParams)


@hookimpl
def on_epoch_end(run, phase, epoch, metrics):
    if run.recipe.seed == 7:
        raise AttributeError("the hook went wrong")
"""


@pytest.fixture
def odd(tmp_path_factory, monkeypatch):
    """A plugin whose dataset fails in a method other than simulate, and whose hook can fail."""
    root = tmp_path_factory.mktemp("odd")
    make_distribution(root, "odd-dist", {"odd_plugin": ODD}, {"odd": "odd_plugin"})
    monkeypatch.syspath_prepend(str(root))
    plugins.reset()
    yield plugins.host()
    plugins.reset()


def test_a_dataset_method_that_raises_in_evaluation_names_the_dataset(odd, tmp_path, capsys):
    evaluation = ["eval.enabled=true", "eval.horizon=4", "eval.baselines=false"]
    err = _fails(capsys, tmp_path, "data.dataset.name=odd_circle", *evaluation)
    line = _one_paragraph(err)
    assert "dataset 'odd_circle' of plugin 'odd' (odd-dist 0.1)" in line
    assert "OddCircle.probe_targets" in line and "IndexError: no such column" in line
    assert "no such column" in _run_log(tmp_path)  # the evaluation's failure is in run.log


def test_a_lifecycle_hook_that_raises_names_the_plugin_and_the_hook(odd, tmp_path, capsys):
    line = _one_paragraph(_fails(capsys, tmp_path, "seed=7"))
    assert "plugin 'odd' (odd-dist 0.1) failed in its on_epoch_end hook" in line
    assert "AttributeError: the hook went wrong" in line


# --- recipes that cannot train or evaluate, refused before training ----------------------------


def test_a_batch_larger_than_the_training_set_is_refused(tmp_path, capsys):
    err = _fails(capsys, tmp_path, "train.batch_size=64")
    assert "train.batch_size: 64 is larger than the training set" in err
    assert "data.dataset.size 24 gives 22 training trajectories" in err
    assert not tmp_path.exists() or not any(tmp_path.iterdir())  # nothing was started


def test_a_last_batch_of_one_sample_is_refused_with_a_batch_size_that_works(tmp_path, capsys):
    err = _fails(capsys, tmp_path, "train.batch_size=21")  # 22 training trajectories: 21 + 1
    assert "leaves a last batch of 1 sample" in err and "train.batch_size=20" in err


@pytest.mark.parametrize("size", [2, 3])
def test_a_validation_set_of_one_trajectory_is_refused(tmp_path, capsys, size):
    err = _fails(capsys, tmp_path, f"data.dataset.size={size}")
    assert "data.dataset.size" in err and "1 for validation" in err
    assert "train.lr" not in err


def test_the_non_finite_hint_names_one_sample_batches(tmp_path):
    from jepa_framework.core.errors import TrainingError
    from jepa_framework.pipeline.training import Phase, Trainer

    class Stub:
        pass

    trainer = Trainer.__new__(Trainer)
    recipe = Stub()
    recipe.train = Stub()
    recipe.train.grad_clip = 1.0
    recipe.data = Stub()
    recipe.data.dataset = Stub()
    recipe.data.dataset.name, recipe.data.dataset.params = "circle", Stub()
    clips = Stub()
    clips.indices, clips.batch_size = list(range(9)), 8  # 8 + 1
    import torch

    for name, value in (
        ("recipe", recipe),
        ("clips", clips),
        ("val_indices", list(range(3))),
        ("val_batch", torch.zeros(2, 3)),
        ("val_windows", torch.zeros(2, 3)),
        ("saved", None),
    ):
        object.__setattr__(trainer, name, value)
    phase = Phase("jepa", None, [], 1e-3, 0.0, None, clips, None)
    with pytest.raises(TrainingError, match="one-sample batches"):
        trainer._stop_non_finite("loss became nan", 3, phase, 1)
    phase.last_batch = torch.tensor([[float("nan")]])
    with pytest.raises(TrainingError, match="non-finite data: the training batch"):
        trainer._stop_non_finite("loss became nan", 3, phase, 1)


def test_an_evaluation_that_cannot_fit_in_memory_is_refused_before_training(
    tmp_path, capsys, monkeypatch
):
    from jepa_framework.pipeline import eval_memory as sizing

    monkeypatch.setattr(sizing, "available_memory", lambda: 2 * 2**30)
    err = _fails(
        capsys,
        tmp_path,
        "eval.enabled=true",
        "data.dataset.image_size=16",
        "eval.horizon=100000",
        recipe="pendulum_image",
    )
    assert "eval.horizon: the evaluation forecasts 24 held-out trajectories" in err
    assert "eval.trajectories" in err and "GiB of memory, but 2.0 GiB is available" in err
    assert "eval.horizon to at most" in err
    assert not tmp_path.exists() or not any(tmp_path.iterdir())  # nothing was trained


def test_the_default_evaluation_fits():
    from jepa_framework.config.recipe import load_recipe
    from jepa_framework.pipeline.eval_memory import eval_sizes

    recipe, _ = load_recipe("pendulum_image")

    class Images:
        observations = __import__("torch").zeros(1, 1, 32, 32, dtype=__import__("torch").uint8)
        states = __import__("torch").zeros(1, 1, 4)
        obs_shape = (3, 32, 32)

        def __len__(self):
            return 10000

    sizes = eval_sizes(recipe, Images())
    assert sizes["trajectories"] == 256 and sizes["bytes"] < 2**30


def test_an_empty_list_is_blamed_on_the_override_that_set_it(capsys):
    code = main(["show", "lissajous", "data.dataset.size=24", "data.dataset.ratios=[]", "seed=1"])
    err = capsys.readouterr().err
    assert code == 2
    assert "data.dataset.ratios: must hold at least 1 item(s), got 0" in err
    assert "[command-line override 'data.dataset.ratios=[]']" in err
