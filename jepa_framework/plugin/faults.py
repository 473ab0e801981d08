"""Errors raised inside plugin code, reported as one paragraph that names the plugin.

An exception that escapes a plugin's component (a network's ``forward``, a regularizer, a
dataset's methods, a tracker, a lifecycle hook, a factory) is not the user's recipe and not a
framework bug; the user needs to know *whose* code failed. The plugin host records which modules
each plugin's code lives in (its entry point's module and submodules, its hooks' and factories'
modules, and the classes of every object a factory built), so the innermost traceback frame in a
plugin module names the plugin; the object built by a factory names the component.

An exception whose traceback holds no plugin frame is a framework bug: the CLI lets it surface
as a real traceback (after writing it to run.log when there is a run folder).
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
import types
import weakref
from pathlib import Path
from typing import Any

from jepa_framework.core.errors import PluginError

log = logging.getLogger("jepa_framework")

#: set to 1 to see the full traceback of a plugin's fault on the console too
TRACEBACK_ENV = "JEPA_TRACEBACK"
#: the recipe key that chooses a component of each kind
SETTING = {
    "datasets": "data.dataset.name",
    "encoders": "model.encoder.name",
    "predictors": "model.predictor.name",
    "decoders": "model.decoder.name",
    "regularizers": "objective.regularizer.name",
    "trackers": "tracking",
}


def traceback_wanted() -> bool:
    return os.environ.get(TRACEBACK_ENV, "").strip().lower() in {"1", "true", "yes"}


def one_line(exc: BaseException, limit: int = 300) -> str:
    """``Type: message`` on one line, cut to ``limit`` characters."""
    text = " ".join(str(exc).split())
    text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


class PluginFault(PluginError):
    """A plugin's code raised; ``original`` is its exception (traceback included)."""

    def __init__(self, message: str, original: BaseException) -> None:
        super().__init__(message)
        self.original = original


def _host() -> Any:
    from jepa_framework.plugin import host as plugins

    return plugins.current()


def _is_core(module: str) -> bool:
    return module == "jepa_framework" or module.startswith("jepa_framework.")


def who(host: Any, component: Any) -> str:
    """``encoder 'cnn' of plugin 'builtin_networks' (jepa-framework 0.1)``."""
    return f"{component.kind[:-1]} '{component.name}' of {host.describe_plugin(component.plugin)}"


def _advice(plugin: str, component: Any) -> str:
    choose = ""
    if component is not None and component.kind == "trackers":
        choose = f"remove tracker '{component.name}' from tracking, "
    elif component is not None:
        choose = f"choose another {SETTING[component.kind]}, "
    return (
        f"This is an error in the plugin's code, not in the recipe: report it to the plugin's "
        f"authors, {choose}or disable the plugin with JEPA_DISABLE_PLUGINS={plugin}."
    )


def fault(
    host: Any, exc: BaseException, plugin: str, component: Any, method: str, where: str = ""
) -> PluginFault:
    """The one-paragraph error for ``exc`` raised by ``plugin``'s code in ``method``."""
    what = who(host, component) if component is not None else host.describe_plugin(plugin)
    at = f" ({where})" if where else ""
    return PluginFault(
        f"{what} failed in {method}{at}: {one_line(exc).rstrip('.')}. {_advice(plugin, component)}",
        exc,
    )


def factory_fault(host: Any, exc: BaseException, component: Any) -> PluginFault:
    """A component's factory raised while the recipe's components were being built."""
    frame = _innermost_plugin_frame(host, exc)
    where = _location(*frame[1:]) if frame is not None else ""
    return fault(host, exc, component.plugin, component, "its factory", where)


def _frames(exc: BaseException) -> list[tuple[types.FrameType, int]]:
    return list(traceback.walk_tb(exc.__traceback__))


def _module(frame: types.FrameType) -> str:
    return str(frame.f_globals.get("__name__", ""))


def _location(frame: types.FrameType, line: int) -> str:
    return f"{Path(frame.f_code.co_filename).name}, line {line}"


def _innermost_plugin_frame(host: Any, exc: BaseException) -> tuple[str, Any, int] | None:
    for frame, line in reversed(_frames(exc)):
        owner = host.plugin_of_module(_module(frame))
        if owner is not None:
            return owner, frame, line
    return None


def attribute(exc: BaseException, host: Any = None) -> PluginFault | None:
    """The plugin fault ``exc`` is, or None when no plugin's code raised it (a framework bug).

    The innermost frame in a plugin module names the plugin; walking outwards from it, through
    library code (torch) but not past the framework's own code, the outermost frame of that
    plugin is where the framework called it: its function is the method (or hook), and its
    ``self``, if a factory built it, the component.
    """
    host = host if host is not None else _host()
    if host is None or not hasattr(host, "plugin_of_module"):
        return None
    frames = _frames(exc)
    owners = [host.plugin_of_module(_module(f)) for f, _ in frames]
    inner = next((i for i in range(len(frames) - 1, -1, -1) if owners[i] is not None), None)
    if inner is None:
        return None
    plugin, entry = owners[inner], inner
    for i in range(inner - 1, -1, -1):
        if _is_core(_module(frames[i][0])):
            break
        if owners[i] == plugin:
            entry = i
    component = None
    for frame, _ in frames[entry : inner + 1]:
        component = host.component_of(frame.f_locals.get("self"))
        if component is not None:
            break
    frame = frames[entry][0]
    method = frame.f_code.co_name
    owner = frame.f_locals.get("self")
    if owner is not None and method != "<lambda>":
        method = f"{type(owner).__name__}.{method}"
    if component is None and method in getattr(host, "_specs", {}):
        method = f"its {method} hook"
    return fault(host, exc, plugin, component, method, _location(*frames[inner]))


# --- trackers: a failure is a warning, once on the console --------------------------------------

_WARNED: dict[int, Any] = {}


def tracker_failed(tracker: Any, method: str, exc: Exception) -> None:
    """A tracker's ``method`` raised: one warning line on stderr the first time this tracker
    fails (naming its plugin), the traceback in run.log; later failures go to run.log only."""
    host = _host()
    component = host.component_of(tracker) if host is not None else None
    name = who(host, component) if component is not None else f"tracker {type(tracker).__name__}"
    key = id(tracker)
    first = key not in _WARNED or _WARNED[key]() is not tracker
    if first:
        try:
            ref = weakref.ref(tracker, lambda _, k=key: _WARNED.pop(k, None))
        except TypeError:
            ref = lambda t=tracker: t  # noqa: E731
        _WARNED[key] = ref
        print(
            f"jepa: warning: {name} failed in {method}: {one_line(exc)}; the run goes on "
            f"(the traceback and any later failure of this tracker are in run.log).",
            file=sys.stderr,
        )
        log.warning("%s failed in %s: %s", name, method, one_line(exc), exc_info=exc)
    else:
        log.warning("%s failed again in %s: %s", name, method, one_line(exc))
