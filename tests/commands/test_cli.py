"""The `jepa` command line: help without torch, errors as one paragraph with exit code 2."""

from __future__ import annotations

import subprocess
import sys

import pytest

from jepa_framework.commands.cli import main


def jepa(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "jepa_framework", *args], capture_output=True, text=True, **kw
    )


def test_help_does_not_import_torch():
    code = (
        "import sys; from jepa_framework.commands.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "assert 'torch' not in sys.modules and 'wandb' not in sys.modules"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "run" in result.stdout and "plugins" in result.stdout


def test_a_bad_recipe_exits_2_with_every_problem_and_no_traceback(tmp_path):
    result = jepa(
        "run",
        "circle",
        "train.epoch=3",
        "objective.regularizer.name=vicrge",
        f"output.dir={tmp_path}",
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "train.epoch: unknown key (did you mean 'epochs'?)" in result.stderr
    assert "did you mean 'vicreg'?" in result.stderr
    assert list(tmp_path.iterdir()) == []  # nothing was started


def test_unknown_recipe_file_and_bad_device_exit_2(tmp_path, capsys):
    assert main(["run", str(tmp_path / "nope.yaml")]) == 2
    assert "does not exist" in capsys.readouterr().err
    code = main(
        [
            "run",
            "circle",
            "train.device=cuda:7",
            "train.epochs=1",
            "data.dataset.size=8",
            f"output.dir={tmp_path}",
        ]
    )
    assert code == 2  # cuda:7 is an eighth GPU: absent here, and on CPU machines CUDA itself
    assert "CUDA" in capsys.readouterr().err


def test_show_prints_the_resolved_recipe_with_overrides(capsys):
    assert main(["show", "pendulum", "train.epochs=3", "--lr", "0.01"]) == 0
    out = capsys.readouterr().out
    assert "epochs: 3" in out and "lr: 0.01" in out
    assert "init_scale" in out  # component defaults are filled in (the residual predictor's)


def test_prototype_flags_are_shorthands_for_overrides(capsys):
    args = [
        "show",
        "--mode",
        "pendulum_image",
        "--size",
        "100",
        "--image_size",
        "64",
        "--epochs",
        "2",
        "--batch_size",
        "32",
        "--history_length",
        "3",
        "--prediction_horizon",
        "8",
        "--decoder_epochs",
        "4",
        "--grayscale",
        "--seed",
        "7",
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    for expected in (
        "name: pendulum_image",
        "size: 100",
        "image_size: 64",
        "epochs: 2",
        "batch_size: 32",
        "history: 3",
        "rollout_steps: 8",
        "grayscale: true",
        "seed: 7",
    ):
        assert expected in out
    assert "epochs: 4" in out.split("decoder_train:")[1]


def test_list_shows_components_with_their_plugin_and_defaults(capsys):
    assert main(["list", "regularizers"]) == 0
    out = capsys.readouterr().out
    assert "vicreg" in out and "[builtin_regularizers]" in out and "var_weight = " in out


@pytest.mark.parametrize("kind", ["datasets", "encoders", "recipes"])
def test_list_each_kind(kind, capsys):
    assert main(["list", kind]) == 0
    assert kind in capsys.readouterr().out


def test_output_cut_short_by_a_pipe_is_not_an_error():
    """`jepa list | head -1`: the reader has gone; no BrokenPipeError traceback, exit 0."""
    import subprocess
    import sys

    code = (
        "import os, sys; r, w = os.pipe(); os.close(r); os.dup2(w, 1)\n"
        "from jepa_framework.commands.cli import main; sys.exit(main(['list']))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr and "BrokenPipe" not in out.stderr
