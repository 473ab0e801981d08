"""`jepa plugins new NAME`: write a ready third-party plugin package from a template.

The template (``jepa_framework/plugin_template``) is a package with an entry point, a dataset and
a regularizer with attrs params classes, a recipe shipped as package data and pytest tests that
use :mod:`jepa_framework.testing`. Paths holding ``PKG`` are renamed to NAME and ``$name``-style
placeholders filled in (``string.Template``), so the template stays readable.
"""

from __future__ import annotations

import importlib.util
import keyword
import re
import shlex
import string
import sys
from pathlib import Path

from jepa_framework import __version__
from jepa_framework.core.errors import JepaError

#: the package template, beside the layer packages (jepa_framework/plugin_template/)
TEMPLATE = Path(__file__).resolve().parents[1] / "plugin_template"
SUFFIX = ".tmpl"
NAME_RE = re.compile(r"[a-z][a-z0-9_]*")


def suggest_name(name: str) -> str:
    """A valid name close to ``name``: ``My-Plugin`` -> ``my_plugin``."""
    text = re.sub(r"[^a-z0-9_]+", "_", name.lower()).strip("_")
    text = re.sub(r"^[0-9_]+", "", text)
    return text if text and not keyword.iskeyword(text) else "my_plugin"


def check_name(name: str, target: Path) -> None:
    """Refuse a name that cannot be a package, shadows an importable module, or a used folder."""
    if not NAME_RE.fullmatch(name) or keyword.iskeyword(name):
        raise JepaError(
            f"plugin name '{name}' is not a lowercase Python identifier (letters, digits and "
            f"underscores, starting with a letter, not a keyword): it is the package's import "
            f"name. Try `jepa plugins new {suggest_name(name)}`."
        )
    if importlib.util.find_spec(name) is not None:
        raise JepaError(
            f"plugin name '{name}': a module of that name is already importable in this "
            f"environment, and the new package would clash with it. Pick another name, e.g. "
            f"`jepa plugins new jepa_{name}`."
        )
    _check_unused(name)
    if target.exists():
        raise JepaError(
            f"{target} already exists; `jepa plugins new` never overwrites. Pick another name "
            f"or another folder with --dir."
        )


def _check_unused(name: str) -> None:
    """The components the package registers must not clash with installed plugins' names."""
    from jepa_framework.plugin.host import host

    h = host()
    taken = [
        f"{kind[:-1]} '{component}'"
        for kind, component in (
            ("datasets", name),
            ("regularizers", f"{name}_variance"),
        )
        if component in h.registry(kind)
    ]
    taken += [f"recipe '{name}'"] if name in h.recipes else []
    taken += [f"plugin '{name}'"] if name in h.info else []
    if taken:
        raise JepaError(
            f"plugin name '{name}': the new package would register {', '.join(taken)}, which an "
            f"installed plugin already provides (`jepa list` shows them); the names would clash. "
            f"Pick another name, e.g. `jepa plugins new my_{name}`."
        )


def checkout() -> Path | None:
    """The source checkout this jepa-framework runs from (``None`` when installed from a wheel)."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "pyproject.toml").exists() else None


def commands(target: Path) -> dict[str, str]:
    """The exact shell commands to install, list, run and test the package in ``target``, with
    this checkout's real path and this environment's interpreter, so they work from any folder
    and without an activated environment: ``install``, ``check``, ``run``, ``test``."""
    name = target.name
    folder = shlex.quote(str(target.resolve()))
    python = shlex.quote(sys.executable)
    root = checkout()
    if root is not None:
        project = shlex.quote(str(root))
        jepa = f"uv run --project {project} jepa"
        test = f"uv run --project {project} pytest {folder}"
    else:
        jepa = f"{python} -m jepa_framework"
        test = f"{python} -m pytest {folder}"  # needs pytest in this environment
    return {
        "install": f"uv pip install -e {folder} --python {python}",
        "check": f"{jepa} plugins",
        "run": f"{jepa} run {name}",
        "test": test,
    }


def _uv_sources() -> str:
    """A commented pointer to this framework's checkout (jepa-framework is not on PyPI)."""
    root = checkout()
    if root is None:
        return ""
    return (
        "\n# jepa-framework is not on PyPI: install this package into an environment that has it\n"
        "# (`uv pip install -e .` there), or let uv take it from a checkout by uncommenting:\n"
        "# [tool.uv.sources]\n"
        f'# jepa-framework = {{ path = "{root}", editable = true }}\n'
    )


def new_plugin(name: str, directory: Path) -> Path:
    """Write the package NAME under ``directory``; returns its folder."""
    target = directory / name
    check_name(name, target)
    values = {
        "name": name,
        "dist": name.replace("_", "-"),
        "Title": "".join(part.capitalize() for part in name.split("_")),
        "framework_version": __version__,
        "uv_sources": _uv_sources(),
        **{f"{key}_command": line for key, line in commands(target).items()},
    }
    files = sorted(p for p in TEMPLATE.rglob(f"*{SUFFIX}") if p.is_file())
    if not files:  # a broken install: never report a package that was not written
        raise RuntimeError(f"the plugin template is missing: no *{SUFFIX} files in {TEMPLATE}")
    rendered = {}
    for path in files:  # render everything first: a template error leaves nothing behind
        relative = path.relative_to(TEMPLATE).as_posix().replace("PKG", name)[: -len(SUFFIX)]
        rendered[relative] = string.Template(path.read_text()).substitute(values)
    for relative, text in rendered.items():
        out = target / relative
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
    return target
