"""The plugin host: entry points, attribution, duplicates, broken and disabled plugins."""

from __future__ import annotations

import sys
import types
import warnings

import pytest

from jepa_framework import hookimpl
from jepa_framework.errors import PluginError
from jepa_framework.plugins import PluginHost, PluginWarning
from jepa_framework.registry import UnknownComponentError

from .conftest import make_distribution


def test_builtins_arrive_through_the_entry_point_group(fresh_host):
    host = fresh_host()
    assert host.registry("datasets").get("pendulum_image").plugin == "builtin_datasets"
    assert host.registry("regularizers").get("vicreg").plugin == "builtin_regularizers"
    assert {"circle", "spiral", "lissajous", "pendulum", "pendulum_image"} <= set(
        host.registry("datasets").names()
    )
    assert "pendulum" in host.recipes


def test_unknown_name_suggests_the_closest():
    host = PluginHost()
    with pytest.raises(UnknownComponentError, match="did you mean 'vicreg'"):
        host.registry("regularizers").get("vicrg")


def _plugin(name: str, dataset_name: str) -> types.ModuleType:
    module = types.ModuleType(name)

    @hookimpl
    def register_datasets(register):
        register(dataset_name, lambda params: None)

    module.register_datasets = register_datasets
    return module


def test_a_name_registered_twice_names_both_plugins():
    with pytest.raises(PluginError, match="'first_plugin'.*'second_plugin'"):
        PluginHost(
            extra_plugins=[_plugin("first_plugin", "twin"), _plugin("second_plugin", "twin")],
            entry_points_group=False,
        )


def test_a_builtin_name_reused_by_a_third_party_is_an_error():
    with pytest.raises(PluginError, match="'circle' is registered twice"):
        PluginHost(extra_plugins=[_plugin("thief", "circle")])


def test_a_plugin_that_fails_to_import_warns_and_the_rest_keep_working(tmp_path, monkeypatch):
    make_distribution(
        tmp_path,
        "broken_dist",
        {"broken_mod": "raise ImportError('missing dependency frobnicate')"},
        {"broken": "broken_mod"},
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.warns(PluginWarning, match="plugin 'broken'.*frobnicate"):
        host = PluginHost()
    assert host.info["broken"].error.startswith("ImportError")
    assert "circle" in host.registry("datasets")


def test_strict_mode_makes_a_broken_plugin_fatal(tmp_path, monkeypatch):
    make_distribution(tmp_path, "broken_dist", {"broken_mod": "1/0"}, {"broken": "broken_mod"})
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("JEPA_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError, match="ZeroDivisionError"):
        PluginHost()


def test_disabled_plugins_are_skipped_without_a_warning(tmp_path, monkeypatch):
    make_distribution(tmp_path, "broken_dist", {"broken_mod": "1/0"}, {"broken": "broken_mod"})
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("JEPA_DISABLE_PLUGINS", "broken")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        host = PluginHost()
    assert host.info["broken"].disabled
    assert "broken_mod" not in sys.modules


def test_a_misspelled_hook_is_reported_not_ignored():
    module = types.ModuleType("typo_plugin")

    @hookimpl
    def register_dataset(register):  # missing the final "s"
        register("never", lambda params: None)

    module.register_dataset = register_dataset
    with pytest.warns(PluginWarning, match="typo_plugin.*unknown hook"):
        host = PluginHost(extra_plugins=[module], entry_points_group=False)
    assert "never" not in host.registry("datasets")


def test_params_must_be_an_attrs_class():
    module = types.ModuleType("bad_params")

    @hookimpl
    def register_encoders(register):
        register("enc", lambda p, s: None, params=dict)

    module.register_encoders = register_encoders
    with pytest.raises(PluginError, match="not an attrs class"):
        PluginHost(extra_plugins=[module], entry_points_group=False)
