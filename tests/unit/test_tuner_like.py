"""The synapse dashboards are written against TunerLike (bmtool_lab.tuning.tuner_like): they use
no member of a tuner it does not list, and both synapse tuners have every member it lists."""

from __future__ import annotations

import ast
import inspect
import textwrap
from pathlib import Path

import pytest

from bmtool_lab.tuning.tuner_like import TUNER_MEMBERS, TunerLike

pytestmark = pytest.mark.unit

PACKAGE = Path(__file__).resolve().parents[2] / "bmtool_lab"


def _tuner_members_used(path: Path) -> set[str]:
    """Members read or called on ``self.tuner``, a ``tuner`` argument or a local bound to them
    (``t = self.tuner``), getattr/hasattr with a literal name included."""
    used: set[str] = set()
    for fn in ast.walk(ast.parse(path.read_text())):
        if not isinstance(fn, ast.FunctionDef):
            continue
        names = {a.arg for a in fn.args.args if a.arg == "tuner"}

        def is_tuner(node: ast.AST, names: set[str] = names) -> bool:
            return (isinstance(node, ast.Attribute) and node.attr == "tuner" and isinstance(node.value, ast.Name)
                    and node.value.id == "self") or (isinstance(node, ast.Name) and node.id in names)

        for node in ast.walk(fn):
            if isinstance(node, ast.Assign) and is_tuner(node.value):
                names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        for node in ast.walk(fn):
            if isinstance(node, ast.Attribute) and is_tuner(node.value):
                used.add(node.attr)
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                  and node.func.id in ("getattr", "hasattr") and len(node.args) >= 2 and is_tuner(node.args[0])
                  and isinstance(node.args[1], ast.Constant)):
                used.add(node.args[1].value)
    return used


@pytest.mark.parametrize("module", ["widgets/synapse.py", "widgets/optimizer.py"])
def test_dashboards_use_only_what_tunerlike_lists(module: str) -> None:
    used = _tuner_members_used(PACKAGE / module)
    assert used, "the scan found no use of the tuner"
    assert used <= set(TUNER_MEMBERS), f"{module} uses {sorted(used - set(TUNER_MEMBERS))} not in TunerLike"


def _instance_attributes(cls: type) -> set[str]:
    """Names every method of ``cls`` and its bases of ours assigns on ``self``."""
    names: set[str] = set()
    for klass in cls.__mro__:
        if not klass.__module__.startswith("bmtool_lab."):
            continue
        tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        for node in ast.walk(tree):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] \
                if isinstance(node, ast.AnnAssign) else []
            for t in targets:
                if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == "self":
                    names.add(t.attr)
    return names


@pytest.mark.parametrize("which", ["synapse.SynapseTuner", "pointnet_synapse.PointSynapseTuner"])
def test_synapse_tuners_have_every_member(which: str) -> None:
    import importlib

    module, name = which.split(".")
    cls = getattr(importlib.import_module(f"bmtool_lab.tuning.{module}"), name)
    have = {m for m in TUNER_MEMBERS if hasattr(cls, m)} | _instance_attributes(cls)
    assert set(TUNER_MEMBERS) <= have, f"{name} lacks {sorted(set(TUNER_MEMBERS) - have)}"
    assert {"submit", "set_protocol", "protocol", "add_listener"} <= set(TUNER_MEMBERS)
    assert TunerLike.__module__ == "bmtool_lab.tuning.tuner_like"
