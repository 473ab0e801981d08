"""Test the plugin without installing it: a plugin host built from the module itself."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture
def lorenz_host(tmp_path, monkeypatch):
    """Built-ins (through their entry points) plus this plugin, passed in directly.

    Disabling the entry point ``lorenz`` keeps the test valid where the package is also
    installed: otherwise its components would be registered twice.
    """
    from jepa_lorenz import plugin

    from jepa_framework import plugins

    monkeypatch.setenv("JEPA_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("JEPA_DISABLE_PLUGINS", "lorenz")
    host = plugins.PluginHost(extra_plugins=[plugin])
    plugins.reset(host)  # what `jepa` commands in this process will use
    yield host
    plugins.reset()
