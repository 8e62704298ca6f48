"""Our own modules are imported at module level unless something forces a local import (issue #16).

A function-local ``import`` / ``from ... import`` of a ``bmtool_lab`` module says why it is local in a
``# local: <reason>`` comment on its line, or on a comment line directly above it or above the run
of local imports it belongs to. Reasons: an import circle, the import-time cost of a heavy or optional
library (``heavy: pandas``, ``import-time cost: ...``), or code that runs only in a worker process
(``child process only``). An import with no such reason belongs at the top of its module.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from test_layers import PACKAGE, _modules, _owner

REASON = re.compile(r"#\s*local:\s*\S")


def _package_of(module: str, path: Path) -> list[str]:
    return module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]


def _ours(node: ast.Import | ast.ImportFrom, package: list[str], mods: dict[str, Path]) -> bool:
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        if node.level:
            base = package[: len(package) - (node.level - 1)]
            module = ".".join(base + ([node.module] if node.module else []))
        else:
            module = node.module or ""
        names = [module]
    return any(name.startswith("bmtool_lab") and _owner(name, mods) is not None for name in names)


def local_imports() -> list[tuple[str, int, bool]]:
    """(file, line, justified) of every function-local import of one of our modules."""
    mods = _modules()
    found = []
    for mod, path in sorted(mods.items()):
        lines = path.read_text().splitlines()
        tree = ast.parse("\n".join(lines), str(path))
        package = _package_of(mod, path)
        functions = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
        seen: set[int] = set()
        for fn in functions:
            for node in ast.walk(fn):
                if not isinstance(node, (ast.Import, ast.ImportFrom)) or node.lineno in seen:
                    continue
                seen.add(node.lineno)
                if _ours(node, package, mods):
                    found.append((str(path.relative_to(PACKAGE.parent)), node.lineno,
                                  _justified(lines, node.lineno, node.end_lineno or node.lineno)))
    return found


def _justified(lines: list[str], first: int, last: int) -> bool:
    if any(REASON.search(lines[i - 1]) for i in range(first, last + 1)):
        return True
    i = first - 1  # walk up through comment lines and the run of imports this one belongs to
    while i >= 1:
        text = lines[i - 1].strip()
        if REASON.search(text):
            return True
        if not (text.startswith("#") or text.startswith(("from ", "import ")) or text.endswith((",", "(", ")"))):
            return False
        i -= 1
    return False


def test_the_scan_sees_local_imports():
    found = {(file, line) for file, line, _ in local_imports()}
    assert any(file == "bmtool_lab/sim/context.py" for file, _ in found)
    assert all(file.startswith("bmtool_lab/") for file, _ in found)


def test_every_local_import_of_ours_says_why():
    bare = [f"{file}:{line}" for file, line, ok in local_imports() if not ok]
    assert not bare, ("function-local imports of bmtool_lab modules without a '# local: <reason>' comment "
                      "(a circle, heavy: <library>, or child process only); hoist them to the module's top "
                      "if nothing forces them local:\n" + "\n".join(bare))


def test_a_reason_covers_its_line_or_its_group():
    lines = ["def f():", "    # local: heavy: pandas", "    from .a import x", "    from .b import y",
             "", "    from .c import z", "    from .d import w  # local: circle"]
    assert _justified(lines, 3, 3) and _justified(lines, 4, 4) and _justified(lines, 7, 7)
    assert not _justified(lines, 6, 6)
