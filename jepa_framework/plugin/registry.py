"""Name -> component lookup, one registry per kind of component."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import attrs

from jepa_framework.core.errors import JepaError, PluginError, did_you_mean

KINDS = (
    "datasets",
    "encoders",
    "predictors",
    "decoders",
    "regularizers",
    "trackers",
    "environments",
    "planners",
)


@attrs.define(frozen=True)
class NoParams:
    """Params class for components that take no options."""


@attrs.frozen
class Component:
    """A registered component: how to build it, what it accepts, and who provides it."""

    kind: str
    name: str
    factory: Callable[..., Any]
    params: type
    plugin: str
    doc: str = ""

    def param_defaults(self) -> dict[str, Any]:
        """Each params field with its default (``attrs.NOTHING`` rendered as ``"<required>"``)."""
        out: dict[str, Any] = {}
        for field in attrs.fields(self.params):
            default = field.default
            if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
                default = default.factory()
            out[field.name] = "<required>" if default is attrs.NOTHING else default
        return out


class UnknownComponentError(JepaError):
    """A recipe or command named a component that no loaded plugin provides."""


class Registry:
    """Components of one kind, keyed by name; a name given twice is an error naming both plugins.

    `check` validates without storing and `commit` stores, so the plugin host can stage a
    plugin's whole set of registrations and keep all of them or none.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._components: dict[str, Component] = {}

    def check(
        self, name: str, factory: Callable[..., Any], params: type | None, plugin: str
    ) -> Component:
        """Validate one registration without storing it, so a plugin can be staged whole."""
        what = self.kind[:-1]
        if not isinstance(name, str) or not name.strip():
            raise PluginError(f"registered a {what} whose name {name!r} is not a non-empty string")
        if not callable(factory):
            raise PluginError(f"registered {what} '{name}' with a factory that is not callable")
        params = params or NoParams
        if not attrs.has(params):
            raise PluginError(
                f"registered {what} '{name}' with params {params!r}, which is not an attrs "
                f"class; decorate it with @attrs.frozen"
            )
        if any(f.name == "name" for f in attrs.fields(params)):
            raise PluginError(
                f"registered {what} '{name}' with a params field called 'name', which recipes "
                f"reserve for choosing the component; rename the field"
            )
        if name in self._components:
            first = self._components[name].plugin
            raise PluginError(
                f"{what} '{name}' is already provided by plugin '{first}' (loaded earlier); "
                f"rename it in plugin '{plugin}', or disable one of the two with "
                f"JEPA_DISABLE_PLUGINS={plugin} (or ={first})"
            )
        doc = (getattr(factory, "__doc__", None) or "").strip().splitlines()
        return Component(self.kind, name, factory, params, plugin, doc[0] if doc else "")

    def commit(self, component: Component) -> None:
        """Store a component that `check` accepted."""
        self._components[component.name] = component

    def add(
        self, name: str, factory: Callable[..., Any], params: type | None, plugin: str
    ) -> Component:
        """Check and store at once (for registries built outside the plugin host)."""
        component = self.check(name, factory, params, plugin)
        self.commit(component)
        return component

    def get(self, name: str) -> Component:
        try:
            return self._components[name]
        except KeyError:
            known = ", ".join(sorted(self._components)) or "none"
            raise UnknownComponentError(
                f"unknown {self.kind[:-1]} '{name}'{did_you_mean(name, self._components)}. "
                f"Known {self.kind}: {known}. Run `jepa list {self.kind}` to see them all."
            ) from None

    def names(self) -> list[str]:
        return sorted(self._components)

    def __contains__(self, name: object) -> bool:
        return name in self._components

    def __iter__(self) -> Iterator[Component]:
        return iter(self._components[n] for n in self.names())

    def __len__(self) -> int:
        return len(self._components)
