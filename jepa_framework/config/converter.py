"""The cattrs converter behind recipes: strict, and it reports everything at once.

cattrs alone would coerce ``"5"`` to 5 and ``1`` to ``True``, stop at the first failing attrs
validator of a class, and say nothing useful for a section that is not a mapping. Here scalars
are strict (and floats finite), sections must be mappings and lists lists, every validator of a
class is run, and components (``{name: vicreg, var_weight: 10}``) are looked up by name.
"""

from __future__ import annotations

import contextlib
import math
import typing
from collections.abc import Callable
from typing import Any

import attrs
import cattrs
from cattrs.cols import list_structure_factory
from cattrs.errors import AttributeValidationNote, ClassValidationError, ForbiddenExtraKeysError
from cattrs.gen import make_dict_structure_fn

from jepa_framework.core.errors import JepaError


def short(value: Any) -> str:
    """``repr(value)``, cut to 60 characters (values in messages may be huge)."""
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def strict_int(value: Any, _: type) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected an integer, got {short(value)}")
    return value


def strict_float(value: Any, _: type) -> float:
    if isinstance(value, str):  # YAML 1.1 reads 1e-3 as a string
        with contextlib.suppress(ValueError):
            value = float(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"expected a number, got {short(value)}")
    if not math.isfinite(value):
        raise TypeError(f"expected a finite number, got {short(value)}")
    return float(value)


def strict_bool(value: Any, _: type) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"expected true or false, got {short(value)}")
    return value


def strict_str(value: Any, _: type) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {short(value)}")
    return value


def every_validator(structure: Any) -> Any:
    """A structure hook that reports every field its validators refuse, not only the first.

    attrs stops at the first failing validator, and cattrs builds nothing when any key is
    unknown or has the wrong type. On failure the instance is built again from the keys that
    did structure, with validators off, and the validators of every field but those that did
    not structure are run one by one (defaults included: ``validators.at_most`` compares fields).
    """

    def hook(value: Any, cl: type) -> Any:
        try:
            return structure(value, cl)
        except ClassValidationError as exc:
            notes = [getattr(e, "__notes__", []) for e in exc.exceptions]
            failed = {n.name for ns in notes for n in ns if isinstance(n, AttributeValidationNote)}
            fields = attrs.fields_dict(cl)
            known = {k: v for k, v in value.items() if k in fields and k not in failed}
            try:
                with attrs.validators.disabled():
                    instance = structure(known, cl)
            except ClassValidationError:
                raise exc from None
            found = [
                e
                for e, ns in zip(exc.exceptions, notes, strict=True)
                if ns or isinstance(e, ForbiddenExtraKeysError)
            ]
            for name, f in fields.items():  # defaults too: a cross-field check may refuse them
                if name in failed:
                    continue
                try:
                    if f.validator is not None:
                        f.validator(instance, f, getattr(instance, name))
                except ValueError as error:
                    found.append(error)
            raise ClassValidationError(
                f"While structuring {cl.__name__}", found or list(exc.exceptions), cl
            ) from None

    return hook


def make_converter(
    component: type, params_of: Callable[[str, str], type] | None = None
) -> cattrs.Converter:
    """A converter that refuses extra keys and lossy coercions.

    Subclasses of ``component`` (attrs classes with ``name``, ``params`` and a ``kind``) are
    structured from ``{name: ..., **params}`` with ``params_of(kind, name)`` giving the params
    class; a ``JepaError`` it raises is reported at ``<path>.name``.
    """

    def is_component(t: Any) -> bool:
        return isinstance(t, type) and issubclass(t, component)

    conv = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
    for t, hook in ((int, strict_int), (float, strict_float), (bool, strict_bool)):
        conv.register_structure_hook(t, hook)
    conv.register_structure_hook(str, strict_str)

    def only(kind: type, hook: Any, what: str) -> Any:
        def checked(value: Any, t: Any) -> Any:
            if not isinstance(value, kind):
                raise TypeError(f"expected {what}, got {short(value)}")
            return hook(value, t)

        return checked

    conv.register_structure_hook_factory(
        attrs.has,
        lambda cl: only(dict, every_validator(make_dict_structure_fn(cl, conv)), "a mapping"),
    )
    conv.register_structure_hook_factory(
        lambda t: typing.get_origin(t) is list,
        lambda t: only(list, list_structure_factory(t, conv), "a list"),
    )

    def structure_component(value: Any, cls: Any) -> Any:
        if isinstance(value, str):  # `encoder: cnn` is short for `encoder: {name: cnn}`
            value = {"name": value}
        if not isinstance(value, dict) or "name" not in value:
            raise TypeError(
                f"expected a name from `jepa list {cls.kind}` or a mapping with a 'name' key, "
                f"got {short(value)}"
            )
        try:
            name = strict_str(value["name"], str)
            params_cls = params_of(cls.kind, name) if params_of else None
        except (TypeError, JepaError) as exc:  # reported at `<path>.name`
            exc.__notes__ = [AttributeValidationNote("component name", "name", str)]
            raise ClassValidationError(f"While structuring {cls.__name__}", [exc], cls) from None
        params = {k: v for k, v in value.items() if k != "name"}
        return cls(name=name, params=conv.structure(params, params_cls))

    conv.register_structure_hook_func(is_component, structure_component)
    conv.register_unstructure_hook_func(is_component, lambda c: c.to_dict())
    return conv
