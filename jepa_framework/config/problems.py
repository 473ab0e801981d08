"""cattrs errors -> one short :class:`RecipeError`: a dotted path and a message per problem.

cattrs finds every problem and its path (``cattrs.transform_error``); this adds the words: a
did-you-mean for unknown keys and choices, "must be at least 1, got 0" for attrs' range
validators, and a mark on problems that a command-line override caused.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import attrs
from cattrs.errors import ForbiddenExtraKeysError
from cattrs.v import transform_error

from jepa_framework.config.converter import short
from jepa_framework.core.errors import RecipeError, did_you_mean

_COMPARISONS = {">=": "at least", "<=": "at most", ">": "greater than", "<": "less than"}


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def _describe(path: str, exc: BaseException) -> list[tuple[str, str]]:
    """(dotted path, message) for one problem cattrs found at ``path``."""
    if isinstance(exc, ForbiddenExtraKeysError):
        allowed = [f.name for f in attrs.fields(exc.cl)]
        keys = sorted(map(str, exc.extra_fields))
        hint = f"; allowed keys: {', '.join(allowed) or 'none'}"
        found = [
            (_join(path, key), f"unknown key{did_you_mean(key, allowed)}{hint}")
            for key in keys[: RecipeError.MAX_LISTED]
        ]
        if len(keys) > RecipeError.MAX_LISTED:
            found.append((path, f"{len(keys) - RecipeError.MAX_LISTED} more unknown keys"))
        return found
    if isinstance(exc, KeyError):
        return [(path, "required key is missing")]
    message = str(exc.args[0]) if exc.args else type(exc).__name__
    length = re.fullmatch(r"Length of '(\w+)' must be (<=|>=) (\d+): (\d+)", message)
    if isinstance(exc, ValueError) and length:  # attrs' min_len / max_len, at the field's path
        least = "at least" if length[2] == ">=" else "at most"
        return [(_join(path, length[1]), f"must hold {least} {length[3]} item(s), got {length[4]}")]
    validator = re.fullmatch(r"'(\w+)' (must .*)", message, re.S)
    if isinstance(exc, ValueError) and validator:  # an attrs validator: 'x' must be >= 1: 0
        parent, path, message = path, _join(path, validator[1]), validator[2]
        rule, sep, value = message.partition(": ")
        op, _, bound = rule.removeprefix("must be ").partition(" ")
        sibling = re.fullmatch(r"([A-Za-z_]\w*) (\(.*\))", bound, re.S)
        if op in _COMPARISONS and sibling:  # validators.at_most: '<= radius_max (1.0)'
            bound = f"{_join(parent, sibling[1])} {sibling[2]}"
        rule = f"must be {_COMPARISONS[op]} {bound}" if op in _COMPARISONS else rule
        message = f"{rule}, got {value}" if sep else rule
        options = exc.args[2] if len(exc.args) >= 4 else None
        if isinstance(options, (tuple, list, set, frozenset, dict)):  # in_: did you mean?
            message += did_you_mean(str(exc.args[3]), [str(o) for o in options])
    return [(path, message)]


def cattrs_problems(exc: BaseException) -> list[tuple[str, str]]:
    """Every problem in a cattrs error, located by cattrs' own paths (``$.train.epochs``)."""
    leaves: list[BaseException] = []

    def remember(leaf: BaseException, _type: Any) -> str:
        leaves.append(leaf)
        return str(len(leaves) - 1)

    found = []
    for line in transform_error(exc, "$", remember):
        index, _, path = line.partition(" @ ")
        dotted = re.sub(r"\[(\d+)\]", r".\1", path).removeprefix("$").removeprefix(".")
        found.extend(_describe(dotted, leaves[int(index)]))
    return found


def _override_at(path: str, overrides: Sequence[str]) -> str | None:
    """The last command-line override that set ``path`` (or a key under or above it)."""
    for text in reversed(overrides):
        key = text.partition("=")[0].strip()
        if path and (path == key or path.startswith(f"{key}.") or key.startswith(f"{path}.")):
            return text
    return None


def recipe_error(
    found: list[tuple[str, str]], source: str, overrides: Sequence[str] = ()
) -> RecipeError:
    """One error listing ``(path, message)`` problems, marking those an override caused."""
    lines = []
    for path, message in found:
        line = f"{path or 'top level'}: {message}"
        line = line if len(line) <= 300 else f"{line[:297]}..."
        text = _override_at(path, overrides)
        sibling = re.match(rf"must be (?:{'|'.join(_COMPARISONS.values())}) ([\w.]+) \(", message)
        if text is None and sibling:  # 'x_min: must be at most x_max (1.0)': x_max's override
            text = _override_at(sibling[1], overrides)
        lines.append(line if text is None else f"{line} [command-line override {short(text)}]")
    if overrides:
        source += " with command-line overrides"
    return RecipeError(lines, source)
