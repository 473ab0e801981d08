"""The import graph: no cycles, and no module imports one from a higher layer.

A module's layer is the package it lives in (:data:`LAYERS`, lowest first), so the folders are
the architecture and no list of modules is kept by hand. Imports inside functions count (they
are dependencies too); those under ``if TYPE_CHECKING:`` do not, nor does the package's
``__getattr__`` (the lazy re-export of the Python API). The built-in plugins are checked too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = "jepa_framework"
ROOT = Path(__file__).resolve().parents[1] / PACKAGE
#: the built-in plugins: no cycle among them, and the core never imports them
BUILTINS = "jepa_builtins"
BUILTINS_ROOT = ROOT.parent / "plugins" / BUILTINS

#: the layer packages of jepa_framework, lowest first: a module may import its own package and
#: the packages before it, never one after it (the folder a module is in is its layer)
LAYERS = (
    "core",  # foundations: errors, component protocols, validators, threads, progress
    "plugin",  # the hook contract, registries, the plugin host, fault attribution
    "config",  # recipes: YAML, typed sections, overrides, problems
    "datasets",  # dataset base classes, the cache, clips, observations, rendering
    "models",  # the JEPA module, frame-wise encoding, collapse diagnostics
    "pipeline",  # assembling a run, training, refit, decoder, checkpoints, artifacts
    "evaluate",  # probes, forecasts, baselines, controls, eval.json and its figures
    "planning",  # planners' contract, latent goal costs, closed-loop episodes, plan.json
    "jobs",  # a recipe end to end, sweeps, launchers
    "commands",  # the jepa command line and the plugin scaffold
)
#: modules outside the layer packages: the public API and entry points, above every layer
TOP_MODULES = {"api", "testing", "__main__"}
#: the package itself (``hookimpl``, the lazy Python API) and the finder of the old flat paths
FACADE = {PACKAGE, "_moved"}
TOP = len(LAYERS)


def module_name(path: Path, root: Path = ROOT, top: str = PACKAGE) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts) if parts else top


def layer(module: str) -> int | None:
    """The layer of a module from the package it is in; ``None`` for one in no layer."""
    package = module.split(".")[0]
    if package in LAYERS:
        return LAYERS.index(package)
    return TOP if module in TOP_MODULES else None


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports(path: Path, modules: set[str], root: Path = ROOT, top: str = PACKAGE) -> set[str]:
    """Modules of ``top`` that ``path`` imports (resolved to modules, relative ones included)."""
    name = module_name(path, root, top)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    return imports_in(path.read_text(encoding="utf-8"), name, package, modules, top)


def imports_in(
    source: str, name: str, package: str, modules: set[str], top: str = PACKAGE
) -> set[str]:
    """Modules of package ``top`` that the source of module ``name`` (in ``package``) imports."""
    found: set[str] = set()

    def resolve(dotted: str) -> str | None:
        if dotted == top:
            return top
        if not dotted.startswith(top + "."):
            return None
        name = dotted[len(top) + 1 :]
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or top

    def visit(node: ast.AST) -> None:
        if name == top and isinstance(node, ast.FunctionDef) and node.name == "__getattr__":
            return  # PEP 562 lazy re-exports of the public API: a facade, not a dependency
        if isinstance(node, ast.If) and _type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = resolve(alias.name)
                if target:
                    found.add(target)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = (top + "." + package if package != top else top).split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:  # `from pkg import submodule` names a module
                target = resolve(f"{base}.{alias.name}") or resolve(base)
                if target:
                    found.add(target)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(source))
    found.discard(name)
    return found


def graph(root: Path = ROOT, top: str = PACKAGE) -> dict[str, set[str]]:
    """Each module of package ``top`` (its files under ``root``) -> the modules it imports."""
    files = sorted(root.rglob("*.py"))
    modules = {module_name(f, root, top) for f in files}
    return {module_name(f, root, top): imports(f, modules, root, top) for f in files}


def test_every_core_module_is_in_a_layer_package():
    unplaced = sorted(m for m in graph() if layer(m) is None and m not in FACADE)
    assert not unplaced, f"move these modules into one of the packages {LAYERS}: {unplaced}"


def test_every_layer_package_exists():
    assert all((ROOT / package / "__init__.py").is_file() for package in LAYERS)


def test_no_module_imports_a_higher_layer():
    upward = [
        f"{m} (layer {layer(m)}) imports {t} (layer {layer(t)})"
        for m, targets in graph().items()
        for t in sorted(targets)
        if m not in FACADE and t not in FACADE and layer(t) > layer(m)
    ]
    assert not upward, "\n".join(upward)


def cycles_of(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every import cycle a depth-first walk of ``edges`` meets."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    cycles: list[list[str]] = []

    def walk(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                walk(nxt, [*path, nxt])
        state[node] = 2

    for start in sorted(edges):
        if start not in state:
            walk(start, [start])
    return cycles


@pytest.mark.parametrize(("root", "top"), [(ROOT, PACKAGE), (BUILTINS_ROOT, BUILTINS)])
def test_the_import_graph_has_no_cycle(root, top):
    cycles = cycles_of(graph(root, top))
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_the_core_never_imports_the_built_in_plugins():
    """Built-ins reach the core through the entry-point group, as a third party's plugin does."""
    modules = {module_name(f, BUILTINS_ROOT, BUILTINS) for f in BUILTINS_ROOT.rglob("*.py")}
    found = set()
    for path in sorted(ROOT.rglob("*.py")):
        name = module_name(path)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        source = path.read_text(encoding="utf-8")
        targets = imports_in(source, name, package, modules, BUILTINS)
        found |= {f"{name} imports {BUILTINS}.{t}" for t in targets}
    assert not found, "\n".join(sorted(found))


def test_each_built_in_network_module_registers_its_own_components():
    """No built-in module registers what another module defines (that was how cycles hid)."""
    for name in ("networks", "keypoints", "koopman", "oscillator"):
        source = (BUILTINS_ROOT / f"{name}.py").read_text(encoding="utf-8")
        tree = ast.parse(source)
        hooks = [
            n
            for n in tree.body
            if isinstance(n, ast.FunctionDef) and n.name.startswith("register_")
        ]
        assert hooks, f"{name}.py registers nothing"
        for hook in hooks:
            nested = [n for n in ast.walk(hook) if isinstance(n, (ast.Import, ast.ImportFrom))]
            assert not nested, f"{name}.{hook.name} imports inside the hook"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from jepa_framework.evaluate import baselines as bl", {"evaluate.baselines"}),
        ("from jepa_framework.core.errors import JepaError", {"core.errors"}),
        ("import jepa_framework.models.jepa", {"models.jepa"}),
        ("from . import metrics", {"evaluate.metrics"}),
        ("if TYPE_CHECKING:\n    from jepa_framework.jobs.runner import x", set()),
        ("def f():\n    from jepa_framework.jobs.runner import x", {"jobs.runner"}),
    ],
)
def test_the_graph_reader_resolves_imports(source, expected):
    modules = {"evaluate", "evaluate.baselines", "evaluate.metrics", "core.errors", "models.jepa"}
    modules |= {"jobs.runner"}
    assert imports_in(source, "evaluate.probes", "evaluate", modules) == expected
