"""Range and name checks for recipe fields, as plain attrs validators (plugins use them too).

Every number in a recipe gets a lower and an upper bound so that a typo (``epochs: 1e29``,
``lr: -1``, ``size: 0``) is refused while the recipe loads, before any folder is created, rather
than failing deep inside training or running "forever". The bounds are sanity limits, far beyond
anything useful, not tuning advice. Non-finite floats (nan, inf) are refused for every field by
the recipe's converter, so the checks here only compare.

The messages keep attrs' form ``'field' must be ...`` so that one formatter serves these and the
validators plugins write with ``attrs.validators`` directly.
"""

from __future__ import annotations

import re
from typing import Any

import attrs
from attrs.validators import ge, gt, le, lt

#: upper bound for counts (epochs, trajectories, frames, steps)
MAX_COUNT = 1_000_000
#: upper bound for widths (hidden units, embedding dims, channels)
MAX_WIDTH = 65_536
#: upper bound for seeds (numpy and torch both accept any value in [0, 2**32))
MAX_SEED = 2**32 - 1
#: upper bound for loss weights and similar unbounded positive factors
MAX_WEIGHT = 1.0e6


def between(low: float, high: float) -> list[Any]:
    """``low <= value <= high``."""
    return [ge(low), le(high)]


def count(low: int = 1, high: int = MAX_COUNT) -> list[Any]:
    """A whole number of things, at least ``low`` (1 unless zero has a meaning)."""
    return [ge(low), le(high)]


def positive(high: float) -> list[Any]:
    """``0 < value <= high`` (learning rates, time steps)."""
    return [gt(0), le(high)]


def fraction(*, open_low: bool = False, open_high: bool = False) -> list[Any]:
    """A value in [0, 1], with either end excluded if asked."""
    return [gt(0) if open_low else ge(0), lt(1) if open_high else le(1)]


def at_most(other: str) -> Any:
    """A field validator: the value is at most field ``other`` of the same instance.

    For min/max pairs, on the ``_min`` field: ``radius_min: float = attrs.field(default=0.5,
    validator=[*between(0, 100), at_most("radius_max")])``. attrs sets every field before it runs
    any validator, so ``other`` may come later in the class. The message keeps attrs' form
    (``'radius_min' must be <= radius_max (1.0): 2.0``), which a recipe reports as
    ``data.dataset.radius_min: must be at most data.dataset.radius_max (1.0), got 2.0``. When
    ``other`` fails its own validators, only that problem is reported.
    """

    def check(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
        bound = getattr(instance, other)
        if value <= bound:
            return
        bound_field = attrs.fields_dict(type(instance)).get(other)
        if bound_field is not None and bound_field.validator is not None:
            try:
                bound_field.validator(instance, bound_field, bound)
            except ValueError:
                return  # reported at ``other``; comparing with a refused value says nothing
        raise ValueError(f"'{attribute.name}' must be <= {other} ({bound}): {value}")

    check.__name__ = check.__qualname__ = f"at_most_{other}"
    return check


#: a run name is used as a folder name: plain characters, no separators, no leading dot or dash
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._=+-]{0,199}")


def folder_name(_instance: Any, attribute: attrs.Attribute, value: str) -> None:
    """A value that is safe as one path component (a run's folder, a file in it)."""
    if not NAME_PATTERN.fullmatch(value):
        raise ValueError(
            f"'{attribute.name}' must be a plain folder or file name (letters, digits and "
            f". _ - = +, not starting with . or -, at most 200 characters): {value!r}"
        )


def path_text(_instance: Any, attribute: attrs.Attribute, value: str) -> None:
    """A non-empty path without control characters (which no file system takes)."""
    if not value or len(value) > 4096 or any(ord(c) < 32 for c in value):
        raise ValueError(
            f"'{attribute.name}' must be a non-empty path of at most 4096 characters without "
            f"control characters: {value!r}"
        )


#: a device name in a recipe or the Python API (whether it exists is checked when it is used)
DEVICE_PATTERN = re.compile(r"auto|cpu|mps|cuda(:\d{1,3})?")


def device_name(_instance: Any, attribute: attrs.Attribute, value: str) -> None:
    """auto, cpu, mps, cuda or cuda:N (whether it exists is checked when the run starts)."""
    if not DEVICE_PATTERN.fullmatch(value):
        raise ValueError(f"'{attribute.name}' must be auto, cpu, mps, cuda or cuda:N: {value!r}")


def budget_multiples(_instance: Any, attribute: attrs.Attribute, value: list[int]) -> None:
    """A non-empty list of distinct whole multiples, each in 1..1000 (of a training budget)."""
    if not value or len(set(value)) != len(value) or not all(1 <= v <= 1000 for v in value):
        raise ValueError(
            f"'{attribute.name}' must be a non-empty list of distinct whole numbers from 1 to "
            f"1000 (multiples of the JEPA's optimizer steps, e.g. [1, 4, 16]): {value!r}"
        )
