"""Every Python snippet in README.md runs as written, at tiny sizes.

The snippets train real recipes; here ``jepa_framework.train`` gets the tiny overrides first (the
snippet's own overrides still win where they name the same key) and writes under a temporary
folder, and a placeholder run folder (``results/<name>_<timestamp>``) means the run the snippet
trained. Nothing else in the snippet is changed.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import jepa_framework
from jepa_framework.testing import TINY_OVERRIDES

README = Path(__file__).resolve().parents[1] / "README.md"
PLACEHOLDER = re.compile(r"results/\w+_<timestamp>")
#: an evaluation that still runs every probe, baseline and control, on little data
SMALL_EVAL = (
    "eval.trajectories=8",
    "eval.horizon=10",
    "eval.probe_samples=64",
    "eval.probe_steps=3",
)


def python_snippets(text: str) -> list[str]:
    """The bodies of the ```python blocks of a Markdown text, in order."""
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


def test_the_readme_has_python_snippets():
    assert python_snippets(README.read_text(encoding="utf-8"))


@pytest.mark.parametrize("index", range(len(python_snippets(README.read_text(encoding="utf-8")))))
def test_a_readme_snippet_runs_as_written(index, tmp_path, monkeypatch):
    source = python_snippets(README.read_text(encoding="utf-8"))[index]
    trained: list[Path] = []
    real_train = jepa_framework.train

    def tiny_train(recipe, overrides=(), **kwargs):
        extra = [*TINY_OVERRIDES, *SMALL_EVAL, f"output.dir={tmp_path / 'results'}"]
        run = real_train(recipe, [*extra, *overrides], **kwargs)
        trained.append(run.path)
        return run

    monkeypatch.setattr(jepa_framework, "train", tiny_train)
    monkeypatch.chdir(tmp_path)
    # a reopened placeholder run is the one the snippet trained above it
    source = PLACEHOLDER.sub(lambda _: "__trained_run__", source)
    source = source.replace('"__trained_run__"', "str(__trained__[-1])")
    namespace = {"__trained__": trained, "__name__": "readme_snippet"}
    exec(compile(source, f"README.md python snippet {index + 1}", "exec"), namespace)
    assert trained, "the snippet trained nothing: give it a check of its own"
