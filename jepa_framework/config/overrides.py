"""Command-line overrides (``train.epochs=5``) applied to a raw recipe mapping.

Values are parsed as (bounded) YAML, so ``tracking=[{name: local}]`` works. The result says which
components an override renamed, so the loader can drop the recipe's keys that the new component
does not accept and one recipe serves every regularizer in a sweep.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import yaml

from jepa_framework.config import safe_yaml
from jepa_framework.core.errors import JepaError

#: most characters of override text in one command (all overrides together)
MAX_OVERRIDE_CHARS = 64 * 1024


def _error(text: str, why: str) -> JepaError:
    shown = text if len(text) <= 80 else text[:77] + "..."
    return JepaError(f"command-line override '{shown}': {why}")


def parse_override(text: str) -> tuple[list[str], Any]:
    """``train.epochs=5`` -> (["train", "epochs"], 5)."""
    key, sep, value = text.partition("=")
    keys = key.strip().split(".")
    if not sep or not all(k.strip() for k in keys):
        raise _error(text, "not of the form key.path=value (e.g. train.epochs=5).")
    try:
        parsed = safe_yaml.loads(value) if value.strip() else ""
    except safe_yaml.YamlLimitError as exc:
        raise _error(text, f"the value {exc}.") from None
    except yaml.YAMLError:
        parsed = value  # not YAML: take the text as it is (a string)
    return [k.strip() for k in keys], parsed


def _index(node: list, key: str, where: str, text: str) -> int:
    if not key.isdigit() or int(key) >= len(node):
        raise _error(text, f"'{where}' is not an index of a {len(node)}-item list.")
    return int(key)


def _child(node: Any, key: str, where: str, text: str) -> Any:
    """The mapping (or list) at ``node[key]``, created if missing."""
    index: Any = _index(node, key, where, text) if isinstance(node, list) else key
    child = node[index] if isinstance(node, list) else node.get(key)
    if isinstance(child, str):  # shorthand `encoder: cnn`
        child = {"name": child}
    elif child is None:
        child = {}
    elif not isinstance(child, (dict, list)):
        raise _error(text, f"'{where}' holds {child!r}, not a mapping.")
    node[index] = child
    return child


def apply_overrides(
    raw: dict[str, Any], overrides: Sequence[str]
) -> tuple[dict[str, Any], set[str]]:
    """A copy of ``raw`` with overrides applied, and the dotted paths of keys a rename orphaned.

    ``objective.regularizer.name=sigreg`` on a recipe whose regularizer sets ``var_weight``
    returns ``{"objective.regularizer.var_weight"}``: the loader drops such keys if the new
    component does not accept them. Keys set by a later override are always kept (and checked).
    """
    if sum(len(text) for text in overrides) > MAX_OVERRIDE_CHARS:
        raise JepaError(
            f"the command-line overrides hold more than {MAX_OVERRIDE_CHARS} characters; "
            f"put long settings in a recipe file instead."
        )
    out = copy.deepcopy(raw)
    orphans: set[str] = set()
    for text in overrides:
        keys, value = parse_override(text)
        node: Any = out
        for i, key in enumerate(keys[:-1]):
            node = _child(node, key, ".".join(keys[: i + 1]), text)
        path, last = ".".join(keys), keys[-1]
        orphans = {o for o in orphans if o != path and not o.startswith(f"{path}.")}
        if isinstance(node, list):
            node[_index(node, last, path, text)] = value
            continue
        if last == "name" and len(keys) > 1 and node.get("name") != value:
            orphans |= {f"{path[: -len('name')]}{k}" for k in node if k != "name"}
        node[last] = value
    return out, orphans
