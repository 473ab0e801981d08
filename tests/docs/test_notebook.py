"""The tutorial notebook (docs/tutorial/notebook.ipynb) runs, and matches its jupytext script.

``docs/tutorial/notebook.py`` is the source (jupytext percent format) and the notebook is
written from it with ``uv run jupytext --to ipynb docs/tutorial/notebook.py``; the two must hold
the same cells. The notebook's code cells run here in order, as a kernel would run them, with
``JEPA_TUTORIAL_TINY=1`` (the notebook then trains with ``TINY_OVERRIDES``), in a temporary
folder; the figure it draws must label its axes and say which line is the truth.
"""

from __future__ import annotations

import json

import pytest

from tests.docs.snippets import DOCS

SCRIPT = DOCS / "tutorial" / "notebook.py"
NOTEBOOK = DOCS / "tutorial" / "notebook.ipynb"


def cells(notebook: dict) -> list[tuple[str, str]]:
    """(type, source) of every cell; ids and metadata are not compared."""
    return [(cell["cell_type"], "".join(cell["source"]).strip()) for cell in notebook["cells"]]


def test_the_notebook_matches_its_script():
    jupytext = pytest.importorskip("jupytext")
    written = json.loads(jupytext.writes(jupytext.read(SCRIPT), fmt="ipynb"))
    committed = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    assert cells(committed) == cells(written), (
        "docs/tutorial/notebook.ipynb is out of date: run "
        "`uv run jupytext --to ipynb docs/tutorial/notebook.py`"
    )
    assert all(not cell.get("outputs") for cell in committed["cells"]), "commit it without outputs"


def test_the_notebook_runs_at_tiny_sizes(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    monkeypatch.setenv("JEPA_TUTORIAL_TINY", "1")
    monkeypatch.chdir(tmp_path)
    notebook = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    namespace = {"__name__": "__main__"}
    for number, (kind, source) in enumerate(cells(notebook), 1):
        if kind == "code":
            exec(compile(source, f"notebook.ipynb cell {number}", "exec"), namespace)
    try:
        run, forecast, truth, fig = (namespace[k] for k in ("run", "forecast", "truth", "fig"))
        assert run.path.resolve().is_relative_to(tmp_path.resolve() / "results")
        assert forecast.shape == truth.shape == (2, namespace["steps"], *run.dataset.obs_shape)
        (ax,) = fig.axes
        assert ax.get_xlabel() and ax.get_ylabel()
        labels = [text.get_text() for text in ax.get_legend().get_texts()]
        assert any("truth" in label for label in labels)
        assert any("forecast" in label for label in labels)
    finally:
        plt.close("all")
