"""The plugin host: entry points, attribution, and all-or-nothing loading of each plugin.

A plugin that fails in any way (import, hook signature, unknown hook, a register hook that
raises, a duplicate name, a bad params class) registers nothing, runs no lifecycle hook, and is
listed broken with the reason; every other plugin keeps working.
"""

from __future__ import annotations

import logging
import sys
import types

import attrs
import pytest

from jepa_framework import hookimpl
from jepa_framework.core.errors import PluginError
from jepa_framework.plugin.host import PluginHost
from jepa_framework.plugin.registry import UnknownComponentError

from ..conftest import make_distribution


@pytest.fixture
def warnings_log(caplog):
    """The plugin warnings logged while a test runs, one message each."""
    caplog.set_level(logging.WARNING, logger="jepa_framework.plugins")
    return lambda: [r.getMessage() for r in caplog.records if r.name == "jepa_framework.plugins"]


def _plugin(name: str, **hooks) -> types.ModuleType:
    """A real plugin module whose attributes are the given (hookimpl-marked) functions."""
    module = types.ModuleType(name)
    for hook_name, function in hooks.items():
        setattr(module, hook_name, hookimpl(function))
    return module


def _datasets(*names: str):
    def register_datasets(register):
        for name in names:
            register(name, lambda params: None)

    return register_datasets


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


def test_a_name_registered_twice_breaks_the_later_plugin_which_keeps_nothing(warnings_log):
    first = _plugin("first_plugin", register_datasets=_datasets("twin"))
    second = _plugin("second_plugin", register_datasets=_datasets("only_second", "twin"))
    host = PluginHost(extra_plugins=[first, second], entry_points_group=False)
    datasets = host.registry("datasets")
    assert datasets.get("twin").plugin == "first_plugin"
    assert "only_second" not in datasets  # registered before the clash, then rolled back
    error = host.info["second_plugin"].error
    assert "'twin' is already provided by plugin 'first_plugin'" in error
    assert "rename it in plugin 'second_plugin'" in error
    assert "JEPA_DISABLE_PLUGINS=second_plugin" in error
    assert not host.info["first_plugin"].error
    assert host.info["second_plugin"].components == []
    [message] = warnings_log()
    assert "plugin 'second_plugin'" in message and "is skipped" in message


def test_a_builtin_name_reused_by_a_third_party_breaks_only_the_third_party():
    host = PluginHost(extra_plugins=[_plugin("thief", register_datasets=_datasets("circle"))])
    assert host.registry("datasets").get("circle").plugin == "builtin_datasets"
    assert "already provided by plugin 'builtin_datasets'" in host.info["thief"].error
    host.check_strict()  # not strict: no error


def test_a_recipe_name_registered_twice_breaks_the_later_plugin(tmp_path):
    def register_recipes(register):
        register("pendulum", tmp_path / "mine.yaml")

    host = PluginHost(extra_plugins=[_plugin("recipe_thief", register_recipes=register_recipes)])
    assert host.recipe_providers["pendulum"] == "builtin_recipes"
    assert "recipe 'pendulum' is already provided" in host.info["recipe_thief"].error


def test_a_hook_with_a_misnamed_parameter_breaks_only_its_plugin(warnings_log):
    calls = []

    def register_regularizers(reg):  # the spec's parameter is `register`
        reg("never", lambda params: None)

    def on_run_end(run, metrics):
        calls.append(run)

    bad = _plugin("misnamed", register_regularizers=register_regularizers, on_run_end=on_run_end)
    host = PluginHost(extra_plugins=[bad])
    error = host.info["misnamed"].error
    assert "'reg'" in error and "register_regularizers(register)" in error
    assert "vicreg" in host.registry("regularizers")  # the built-ins are untouched
    assert "never" not in host.registry("regularizers")
    host.hook.on_run_end(run="a run", metrics={})
    assert calls == []  # unregistered from pluggy: its lifecycle hooks never run
    assert any("plugin 'misnamed'" in m for m in warnings_log())


def test_a_register_hook_that_raises_keeps_nothing_and_runs_no_lifecycle_hook():
    calls = []

    def register_encoders(register):
        register("half_encoder", lambda params, shapes: None)

    def register_regularizers(register):
        register("half_regularizer", lambda params: None)
        raise RuntimeError("database unreachable")

    def on_run_start(run):
        calls.append(run)

    module = _plugin(
        "half_done",
        register_encoders=register_encoders,
        register_regularizers=register_regularizers,
        on_run_start=on_run_start,
    )
    host = PluginHost(extra_plugins=[module], entry_points_group=False)
    assert host.info["half_done"].error == (
        "its register_regularizers hook raised RuntimeError: database unreachable"
    )
    assert "half_encoder" not in host.registry("encoders")
    assert "half_regularizer" not in host.registry("regularizers")
    assert host.info["half_done"].hooks == [] and host.info["half_done"].components == []
    host.hook.on_run_start(run="a run")
    assert calls == []


def test_a_misspelled_hook_is_reported_with_the_closest_hook():
    def register_dataset(register):  # missing the final "s"
        register("never", lambda params: None)

    host = PluginHost(
        extra_plugins=[_plugin("typo_plugin", register_dataset=register_dataset)],
        entry_points_group=False,
    )
    error = host.info["typo_plugin"].error
    assert "unknown hook 'register_dataset'" in error
    assert "did you mean 'register_datasets'" in error
    assert "never" not in host.registry("datasets")


def test_a_params_class_that_is_not_attrs_breaks_the_whole_plugin():
    @attrs.frozen
    class GoodParams:
        width: int = 4

    def register_encoders(register):
        register("fine_encoder", lambda p, s: None, params=GoodParams)
        register("enc", lambda p, s: None, params=dict)

    host = PluginHost(
        extra_plugins=[_plugin("bad_params", register_encoders=register_encoders)],
        entry_points_group=False,
    )
    assert "not an attrs class" in host.info["bad_params"].error
    assert len(host.registry("encoders")) == 0


def test_a_plugin_that_fails_to_import_warns_and_the_rest_keep_working(
    tmp_path, monkeypatch, warnings_log
):
    make_distribution(
        tmp_path,
        "broken_dist",
        {"broken_mod": "raise ImportError('missing dependency frobnicate')"},
        {"broken": "broken_mod"},
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    host = PluginHost()
    assert host.info["broken"].error == "ImportError: missing dependency frobnicate"
    assert "circle" in host.registry("datasets")
    [message] = warnings_log()
    assert message == (
        "jepa: warning: plugin 'broken' (broken_mod) failed to load and is skipped: "
        "ImportError: missing dependency frobnicate. Set JEPA_DISABLE_PLUGINS=broken to "
        "silence this, or JEPA_STRICT_PLUGINS=1 to make it fatal."
    )


def test_strict_mode_makes_a_broken_plugin_fatal_with_a_strict_message(
    tmp_path, monkeypatch, fresh_host, warnings_log
):
    make_distribution(tmp_path, "broken_dist", {"broken_mod": "1/0"}, {"broken": "broken_mod"})
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("JEPA_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError) as caught:
        fresh_host()
    message = str(caught.value)
    assert message == (
        "plugin 'broken' (broken_mod) failed to load: ZeroDivisionError: division by zero. "
        "JEPA_STRICT_PLUGINS=1 makes this fatal; fix it or disable it with "
        "JEPA_DISABLE_PLUGINS=broken."
    )
    assert "skipped" not in message
    assert warnings_log() == []  # the error says it all; no duplicate warning


def test_disabled_plugins_are_skipped_without_a_warning(tmp_path, monkeypatch, warnings_log):
    make_distribution(tmp_path, "broken_dist", {"broken_mod": "1/0"}, {"broken": "broken_mod"})
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("JEPA_DISABLE_PLUGINS", "broken")
    host = PluginHost()
    assert host.info["broken"].disabled
    assert "broken_mod" not in sys.modules
    assert warnings_log() == []


def test_an_unknown_name_in_disable_plugins_is_warned_about(monkeypatch, warnings_log):
    monkeypatch.setenv("JEPA_DISABLE_PLUGINS", "builtin_wandb,builtin_wandbb")
    host = PluginHost()
    assert host.info["builtin_wandb"].disabled
    [message] = warnings_log()
    assert "JEPA_DISABLE_PLUGINS names 'builtin_wandbb', but no plugin has that name" in message
    assert "(did you mean 'builtin_wandb'?)" in message


def test_duplicates_break_the_plugin_loaded_later_whatever_the_path_order(tmp_path, monkeypatch):
    plugin = """
from jepa_framework import hookimpl

@hookimpl
def register_datasets(register):
    register("shared_name", lambda params: None)
"""
    make_distribution(tmp_path / "z", "zzz-dist", {"zzz_mod": plugin}, {"zzz": "zzz_mod"})
    make_distribution(tmp_path / "a", "aaa-dist", {"aaa_mod": plugin}, {"aaa": "aaa_mod"})
    monkeypatch.syspath_prepend(str(tmp_path / "a"))
    monkeypatch.syspath_prepend(str(tmp_path / "z"))  # zzz comes first on the path
    host = PluginHost()
    assert host.registry("datasets").get("shared_name").plugin == "aaa"
    assert "already provided by plugin 'aaa'" in host.info["zzz"].error
    names = list(host.info)
    builtins = [n for n in names if n.startswith("builtin_")]
    assert len(builtins) >= 6 and names[: len(builtins)] == sorted(builtins)  # first, by name
    assert names[len(builtins) :] == ["aaa", "zzz"]


def test_what_pluggy_refuses_breaks_the_plugin_with_pluggys_reason_on_one_line():
    module = types.ModuleType("bad_wrapper")

    @hookimpl(wrapper=True)
    def register_datasets(register):  # a wrapper must be a generator
        register("never", lambda params: None)

    module.register_datasets = register_datasets
    host = PluginHost(extra_plugins=[module], entry_points_group=False)
    error = host.info["bad_wrapper"].error
    assert error.startswith("pluggy refused it:") and "not a generator function" in error
    assert "\n" not in error
    assert "never" not in host.registry("datasets")


def test_two_distributions_with_one_entry_point_name_keep_the_first(tmp_path, monkeypatch):
    first = "from jepa_framework import hookimpl\n\n@hookimpl\ndef on_run_end(run):\n    pass\n"
    make_distribution(tmp_path / "a", "aaa-dist", {"aaa_mod": first}, {"same": "aaa_mod"})
    make_distribution(tmp_path / "b", "bbb-dist", {"bbb_mod": first}, {"same": "bbb_mod"})
    monkeypatch.syspath_prepend(str(tmp_path / "a"))
    monkeypatch.syspath_prepend(str(tmp_path / "b"))
    host = PluginHost()
    assert host.info["same"].distribution == "aaa-dist" and not host.info["same"].error
    assert "another plugin is already named 'same'" in host.info["same#2"].error
