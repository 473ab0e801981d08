"""Every code snippet in docs/ (and README's shell and YAML blocks) is run or checked.

The convention, per fenced block language:

``python``
    Executed as written, at tiny sizes (``tests/snippets.run_python``, as for README: the tiny
    overrides are put in front of ``jepa_framework.train``'s, runs go to a temporary folder, and
    ``results/<name>_<timestamp>`` means the run the snippet trained above it). A block that is
    a file of the scaffolded ``vanderpol`` plugin (docs/plugins.md) runs with the package
    ``jepa plugins new vanderpol`` writes importable, so its imports are the scaffold's real
    ones. Blocks are written complete where that is feasible (their imports included).

    A *fragment* is a block with ``...`` standing for left-out code (an ``Ellipsis`` statement):
    it is parsed with ``ast.parse`` and its import statements are executed, so every name it
    imports exists; the rest is not run. A block that is a copy of README's snippet is run by
    ``tests/test_readme_snippets.py`` (here only checked to be that copy).

``yaml``
    A block with a top-level ``name`` is a whole recipe and goes through the real recipe loader
    (``jepa show FILE`` exits 0). Any other block is a recipe fragment: parsed with the
    project's safe YAML loader, and its top-level keys must be recipe sections.

``bash`` and ``console`` (and untagged blocks of ``$ `` lines)
    Every ``jepa ...`` / ``uv run jepa ...`` / ``python -m jepa_framework ...`` command line
    parses with the real argparse parser. The cheap ones run: ``jepa list``, ``jepa plugins``
    (not ``plugins new``) and ``jepa show`` exit 0, unless the console block shows a
    ``jepa: error:`` under the command, which must then exit 2 with each problem line's key
    (``- key.path:``) in its message. A ``jepa run`` of an installed recipe (not a resume) runs
    as ``jepa show`` with the same arguments: the same recipe, overrides and validation, without
    training; one of a recipe that is not installed here (a plugin the page has the reader
    write) only parses. Other commands (uv, pip, pytest, torchrun's launcher) are left to the
    reader.

``toml``
    Parsed; a plugin's ``project.entry-points`` group is the one the framework reads.

Untagged blocks without ``$ `` lines (diagrams, folder trees, error messages) are text.
"""

from __future__ import annotations

import ast
import contextlib
import io
import re
import sys
from pathlib import Path

import attrs
import pytest

from jepa_framework.commands import cli
from jepa_framework.config import safe_yaml
from jepa_framework.config.recipe import Recipe
from jepa_framework.plugin import host as plugins
from jepa_framework.plugin.host import ENTRY_POINT_GROUP
from tests.docs.snippets import (
    README,
    Block,
    blocks,
    doc_pages,
    python_snippets,
    run_python,
    shell_commands,
)

PAGES = doc_pages()
PYTHON = [b for p in PAGES for b in blocks(p, "python")]
YAML = [b for p in PAGES for b in blocks(p, "yaml")]
TOML = [b for p in PAGES for b in blocks(p, "toml")]
SHELL = [
    b
    for p in [README, *PAGES]
    for b in blocks(p)
    if b.lang in ("bash", "console") or (b.lang == "" and re.search(r"^\$ ", b.body, re.M))
]
README_SNIPPETS = python_snippets(README.read_text(encoding="utf-8"))
CHEAP = ("list", "plugins", "show")


def ids(found: list[Block]) -> list[str]:
    return [b.id for b in found]


def is_fragment(tree: ast.Module) -> bool:
    return any(
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and node.value.value is Ellipsis
        for node in ast.walk(tree)
    )


def test_the_docs_have_snippets_of_every_kind():
    assert PYTHON and YAML and SHELL and TOML


@pytest.fixture(scope="module")
def scaffold(tmp_path_factory) -> Path:
    """The package ``jepa plugins new vanderpol`` writes (the plugin docs/plugins.md shows)."""
    root = tmp_path_factory.mktemp("scaffold")
    with contextlib.redirect_stdout(io.StringIO()):
        assert cli.main(["plugins", "new", "vanderpol", "--dir", str(root)]) == 0
    return root / "vanderpol"


@pytest.mark.parametrize("block", PYTHON, ids=ids(PYTHON))
def test_a_python_snippet_runs(block, scaffold, tmp_path, monkeypatch):
    if block.body in README_SNIPPETS:
        return  # tests/test_readme_snippets.py runs it
    tree = ast.parse(block.body, filename=block.id)
    monkeypatch.syspath_prepend(str(scaffold))
    try:
        if is_fragment(tree):
            imports = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
            exec(compile(ast.Module(imports, type_ignores=[]), block.id, "exec"), {})
        else:
            run_python(block.body, block.id, tmp_path, monkeypatch)
    finally:
        for name in [m for m in sys.modules if m == "vanderpol" or m.startswith("vanderpol.")]:
            del sys.modules[name]


@pytest.mark.parametrize("block", YAML, ids=ids(YAML))
def test_a_yaml_snippet_loads(block, tmp_path, capsys):
    data = safe_yaml.loads(block.body)
    assert isinstance(data, dict), f"{block.id} is not a mapping"
    if "name" in data:  # a whole recipe: the real loader, every key validated
        path = tmp_path / f"{data['name']}.yaml"
        path.write_text(block.body, encoding="utf-8")
        assert cli.main(["show", str(path)]) == 0, capsys.readouterr().err
    else:
        sections = set(attrs.fields_dict(Recipe))
        assert set(data) <= sections, f"{block.id}: not recipe sections: {set(data) - sections}"


@pytest.mark.parametrize("block", TOML, ids=ids(TOML))
def test_a_toml_snippet_parses(block):
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    data = tomllib.loads(block.body)
    groups = data.get("project", {}).get("entry-points", {})
    assert set(groups) <= {ENTRY_POINT_GROUP}, f"{block.id}: entry-point groups {set(groups)}"


def checkable_run(parsed) -> bool:
    """A ``jepa run`` of an installed recipe (not a resume): ``jepa show`` checks its arguments."""
    recipes = plugins.host().recipes
    items = parsed.items
    return not parsed.resume and (not items or items[0] in recipes or Path(items[0]).is_file())


def jepa_commands(block: Block) -> list:
    console = block.lang != "bash"
    return [c for c in shell_commands(block.body, console) if c.jepa_args() is not None]


def test_the_shell_blocks_have_jepa_commands():
    assert sum(len(jepa_commands(b)) for b in SHELL) >= 20


@pytest.mark.parametrize("block", SHELL, ids=ids(SHELL))
def test_a_shell_snippets_jepa_commands_parse_and_the_cheap_ones_run(block, capsys):
    for command in jepa_commands(block):
        args = command.jepa_args()
        shown = " ".join(command.tokens)
        try:
            parsed = cli.build_parser().parse_args(args)
        except SystemExit as exc:
            raise AssertionError(f"{block.id}: `{shown}` does not parse") from exc
        capsys.readouterr()
        error = [line for line in command.output if line.startswith("jepa: error:")]
        if args[0] == "run" and (error or checkable_run(parsed)):
            args = ["show", *args[1:]]
        if args[0] not in CHEAP or args[1:2] == ["new"]:
            continue
        code = cli.main(args)
        out, err = capsys.readouterr()
        if not error:
            assert code == 0, f"{block.id}: `{shown}` exited {code}:\n{err}"
            continue
        assert code == 2, f"{block.id}: `{shown}` should fail as shown, exited {code}"
        for line in command.output:
            problem = re.match(r"\s*- ([\w.]+):", line)
            if problem:
                assert f"- {problem[1]}:" in err, f"{block.id}: `{shown}` reports no {problem[1]}"
