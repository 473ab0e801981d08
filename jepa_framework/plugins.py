"""The plugin host: loads the entry-point group once, lazily, and fills one registry per kind.

Built-in components come through the very same entry-point group as third-party ones, so every
run exercises the path a plugin author relies on.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from types import ModuleType
from typing import Any

import attrs
import pluggy

from jepa_framework import hookspecs
from jepa_framework.errors import PluginError, did_you_mean
from jepa_framework.registry import KINDS, Registry

ENTRY_POINT_GROUP = "jepa_framework.plugins"
DISABLE_ENV = "JEPA_DISABLE_PLUGINS"
STRICT_ENV = "JEPA_STRICT_PLUGINS"


class PluginWarning(UserWarning):
    """A plugin could not be loaded; the others keep working."""


@attrs.define
class PluginInfo:
    """What `jepa plugins` shows about one plugin."""

    name: str
    module: str
    distribution: str = ""
    version: str = ""
    hooks: list[str] = attrs.field(factory=list)
    components: list[str] = attrs.field(factory=list)
    error: str = ""
    disabled: bool = False


def _disabled_names() -> set[str]:
    return {n.strip() for n in os.environ.get(DISABLE_ENV, "").split(",") if n.strip()}


def _strict() -> bool:
    return os.environ.get(STRICT_ENV, "").lower() in {"1", "true", "yes"}


class PluginHost:
    """Every loaded plugin, its registries and the hooks to call on it."""

    def __init__(self, extra_plugins: Iterable[ModuleType | object] = (), entry_points_group=True):
        self.pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self.registries = {kind: Registry(kind) for kind in KINDS}
        self.recipes: dict[str, Path] = {}
        self.recipe_providers: dict[str, str] = {}
        self.info: dict[str, PluginInfo] = {}
        if entry_points_group:
            for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
                self._load_entry_point(ep)
        for plugin in extra_plugins:
            name = getattr(plugin, "__name__", type(plugin).__name__)
            self._register(plugin, name, PluginInfo(name=name, module=name))
        self._collect_components()

    @property
    def hook(self) -> Any:
        return self.pm.hook

    def registry(self, kind: str) -> Registry:
        if kind not in self.registries:
            raise PluginError(
                f"unknown component kind '{kind}'{did_you_mean(kind, self.registries)}. "
                f"Kinds: {', '.join(KINDS)}."
            )
        return self.registries[kind]

    def _load_entry_point(self, ep: EntryPoint) -> None:
        dist = getattr(ep, "dist", None)
        info = PluginInfo(
            name=ep.name,
            module=ep.value,
            distribution=dist.name if dist else "",
            version=dist.version if dist else "",
        )
        self.info[ep.name] = info
        if ep.name in _disabled_names():
            info.disabled = True
            return
        try:
            module = ep.load()
        except Exception as exc:  # a broken plugin must not take the others down
            self._broken(info, f"{type(exc).__name__}: {exc}")
            return
        self._register(module, ep.name, info)

    def _register(self, plugin: object, name: str, info: PluginInfo) -> None:
        self.info[name] = info
        try:
            self.pm.register(plugin, name=name)
        except ValueError as exc:
            self._broken(info, f"could not register: {exc}")
            return
        info.hooks = sorted(h.name for h in self.pm.get_hookcallers(plugin) or [])
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            self.pm.unregister(plugin)
            self._broken(info, f"implements an unknown hook: {exc}")

    def _broken(self, info: PluginInfo, error: str) -> None:
        info.error = error
        message = (
            f"plugin '{info.name}' ({info.module}) failed to load and is skipped: {error}. "
            f"Set {DISABLE_ENV}={info.name} to silence this, or {STRICT_ENV}=1 to make it fatal."
        )
        if _strict():
            raise PluginError(message)
        warnings.warn(message, PluginWarning, stacklevel=3)

    def _collect_components(self) -> None:
        """Call each register hook plugin by plugin, so every component knows its provider."""
        for kind, registry in self.registries.items():
            caller = getattr(self.pm.hook, f"register_{kind}")
            for impl in caller.get_hookimpls():

                def register(name, factory, params=None, _plugin=impl.plugin_name, _r=registry):
                    _r.add(name, factory, params, _plugin)
                    self.info[_plugin].components.append(f"{_r.kind[:-1]}:{name}")

                self._call_register_hook(impl, register)
        for impl in self.pm.hook.register_recipes.get_hookimpls():

            def register_recipe(name, path, _plugin=impl.plugin_name):
                if name in self.recipes:
                    raise PluginError(
                        f"recipe '{name}' is registered twice: by plugin "
                        f"'{self.recipe_providers[name]}' and by plugin '{_plugin}'."
                    )
                self.recipes[name] = Path(path)
                self.recipe_providers[name] = _plugin
                self.info[_plugin].components.append(f"recipe:{name}")

            self._call_register_hook(impl, register_recipe)

    def _call_register_hook(self, impl: Any, register: Any) -> None:
        """A register hook that crashes marks its plugin broken; conflicts stay errors."""
        try:
            impl.function(register=register)
        except PluginError:
            raise
        except Exception as exc:
            self._broken(self.info[impl.plugin_name], f"{type(exc).__name__}: {exc}")


_HOST: PluginHost | None = None


def host() -> PluginHost:
    """The process-wide plugin host, built on first use."""
    global _HOST
    if _HOST is None:
        _HOST = PluginHost()
    return _HOST


def reset(new_host: PluginHost | None = None) -> None:
    """Forget the cached host (tests, or after installing a plugin in the same process)."""
    global _HOST
    _HOST = new_host
