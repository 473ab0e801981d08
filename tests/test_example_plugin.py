"""examples/jepa_lorenz installed for real: its entry point alone makes `jepa run lorenz` work.

The package is installed (editable, no dependencies) into this environment for the module and
uninstalled afterwards; every check runs in a fresh interpreter so entry points are re-read.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).parents[1] / "examples" / "jepa_lorenz"
TINY = [
    "data.dataset.size=24",
    "data.dataset.sequence_length=12",
    "model.embedding_dim=8",
    "model.predictor.hidden_dim=16",
    "train.epochs=1",
    "train.batch_size=8",
    "train.threads=1",
    "decoder_train.epochs=1",
    "output.forecast_frames=12",
    "output.video_panel_size=32",
]


def _installer() -> list[str]:
    """uv when present (`uv run` exports $UV), else this interpreter's pip."""
    uv = os.environ.get("UV") or shutil.which("uv")
    if uv:
        return [uv, "pip", "--quiet"]
    if subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True).returncode:
        pytest.skip("neither uv nor pip is available to install examples/jepa_lorenz")
    return [sys.executable, "-m", "pip", "--quiet"]


def _installed() -> bool:
    try:
        metadata.distribution("jepa-lorenz")
    except metadata.PackageNotFoundError:
        return False
    return True


@pytest.fixture(scope="module")
def lorenz_installed():
    """Install the example for this module; leave the environment as it was found."""
    if _installed():  # someone installed it on purpose: use it, and leave it installed
        yield
        return
    tool = _installer()
    python = ["--python", sys.executable] if "uv" in Path(tool[0]).name else []
    subprocess.run(
        [*tool, "install", *python, "--no-deps", "-e", str(EXAMPLE)],
        check=True,
        capture_output=True,
    )
    try:
        yield
    finally:
        uninstall = [*tool, "uninstall", *python, "jepa-lorenz"]
        subprocess.run(uninstall + ([] if python else ["-y"]), check=True, capture_output=True)


def jepa(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "JEPA_DISABLE_PLUGINS": "", "MPLBACKEND": "Agg"}
    proc = subprocess.run(
        [sys.executable, "-m", "jepa_framework", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return proc


@pytest.mark.slow
def test_the_installed_example_runs_its_recipe_and_is_listed(lorenz_installed, tmp_path):
    out = tmp_path / "out"
    jepa("run", "lorenz", *TINY, f"output.dir={out}", cwd=tmp_path)
    (run_dir,) = out.iterdir()
    assert run_dir.name.startswith("lorenz_")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["forecast_frames"] == 12
    for name in ("reconstruction.png", "forecast.mp4", "loss_curves.png", "models/predictor.pt"):
        assert (run_dir / name).stat().st_size > 0
    config = (run_dir / "config.yaml").read_text()
    assert "jepa-lorenz 0.1.0" in config  # the provenance header names the plugin's distribution

    listing = jepa("list", cwd=tmp_path).stdout
    sections = dict(re.findall(r"^(\w+):\n((?:  .*\n)*)", listing, flags=re.M))
    assert re.search(r"^  lorenz +\[lorenz\] ", sections["datasets"], flags=re.M)
    assert re.search(r"^      rho = 28\.0$", sections["datasets"], flags=re.M)
    assert re.search(r"^  gru +\[lorenz\] ", sections["predictors"], flags=re.M)
    assert re.search(r"^  lorenz +\[lorenz\] .*lorenz\.yaml$", sections["recipes"], flags=re.M)

    plugins = jepa("plugins", cwd=tmp_path).stdout
    assert "lorenz [ok] jepa-lorenz 0.1.0 - jepa_lorenz.plugin\n" in plugins
    assert "    hooks: register_datasets, register_predictors, register_recipes\n" in plugins
    assert "    provides: dataset:lorenz, predictor:gru, recipe:lorenz\n" in plugins
