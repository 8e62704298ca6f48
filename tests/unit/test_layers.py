"""The package's layers run one way (docs/design.md, "Layers").

analysis ← model ← sim ← tuning ← widgets ← the top-level modules (lab, cli, session, demo, ...):
a module imports only from its own layer or the ones below it, and no set of modules imports
itself in a circle. Every import counts, those inside functions and ``TYPE_CHECKING`` blocks
too: a local import hides a dependency from the reader but not from the layering.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "bmtool_lab"

#: sub-package -> layer (higher imports lower); top-level modules and other sub-packages are the top
LAYERS = {"analysis": 0, "model": 1, "sim": 2, "tuning": 3, "widgets": 4}
TOP = 5
#: leaves anyone may import (no imports of ours)
ANYWHERE = {"bmtool_lab._version"}
MAX_LINES = 700
#: modules still over MAX_LINES, waiting for their split by job (issue #16): remove each when done
NOT_YET_SPLIT: set[str] = set()


def _modules() -> dict[str, Path]:
    mods = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = path
    return mods


def _owner(name: str, mods: dict[str, Path]) -> str | None:
    while name not in mods:
        if "." not in name:
            return None
        name = name.rsplit(".", 1)[0]
    return name


def import_graph() -> dict[str, dict[str, int]]:
    """module -> {imported module of ours: first line}, every import in the file."""
    mods = _modules()
    graph: dict[str, dict[str, int]] = defaultdict(dict)
    for mod, path in mods.items():
        package = mod.split(".") if path.name == "__init__.py" else mod.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package[: len(package) - (node.level - 1)]
                    module = ".".join(base + ([node.module] if node.module else []))
                else:
                    module = node.module or ""
                # `from pkg import submodule` imports the submodule
                targets = [f"{module}.{alias.name}" if f"{module}.{alias.name}" in mods else module
                           for alias in node.names]
            for target in targets:
                owner = _owner(target, mods) if target.startswith("bmtool_lab") else None
                if owner is not None and owner != mod:
                    graph[mod].setdefault(owner, node.lineno)
    return graph


def layer(module: str) -> int:
    parts = module.split(".")
    return LAYERS.get(parts[1], TOP) if len(parts) > 1 else TOP


def _cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    nodes = set(graph) | {t for deps in graph.values() for t in deps}
    for root in sorted(nodes):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, {}))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, {})))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_import_graph_sees_local_and_relative_imports():
    graph = import_graph()
    # a relative import at module level and a function-local one
    assert "bmtool_lab.widgets.registry" in graph["bmtool_lab"]
    assert "bmtool_lab.sim.worker" in graph["bmtool_lab.demo"]
    assert "bmtool_lab._version" in graph["bmtool_lab"]


def test_no_import_runs_from_a_lower_layer_to_a_higher_one():
    upward = [f"{mod} imports {dep} (line {line})"
              for mod, deps in sorted(import_graph().items())
              for dep, line in sorted(deps.items())
              if dep not in ANYWHERE and layer(dep) > layer(mod)]
    assert not upward, "imports up the layers:\n" + "\n".join(upward)


def test_no_import_circles():
    graph = import_graph()
    circles = []
    for component in _cycles(graph):
        members = set(component)
        edges = [f"  {mod} -> {dep} (line {line})" for mod in component
                 for dep, line in sorted(graph.get(mod, {}).items()) if dep in members]
        circles.append(" / ".join(component) + "\n" + "\n".join(edges))
    assert not circles, "import circles:\n" + "\n\n".join(circles)


def test_no_module_is_over_700_lines():
    long = {str(path.relative_to(PACKAGE.parent)): n for path in _modules().values()
            if (n := len(path.read_text().splitlines())) > MAX_LINES}
    new = {k: v for k, v in long.items() if k not in NOT_YET_SPLIT}
    assert not new, f"modules over {MAX_LINES} lines (split them by job): {new}"
    done = NOT_YET_SPLIT - set(long)
    assert not done, f"split already: remove {sorted(done)} from NOT_YET_SPLIT"
