"""`jepa plugins`: each plugin's distribution, hooks and components; broken and disabled ones."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys

import pytest

from jepa_framework.commands.cli import main

from ..conftest import make_distribution

GOOD_PLUGIN = """
from jepa_framework import hookimpl

@hookimpl
def register_encoders(register):
    register("toy_encoder", lambda params, shapes: None)

@hookimpl
def on_run_end(run, metrics):
    pass
"""


@pytest.fixture
def fake_plugins(tmp_path, monkeypatch, fresh_host):
    """Two 'installed' distributions: one that works, one whose module fails to import."""
    make_distribution(tmp_path / "good", "toy-dist", {"toy_mod": GOOD_PLUGIN}, {"toy": "toy_mod"})
    make_distribution(
        tmp_path / "bad",
        "broken-dist",
        {"broken_mod": "raise ImportError('missing dependency frobnicate')"},
        {"broken": "broken_mod"},
    )
    monkeypatch.syspath_prepend(str(tmp_path / "good"))
    monkeypatch.syspath_prepend(str(tmp_path / "bad"))
    return fresh_host


def split_blocks(out: str) -> dict[str, str]:
    """`jepa plugins` output, split into one block of lines per plugin (keyed by its name)."""
    blocks: dict[str, str] = {}
    name = ""
    for line in out.splitlines():
        if line.startswith("    "):
            blocks[name] += line + "\n"
        else:
            name = line.split(" ", 1)[0]
            blocks[name] = line + "\n"
    return blocks


def plugins_output(capsys) -> dict[str, str]:
    assert main(["plugins"]) == 0
    return split_blocks(capsys.readouterr().out)


@pytest.fixture
def plugin_warnings(caplog):
    caplog.set_level(logging.WARNING, logger="jepa_framework.plugins")
    return lambda: [r.getMessage() for r in caplog.records if r.name == "jepa_framework.plugins"]


def test_every_plugin_shows_its_distribution_hooks_and_components(
    fake_plugins, capsys, plugin_warnings
):
    blocks = plugins_output(capsys)
    assert any("frobnicate" in m for m in plugin_warnings())
    assert blocks["toy"].splitlines() == [
        "toy [ok] toy-dist 0.1 - toy_mod",
        "    hooks: on_run_end, register_encoders",
        "    provides: encoder:toy_encoder",
    ]
    assert re.match(r"builtin_datasets \[ok\] jepa-framework \d", blocks["builtin_datasets"])
    assert "dataset:circle" in blocks["builtin_datasets"]
    assert "recipe:pendulum" in blocks["builtin_recipes"]
    assert "tracker:wandb" in blocks["builtin_wandb"]
    assert blocks["broken"].splitlines() == [
        "broken [BROKEN] broken-dist 0.1 - broken_mod",
        "    error: ImportError: missing dependency frobnicate",
    ]
    summary = next(k for k in blocks if k.isdigit())
    assert re.search(r"plugin\(s\): \d+ ok, 1 broken, 0 disabled", blocks[summary])
    assert "JEPA_DISABLE_PLUGINS=broken" in blocks["silence"]


def test_disabled_plugins_are_marked_and_not_loaded(
    fake_plugins, capsys, monkeypatch, plugin_warnings
):
    monkeypatch.setenv("JEPA_DISABLE_PLUGINS", "broken,toy")
    blocks = plugins_output(capsys)
    assert plugin_warnings() == []  # the broken module is never imported
    assert blocks["toy"] == "toy [disabled] toy-dist 0.1 - toy_mod\n"
    assert blocks["broken"] == "broken [disabled] broken-dist 0.1 - broken_mod\n"
    summary = next(k for k in blocks if k.isdigit())
    assert "0 broken, 2 disabled" in blocks[summary]
    assert main(["list", "encoders"]) == 0
    assert "toy_encoder" not in capsys.readouterr().out


def test_strict_mode_lists_the_plugins_then_exits_2(fake_plugins, capsys, monkeypatch):
    monkeypatch.setenv("JEPA_STRICT_PLUGINS", "1")
    assert main(["plugins"]) == 2
    out, err = capsys.readouterr()
    blocks = split_blocks(out)
    assert blocks["toy"].startswith("toy [ok]")
    assert blocks["broken"].startswith("broken [BROKEN]")
    assert err == (
        "jepa: error: plugin 'broken' (broken_mod) failed to load: ImportError: missing "
        "dependency frobnicate. JEPA_STRICT_PLUGINS=1 makes this fatal; fix it or disable it "
        "with JEPA_DISABLE_PLUGINS=broken.\n"
    )
    assert main(["list", "encoders"]) == 2  # every other command refuses to run


def test_a_duplicate_name_is_listed_by_jepa_plugins_and_other_commands_work(
    tmp_path, monkeypatch, fresh_host, capsys
):
    make_distribution(
        tmp_path, "copycat-dist", {"copycat_mod": COPYCAT}, {"copycat": "copycat_mod"}
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    blocks = plugins_output(capsys)
    assert blocks["copycat"].startswith("copycat [BROKEN] copycat-dist 0.1 - copycat_mod")
    assert (
        "regularizer 'vicreg' is already provided by plugin 'builtin_regularizers'"
        in (blocks["copycat"])
    )
    assert main(["list", "regularizers"]) == 0
    listing = capsys.readouterr().out
    assert "vicreg             [builtin_regularizers]" in listing
    assert "copy_only" not in listing


#: a third-party plugin that registers one new regularizer, then one a built-in already has
COPYCAT = """
from jepa_framework import hookimpl

@hookimpl
def register_regularizers(register):
    register("copy_only", lambda params: None)
    register("vicreg", lambda params: None)
"""

#: the reviewer's case: the hookimpl's parameter is not named as in the hookspec
MISNAMED = """
from jepa_framework import hookimpl

@hookimpl
def register_regularizers(reg):
    reg("misnamed_reg", lambda params: None)
"""


def _jepa(args: list[str], pythonpath: str, **env: str) -> subprocess.CompletedProcess:
    """`jepa ARGS` in a fresh interpreter that sees the fake distributions on PYTHONPATH."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("JEPA_")}
    environ.update(PYTHONPATH=pythonpath, MPLBACKEND="Agg", **env)
    return subprocess.run(
        [sys.executable, "-m", "jepa_framework", *args],
        capture_output=True,
        text=True,
        env=environ,
        timeout=120,
    )


def test_an_installed_plugin_with_a_misnamed_hook_parameter_is_listed_broken(tmp_path):
    """Real entry points, real interpreter: a clean one-line warning, and `jepa` keeps working."""
    make_distribution(
        tmp_path, "misnamed-dist", {"misnamed_mod": MISNAMED}, {"mis": "misnamed_mod"}
    )
    result = _jepa(["plugins"], str(tmp_path), JEPA_DISABLE_PLUGINS="builtin_wandbb")
    assert result.returncode == 0, result.stderr
    blocks = split_blocks(result.stdout)
    assert blocks["mis"].startswith("mis [BROKEN] misnamed-dist 0.1 - misnamed_mod")
    assert "'reg'" in blocks["mis"] and "register_regularizers(register)" in blocks["mis"]
    assert blocks["builtin_regularizers"].startswith("builtin_regularizers [ok]")
    unknown, skipped = result.stderr.splitlines()  # one paragraph per warning, nothing else
    assert skipped.startswith("jepa: warning: plugin 'mis' (misnamed_mod) failed to load and is")
    assert skipped.endswith(
        "Set JEPA_DISABLE_PLUGINS=mis to silence this, or JEPA_STRICT_PLUGINS=1 to make it fatal."
    )
    assert unknown.startswith("jepa: warning: JEPA_DISABLE_PLUGINS names 'builtin_wandbb'")
    assert "(did you mean 'builtin_wandb'?)" in unknown

    strict = _jepa(["plugins"], str(tmp_path), JEPA_STRICT_PLUGINS="1")
    assert strict.returncode == 2
    assert "mis [BROKEN]" in strict.stdout
    assert strict.stderr.startswith("jepa: error: plugin 'mis' (misnamed_mod) failed to load:")
    assert "JEPA_STRICT_PLUGINS=1 makes this fatal" in strict.stderr
    assert "skipped" not in strict.stderr and "Traceback" not in strict.stderr
