"""`jepa plugins new`: bad names are refused; a fresh package builds, installs and passes its tests.

The generated package is installed (editable, no dependencies) into this environment and
uninstalled afterwards, as tests/test_example_plugin.py does with examples/jepa_lorenz.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile

import pytest

from jepa_framework.commands.cli import main

from ..test_example_plugin import _installer


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("My-Plugin", "not a lowercase Python identifier"),
        ("class", "not a lowercase Python identifier"),
        ("2body", "not a lowercase Python identifier"),
        ("json", "already importable"),
        ("circle", "would register dataset 'circle'"),
    ],
)
def test_a_bad_name_is_refused_before_writing_anything(name, message, tmp_path, capsys):
    assert main(["plugins", "new", name, "--dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err and "jepa plugins new " in err  # names a fix
    assert not any(tmp_path.iterdir())


def test_an_existing_folder_is_never_overwritten(tmp_path, capsys):
    (tmp_path / "vdp").mkdir()
    assert main(["plugins", "new", "vdp", "--dir", str(tmp_path)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert not any((tmp_path / "vdp").iterdir())


def test_plugins_alone_still_lists(capsys):
    assert main(["plugins"]) == 0
    assert "builtin_datasets [ok]" in capsys.readouterr().out


def test_a_fresh_package_ships_its_recipe_installs_and_passes_its_own_tests(tmp_path):
    assert main(["plugins", "new", "vdp_osc", "--dir", str(tmp_path)]) == 0
    package = tmp_path / "vdp_osc"
    tool = _installer()
    uv = "uv" in os.path.basename(tool[0])
    python = ["--python", sys.executable] if uv else []

    # the recipe is package data: it is inside the wheel, not only in the source folder
    if uv:
        build = [tool[0], "build", "--wheel", "--quiet", "--out-dir", str(tmp_path / "dist")]
        subprocess.run([*build, str(package)], check=True, capture_output=True, timeout=300)
        (wheel,) = (tmp_path / "dist").glob("vdp_osc-0.1.0-*.whl")
        names = zipfile.ZipFile(wheel).namelist()
        assert "vdp_osc/recipes/vdp_osc.yaml" in names
        assert any(n.endswith("entry_points.txt") for n in names)

    install = [*tool, "install", *python, "--no-deps", "-e", str(package)]
    subprocess.run(install, check=True, capture_output=True, timeout=300)
    try:
        env = {**os.environ, "JEPA_DISABLE_PLUGINS": "", "MPLBACKEND": "Agg"}
        listing = subprocess.run(
            [sys.executable, "-m", "jepa_framework", "plugins"],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=env,
            timeout=120,
        )
        assert "vdp_osc [ok] vdp-osc 0.1.0 - vdp_osc.plugin\n" in listing.stdout
        assert "provides: dataset:vdp_osc, regularizer:vdp_osc_variance, recipe:vdp_osc" in (
            listing.stdout
        )
        tests = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
            capture_output=True,
            text=True,
            cwd=package,
            env=env,
            timeout=300,
        )
        assert tests.returncode == 0, tests.stdout + tests.stderr
        assert "5 passed" in tests.stdout
    finally:
        uninstall = [*tool, "uninstall", *python, "vdp-osc"]
        subprocess.run(uninstall + ([] if python else ["-y"]), check=True, capture_output=True)
