"""Every Python snippet in README.md runs as written, at tiny sizes.

The snippets train real recipes; here ``jepa_framework.train`` gets the tiny overrides first (the
snippet's own overrides still win where they name the same key) and writes under a temporary
folder, and a placeholder run folder (``results/<name>_<timestamp>``) means the run the snippet
trained. Nothing else in the snippet is changed. The docs' snippets are run by
``tests/test_docs_snippets.py``, with the same helpers (``tests/snippets.py``).
"""

from __future__ import annotations

import pytest

from tests.docs.snippets import README, python_snippets, run_python


def test_the_readme_has_python_snippets():
    assert python_snippets(README.read_text(encoding="utf-8"))


@pytest.mark.parametrize("index", range(len(python_snippets(README.read_text(encoding="utf-8")))))
def test_a_readme_snippet_runs_as_written(index, tmp_path, monkeypatch):
    source = python_snippets(README.read_text(encoding="utf-8"))[index]
    trained = run_python(source, f"README.md python snippet {index + 1}", tmp_path, monkeypatch)
    assert trained, "the snippet trained nothing: give it a check of its own"
