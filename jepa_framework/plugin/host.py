"""The plugin host: loads the entry-point group once, lazily, and fills one registry per kind.

Built-in components come through the very same entry-point group as third-party ones, so every
run exercises the path a plugin author relies on.

Each plugin is all-or-nothing: it is imported, its hooks are checked against the hookspecs, and
its register hooks are run into a staging area; only if every step succeeds are its components
committed. A plugin that fails anywhere registers nothing, is unregistered from pluggy (so its
lifecycle hooks never run), and is listed broken with the reason; the others keep working.
"""

from __future__ import annotations

import inspect
import logging
import os
import re
import weakref
from collections.abc import Callable, Iterable
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from types import ModuleType
from typing import Any

import attrs
import pluggy

from jepa_framework.core.errors import PluginError, did_you_mean
from jepa_framework.plugin import spec as hookspecs
from jepa_framework.plugin.registry import KINDS, Component, Registry

ENTRY_POINT_GROUP = "jepa_framework.plugins"
DISABLE_ENV = "JEPA_DISABLE_PLUGINS"
STRICT_ENV = "JEPA_STRICT_PLUGINS"
#: the distribution whose entry points are the built-ins, loaded before any other plugin
BUILTIN_DISTRIBUTION = "jepa-framework"

#: warnings go through logging: one clean paragraph on stderr, no Python source line
logger = logging.getLogger("jepa_framework.plugins")  # the name plugin authors filter on


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


def disabled_names() -> list[str]:
    """Plugin names listed in JEPA_DISABLE_PLUGINS, in the order given."""
    return [n.strip() for n in os.environ.get(DISABLE_ENV, "").split(",") if n.strip()]


def strict() -> bool:
    return os.environ.get(STRICT_ENV, "").lower() in {"1", "true", "yes"}


def warn(message: str) -> None:
    """Print a one-paragraph warning (through logging, so users may route or silence it)."""
    logger.warning("jepa: warning: %s", message)


def _one_line(text: str) -> str:
    return " ".join(str(text).split()).rstrip(".")


def _is_core(module: str) -> bool:
    return module == "jepa_framework" or module.startswith("jepa_framework.")


def _normalize(dist: str) -> str:
    return re.sub(r"[-_.]+", "-", dist).lower()


def _load_order(ep: EntryPoint) -> tuple[bool, str, str, str]:
    """Built-ins first, then everything else by name: a duplicate always breaks the same one."""
    dist = getattr(ep, "dist", None)
    dist_name = _normalize(dist.name) if dist else ""
    return (dist_name != BUILTIN_DISTRIBUTION, ep.name, dist_name, ep.value)


class _Broken(Exception):
    """Internal: one plugin failed; carries the reason shown to the user."""


class PluginHost:
    """Every loaded plugin, its registries and the hooks to call on it.

    Building a host never raises for a bad plugin: broken plugins are recorded in ``info`` (and
    warned about unless strict mode is on); `check_strict` turns them into a `PluginError`.
    """

    def __init__(
        self,
        extra_plugins: Iterable[ModuleType | object] = (),
        entry_points_group: bool = True,
    ) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self.registries = {kind: Registry(kind) for kind in KINDS}
        self.recipes: dict[str, Path] = {}
        self.recipe_providers: dict[str, str] = {}
        self.info: dict[str, PluginInfo] = {}
        #: Python module -> the plugin whose code it is (see `plugin_of_module`)
        self.module_owners: dict[str, str] = {}
        #: id(object) -> (weak reference, component): what `remember` was told was built
        self._built: dict[int, tuple[Callable[[], Any], Component]] = {}
        self._specs = {
            name: tuple(caller.spec.argnames)
            for name, caller in vars(self.pm.hook).items()
            if not name.startswith("_") and caller.has_spec()
        }
        candidates: list[tuple[PluginInfo, Callable[[], object]]] = []
        if entry_points_group:
            for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=_load_order):
                dist = getattr(ep, "dist", None)
                info = PluginInfo(
                    name=ep.name,
                    module=ep.value,
                    distribution=dist.name if dist else "",
                    version=dist.version if dist else "",
                )
                candidates.append((info, ep.load))
        for plugin in extra_plugins:
            name = getattr(plugin, "__name__", type(plugin).__name__)
            candidates.append((PluginInfo(name=name, module=name), lambda p=plugin: p))
        disabled = disabled_names()
        self._warn_unknown_disabled(disabled, [info.name for info, _ in candidates])
        for info, load in candidates:
            self._add(info, load, disabled)

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

    def broken(self) -> list[PluginInfo]:
        return [i for i in self.info.values() if i.error]

    def strict_error(self) -> PluginError | None:
        """The error strict mode raises for the broken plugins, or None when there is none."""
        broken = self.broken()
        if not broken or not strict():
            return None
        reasons = "; ".join(
            f"plugin '{i.name}' ({i.module}) failed to load: {i.error}" for i in broken
        )
        it = "it" if len(broken) == 1 else "them"
        return PluginError(
            f"{reasons}. {STRICT_ENV}=1 makes this fatal; fix {it} or disable {it} with "
            f"{DISABLE_ENV}={','.join(i.name for i in broken)}."
        )

    def check_strict(self) -> None:
        """Raise the strict-mode `PluginError` if strict mode is on and a plugin is broken."""
        error = self.strict_error()
        if error is not None:
            raise error

    # -- loading one plugin, all or nothing ------------------------------------------------

    def _add(self, info: PluginInfo, load: Callable[[], object], disabled: list[str]) -> None:
        key = info.name
        if key in self.info:  # two distributions declare the same entry-point name
            first = self.info[key]
            key = f"{info.name}#{sum(k.split('#')[0] == info.name for k in self.info) + 1}"
            self.info[key] = info
            self._mark_broken(
                info,
                f"another plugin is already named '{info.name}' ({first.module} from "
                f"{first.distribution or 'no distribution'}); entry-point names must be unique, "
                f"rename one of them",
            )
            return
        self.info[key] = info
        if info.name in disabled:
            info.disabled = True
            return
        plugin: object = None
        registered = False
        try:
            try:
                plugin = load()
            except (Exception, SystemExit) as exc:  # a broken plugin must not take others down
                raise _Broken(f"{type(exc).__name__}: {_one_line(exc)}") from exc
            self._check_hooks(plugin)
            try:
                self.pm.register(plugin, name=info.name)
                registered = True
                self.pm.check_pending()
            except (ValueError, pluggy.PluginValidationError) as exc:
                raise _Broken(f"pluggy refused it: {_one_line(exc)}") from exc
            components, recipes = self._stage(plugin, info.name)
        except _Broken as exc:
            if registered:
                self.pm.unregister(plugin, name=info.name)
            self._mark_broken(info, str(exc))
            return
        info.hooks = sorted(h.name for h in self.pm.get_hookcallers(plugin) or [])
        for component in components:
            self.registries[component.kind].commit(component)
            info.components.append(f"{component.kind[:-1]}:{component.name}")
        for name, path in recipes.items():
            self.recipes[name] = path
            self.recipe_providers[name] = info.name
            info.components.append(f"recipe:{name}")
        self._own_modules(info, plugin, components)

    # -- which plugin a piece of code belongs to ---------------------------------------------

    def _own_modules(self, info: PluginInfo, plugin: object, components: list[Component]) -> None:
        """Record the plugin's modules: its entry point's, its hooks' and its factories' (those
        in the same top-level package, so a factory that is a torch class names no plugin)."""
        if isinstance(plugin, ModuleType):
            home = plugin.__name__
        else:
            home = info.module.partition(":")[0] if info.distribution else type(plugin).__module__
        self._own(home, info.name)
        top = home.partition(".")[0]
        code = [getattr(plugin, attr, None) for attr in info.hooks]
        code += [c.factory for c in components]
        for obj in code:
            module = getattr(obj, "__module__", None) or ""
            if module.partition(".")[0] == top:
                self._own(module, info.name)

    def _own(self, module: str, plugin: str) -> None:
        if module and not _is_core(module) and module not in self.module_owners:
            self.module_owners[module] = plugin

    def plugin_of_module(self, module: str) -> str | None:
        """The plugin whose code ``module`` is: a recorded module or a submodule of one."""
        name = module
        while name:
            if name in self.module_owners:
                return self.module_owners[name]
            name = name.rpartition(".")[0]
        return None

    def remember(self, obj: Any, component: Component) -> None:
        """``obj`` was built by ``component``'s factory: an error raised in its methods (or in
        the classes of its submodules, for a network) is attributed to that component."""
        key = id(obj)
        try:
            ref: Callable[[], Any] = weakref.ref(obj, lambda _, k=key: self._built.pop(k, None))
        except TypeError:  # not weak-referenceable: keep it (a handful of small objects)
            ref = lambda o=obj: o  # noqa: E731
        self._built[key] = (ref, component)
        home = self.info[component.plugin].module if component.plugin in self.info else ""
        top = home.partition(":")[0].partition(".")[0]
        modules = obj.modules() if callable(getattr(obj, "modules", None)) else ()
        for part in (obj, *modules):
            module = type(part).__module__
            if top and module.partition(".")[0] == top:
                self._own(module, component.plugin)

    def component_of(self, obj: Any) -> Component | None:
        """The component whose factory built ``obj`` (if `remember` was told), else None."""
        entry = self._built.get(id(obj))
        return entry[1] if entry is not None and entry[0]() is obj else None

    def describe_plugin(self, name: str) -> str:
        """``plugin 'x' (dist 1.0)`` as `jepa plugins` shows it."""
        info = self.info.get(name)
        dist = f"{info.distribution} {info.version}".strip() if info else ""
        return f"plugin '{name}'" + (f" ({dist})" if dist else "")

    def _check_hooks(self, plugin: object) -> None:
        """Compare every hookimpl with its hookspec, with a clear message (pluggy's is not)."""
        for attr in dir(plugin):
            opts = self.pm.parse_hookimpl_opts(plugin, attr)
            if opts is None:
                continue
            hook = opts.get("specname") or attr
            if hook not in self._specs:
                if opts.get("optionalhook"):
                    continue
                raise _Broken(
                    f"implements an unknown hook '{hook}'{did_you_mean(hook, self._specs)}; "
                    f"the hooks are: {', '.join(sorted(self._specs))}"
                )
            try:
                parameters = inspect.signature(getattr(plugin, attr)).parameters.values()
            except (TypeError, ValueError):
                continue  # pluggy will judge it
            required = [
                p.name
                for p in parameters
                if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
            ]
            unknown = [name for name in required if name not in self._specs[hook]]
            if unknown:
                spec = f"{hook}({', '.join(self._specs[hook])})"
                raise _Broken(
                    f"hook {hook}({', '.join(required)}) takes parameter(s) "
                    f"{', '.join(repr(n) for n in unknown)} that the hook does not pass; "
                    f"the hookspec is {spec}: rename the parameter(s) to match"
                )

    def _impls(self, hook: str, plugin: object) -> list[Any]:
        return [i for i in getattr(self.pm.hook, hook).get_hookimpls() if i.plugin is plugin]

    def _stage(self, plugin: object, name: str) -> tuple[list[Component], dict[str, Path]]:
        """Run the plugin's register hooks into a staging area; nothing is stored yet."""
        components: list[Component] = []
        recipes: dict[str, Path] = {}

        for kind, registry in self.registries.items():

            def register(cname, factory, params=None, _r=registry):
                component = _r.check(cname, factory, params, name)
                if any(c.kind == _r.kind and c.name == cname for c in components):
                    raise PluginError(f"registers {_r.kind[:-1]} '{cname}' twice")
                components.append(component)

            for impl in self._impls(f"register_{kind}", plugin):
                self._call(impl, register)

        def register_recipe(rname, path):
            if not isinstance(rname, str) or not rname.strip():
                raise PluginError(f"registered a recipe whose name {rname!r} is not a string")
            if rname in recipes:
                raise PluginError(f"registers recipe '{rname}' twice")
            if rname in self.recipes:
                first = self.recipe_providers[rname]
                raise PluginError(
                    f"recipe '{rname}' is already provided by plugin '{first}' (loaded "
                    f"earlier); rename it in plugin '{name}', or disable one of the two with "
                    f"{DISABLE_ENV}={name} (or ={first})"
                )
            recipes[rname] = Path(path)

        for impl in self._impls("register_recipes", plugin):
            self._call(impl, register_recipe)
        return components, recipes

    @staticmethod
    def _call(impl: Any, register: Callable[..., None]) -> None:
        try:
            impl.function(*[register for _ in impl.argnames])
        except PluginError as exc:
            raise _Broken(str(exc)) from exc
        except (Exception, SystemExit) as exc:
            raise _Broken(
                f"its {impl.function.__name__} hook raised {type(exc).__name__}: {_one_line(exc)}"
            ) from exc

    def _mark_broken(self, info: PluginInfo, reason: str) -> None:
        info.error = reason
        info.hooks = []
        info.components = []
        if not strict():
            warn(
                f"plugin '{info.name}' ({info.module}) failed to load and is skipped: {reason}. "
                f"Set {DISABLE_ENV}={info.name} to silence this, or {STRICT_ENV}=1 to make it "
                f"fatal."
            )

    @staticmethod
    def _warn_unknown_disabled(disabled: list[str], known: list[str]) -> None:
        for name in disabled:
            if name not in known:
                warn(
                    f"{DISABLE_ENV} names '{name}', but no plugin has that name"
                    f"{did_you_mean(name, known)}; `jepa plugins` lists the plugins."
                )


_HOST: PluginHost | None = None


def host(check: bool = True) -> PluginHost:
    """The process-wide plugin host, built on first use.

    With ``check`` (the default), strict mode turns a broken plugin into a `PluginError`;
    `jepa plugins` passes ``check=False`` so it can list the broken plugin first.
    """
    global _HOST
    if _HOST is None:
        _HOST = PluginHost()
    if check:
        _HOST.check_strict()
    return _HOST


def current() -> PluginHost | None:
    """The process-wide host if one was built (never builds one)."""
    return _HOST


def reset(new_host: PluginHost | None = None) -> None:
    """Forget the cached host (tests, or after installing a plugin in the same process)."""
    global _HOST
    _HOST = new_host
