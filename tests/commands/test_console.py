"""A first run that explains itself: what `jepa run`, `jepa list`, `jepa plugins new` and
`LoadedRun.evaluate` tell the console, at tiny sizes."""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

import attrs
import pytest

from jepa_framework.commands.cli import field_docs, main

from ..conftest import TINY

pytestmark = pytest.mark.usefixtures("one_thread")

CHECKOUT = Path(__file__).resolve().parents[2]
QUICK = [*TINY, "output.forecast_frames=4"]


def _run(capsys, tmp_path, *extra: str) -> tuple[str, str, Path]:
    capsys.readouterr()
    code = main(["run", "circle", *QUICK, f"output.dir={tmp_path}", *extra])
    out, err = capsys.readouterr()
    assert code == 0, err
    (run_dir,) = tmp_path.iterdir()
    return out, err, run_dir


def test_the_console_shows_the_summary_outputs_and_times(tmp_path, capsys):
    out, err, run_dir = _run(capsys, tmp_path)
    assert out == f"run finished: {run_dir}\n"  # stdout stays one line
    # the evaluation's summary table, with where its terms are defined
    assert "| method | NRMSE VPT | frames | seconds | Lyapunov times | censored |" in err
    assert "| jepa | 0.5 |" in err and "| copy_last | 0.5 |" in err and "probe R²: mean" in err
    assert "VPT, NRMSE, censored" in err and "see docs/glossary.md" in err
    # where the outputs are, file by file
    assert f"outputs in {run_dir}/" in err
    for name in ("config.yaml", "run.log", "metrics.json", "eval.json", "forecast.mp4", "models/"):
        assert re.search(rf"^  {re.escape(name)} +\S", err, re.M), name
    # the time split, on the console and as run.log's last line, covering the evaluation
    done = re.search(r"done in ([\d.]+)s \(data [\d.]+s, training ([\d.]+)s, evaluation "
                     r"([\d.]+)s, setup, figures and video [\d.]+s\)", err)  # fmt: skip
    assert done, err
    total, train, evaluation = (float(g) for g in done.groups())
    assert total >= train + evaluation - 0.2
    last = (run_dir / "run.log").read_text().strip().splitlines()[-1]
    assert done.group(0) in last
    import json

    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["train_seconds"] > 0 and metrics["eval_seconds"] > 0
    assert metrics["total_seconds"] >= metrics["wall_time_s"]


def test_without_evaluation_the_console_says_so(tmp_path, capsys):
    _, err, run_dir = _run(capsys, tmp_path, "eval.enabled=false")
    assert "no evaluation (eval.enabled is false)" in err and f"outputs in {run_dir}/" in err
    assert "evaluation " not in err.split("done in")[1]


def test_a_collapse_warning_reaches_the_console_once(tmp_path, capsys, monkeypatch):
    from jepa_framework.models import diagnostics

    monkeypatch.setattr(diagnostics, "is_collapsed", lambda *a, **k: True)
    _, err, run_dir = _run(capsys, tmp_path, "eval.enabled=false")
    epochs = [x for x in err.splitlines() if "embeddings look collapsed" in x]
    assert len(epochs) == 1, err  # train.epochs=2: shown at the first, not repeated
    assert epochs[0].startswith("jepa: warning: epoch 1: embeddings look collapsed")
    assert "jepa: warning: final embeddings are collapsed: effective rank" in err
    log = (run_dir / "run.log").read_text()
    assert "epoch 2: embeddings look collapsed" in log  # every one is in run.log


def test_the_python_api_says_it_evaluates_and_shows_the_summary(tmp_path, capsys):
    from jepa_framework.api import train

    run = train("circle", [*QUICK, "eval.enabled=false", f"output.dir={tmp_path}"])
    capsys.readouterr()
    report = run.evaluate()
    err = capsys.readouterr().err
    assert f"evaluating {run.path}" in err
    assert "| method | NRMSE VPT |" in err and "see docs/glossary.md" in err
    assert str(run.path / "eval.json") in err and "summary" in report


def test_list_describes_parameters_from_the_params_classes(capsys):
    assert main(["list", "datasets"]) == 0
    out = capsys.readouterr().out
    pendulum = re.split(r"\n  \S", out.split("\n  pendulum ")[1])[0]
    # a comment above the field in PendulumParams, one beside it, one inherited from DatasetParams
    assert "angle_max = 3.14" in pendulum and "# starting angles uniform in" in pendulum
    assert "substeps = 10  # RK4 steps per frame" in pendulum
    assert "size = 1000  # number of trajectories" in pendulum
    assert all(len(line) <= 100 for line in out.splitlines() if line.startswith("      "))
    assert main(["list", "--verbose", "datasets"]) == 0
    verbose = capsys.readouterr().out
    assert "(a recipe needs data.history + objective.rollout_steps)" in verbose


def test_field_docs_prefers_metadata_then_comments_then_the_docstring():
    @attrs.frozen
    class Params:
        """Options; ``gamma`` is the decay."""

        # how many
        count: int = 1
        rate: float = attrs.field(default=0.1, metadata={"doc": "the step size"})  # not this
        width: int = 4  # columns
        gamma: float = 0.5
        low_min: float = 0.0
        low_max: float = 1.0
        bare: int = 0  # noqa: E501

    docs = field_docs(Params)
    assert docs["count"] == "how many" and docs["rate"] == "the step size"
    assert docs["width"] == "columns" and docs["gamma"] == "Options; ``gamma`` is the decay."
    assert docs["low_min"] == "lower end of the low range" and docs["bare"] == ""


def test_the_scaffold_prints_commands_with_the_real_checkout_path(tmp_path, capsys):
    assert main(["plugins", "new", "vdp_console", "--dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    target = (tmp_path / "vdp_console").resolve()
    install = f"uv pip install -e {shlex.quote(str(target))} --python {shlex.quote(sys.executable)}"
    test = f"uv run --project {shlex.quote(str(CHECKOUT))} pytest {shlex.quote(str(target))}"
    assert install in out and test in out
    assert "python -m pytest" not in out and "cd " not in out
    readme = (target / "README.md").read_text()
    assert install in readme and test in readme and "uv sync --inexact" in readme
    assert f'path = "{CHECKOUT}"' in (target / "pyproject.toml").read_text()
