"""Shared fixtures: a private dataset cache, headless plotting, fake installed plugins, and the
benchmark scripts as importable modules."""

from __future__ import annotations

import importlib
import os
import textwrap
from pathlib import Path

import pytest

from jepa_framework.testing import TINY_OVERRIDES

os.environ.setdefault("MPLBACKEND", "Agg")

#: overrides that make any built-in recipe train in about a second (public: plugins use them)
TINY = list(TINY_OVERRIDES)


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Generated datasets go to a temporary cache, never the user's."""
    os.environ["JEPA_CACHE_DIR"] = str(tmp_path_factory.mktemp("jepa-cache"))


@pytest.fixture(scope="module")
def one_thread():
    """Tiny tensors gain nothing from threads, and idle OpenMP threads spin on a shared CPU
    (a module opts in with ``pytestmark = pytest.mark.usefixtures("one_thread")``)."""
    from jepa_framework.core.threads import one_torch_thread

    with one_torch_thread():
        yield


@pytest.fixture
def benchmark_script(monkeypatch):
    """``benchmark_script("bench_results")``: a script of benchmarks/ imported as a module (its
    folder on sys.path for the test, as when it runs, so its sibling imports resolve)."""
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parent.parent / "benchmarks"))
    return importlib.import_module


@pytest.fixture
def fresh_host():
    """A plugin host built now (and forgotten afterwards), so env changes take effect."""
    from jepa_framework.plugin import host as plugins

    plugins.reset()
    yield plugins.host
    plugins.reset()


def make_distribution(root: Path, dist: str, modules: dict[str, str], entry_points: dict) -> Path:
    """Write an importable 'installed' distribution under ``root`` (dist-info + modules).

    Putting ``root`` on sys.path makes importlib.metadata see its entry points exactly as it sees
    a pip-installed package's, without installing anything.
    """
    info = root / f"{dist}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    lines = "\n".join(f"{name} = {target}" for name, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[jepa_framework.plugins]\n{lines}\n")
    for name, source in modules.items():
        (root / f"{name}.py").write_text(textwrap.dedent(source))
    return root
