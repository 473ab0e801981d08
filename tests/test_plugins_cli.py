"""`jepa plugins`: each plugin's distribution, hooks and components; broken and disabled ones."""

from __future__ import annotations

import re
import warnings

import pytest

from jepa_framework.cli import main
from jepa_framework.plugins import PluginWarning

from .conftest import make_distribution

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


def plugins_output(capsys) -> dict[str, str]:
    """`jepa plugins` output, split into one block of lines per plugin (keyed by its name)."""
    assert main(["plugins"]) == 0
    blocks: dict[str, str] = {}
    name = ""
    for line in capsys.readouterr().out.splitlines():
        if line.startswith("    "):
            blocks[name] += line + "\n"
        else:
            name = line.split(" ", 1)[0]
            blocks[name] = line + "\n"
    return blocks


def test_every_plugin_shows_its_distribution_hooks_and_components(fake_plugins, capsys):
    with pytest.warns(PluginWarning, match="frobnicate"):
        blocks = plugins_output(capsys)
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


def test_disabled_plugins_are_marked_and_not_loaded(fake_plugins, capsys, monkeypatch):
    monkeypatch.setenv("JEPA_DISABLE_PLUGINS", "broken,toy")
    with warnings.catch_warnings():
        warnings.simplefilter("error", PluginWarning)  # the broken module is never imported
        blocks = plugins_output(capsys)
    assert blocks["toy"] == "toy [disabled] toy-dist 0.1 - toy_mod\n"
    assert blocks["broken"] == "broken [disabled] broken-dist 0.1 - broken_mod\n"
    summary = next(k for k in blocks if k.isdigit())
    assert "0 broken, 2 disabled" in blocks[summary]
    assert main(["list", "encoders"]) == 0
    assert "toy_encoder" not in capsys.readouterr().out


def test_strict_mode_turns_a_broken_plugin_into_exit_code_2(fake_plugins, capsys, monkeypatch):
    monkeypatch.setenv("JEPA_STRICT_PLUGINS", "1")
    assert main(["plugins"]) == 2
    err = capsys.readouterr().err
    assert "plugin 'broken'" in err and "frobnicate" in err and "Traceback" not in err
