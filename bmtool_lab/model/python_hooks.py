"""A model's own Python hooks: the synapse models and weight functions it registers with bmtk.

bmtk's documented pattern for custom synapses is a ``synapses.py`` (or the run script itself)
that calls ``add_synapse_model(func, name)`` / ``add_weight_function(func, name)`` (or uses the
``@synapse_model`` / ``@synaptic_weight`` decorators), usually inside a ``load()`` that the run
script calls before building the network. BioNet then builds each synapse with that function,
and each NetCon weight with that weight function. To build them the same way, the worker has to
run the model's file, so this module reads the files first, by their syntax only (nothing is
imported here): which names each registers, with which function, which zero-argument functions
do the registering, and whether importing the file is safe: a file whose top level does more
than import, define and assign (a run script without a ``__main__`` guard would run the whole
network) is not loaded, and the tuner says so.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["HookFile", "find_model_hooks", "model_hook_folders", "synapse_hook", "weight_hook"]

_SYNAPSE_CALLS = {"add_synapse_model"}
_WEIGHT_CALLS = {"add_weight_function", "add_synaptic_weight"}
_SYNAPSE_DECORATORS = {"synapse_model"}
_WEIGHT_DECORATORS = {"synaptic_weight"}
# calls a module may make at import without running a simulation
_IMPORT_TIME_CALLS = _SYNAPSE_CALLS | _WEIGHT_CALLS | {"load_file", "load_mechanisms", "nrn_load_dll", "seed",
                                                       "filterwarnings", "simplefilter", "getLogger"}
# calls a module-level assignment may make (constants, paths, generators), not a network build
_SAFE_VALUE_CALLS = {"set", "frozenset", "dict", "list", "tuple", "float", "int", "str", "bool", "Path", "join",
                     "dirname", "abspath", "realpath", "resolve", "expanduser", "getenv", "get", "default_rng",
                     "RandomState", "getLogger", "compile", "namedtuple", "TypeVar", "field", "array", "arange",
                     "linspace", "zeros", "ones", "parent"}
# hoc functions that are not synapse mechanisms (a registered function may call them first)
_H_NOT_MECHANISMS = {"Vector", "NetCon", "NetStim", "Random", "List", "load_file", "distance", "SectionRef",
                     "SectionList", "Section", "IClamp", "SEClamp", "VecStim", "execute", "ref", "cas", "pop_section",
                     "push_section", "Matrix", "File", "PlotShape", "Shape", "MechanismType"}


@dataclass(frozen=True)
class HookFile:
    """One of the model's Python files that registers bmtk hooks.

    ``synapse_models`` / ``weight_functions``: (registered name, function name) pairs;
    ``mechanisms``: (function name, the NEURON mechanism it builds, guessed from its first
    ``h.Name(...)`` call, or "" when none is seen); ``loaders``: zero-argument functions that
    register (called after import); ``unsafe``: why the file is not imported ("" if it is).
    """

    path: Path
    synapse_models: tuple[tuple[str, str], ...] = ()
    weight_functions: tuple[tuple[str, str], ...] = ()
    mechanisms: tuple[tuple[str, str], ...] = ()
    loaders: tuple[str, ...] = ()
    unsafe: str = ""

    def function_for(self, name: str, kind: str = "synapse") -> str | None:
        pairs = self.synapse_models if kind == "synapse" else self.weight_functions
        return next((f for n, f in pairs if n == name), None)

    def mechanism_of(self, function: str) -> str:
        return next((m for f, m in self.mechanisms if f == function), "")


def model_hook_folders(cfg: Any) -> tuple[Path, ...]:
    """Where a model keeps its hook files: the config's folder and the one above it."""
    folder = Path(cfg.path).resolve().parent
    return (folder, folder.parent)


def find_model_hooks(folders: list[Path] | tuple[Path, ...]) -> tuple[HookFile, ...]:
    """Every ``*.py`` in ``folders`` (the config's folder and the one above it, where bmtk's
    examples keep ``synapses.py`` and the run script) that registers a synapse model or a weight
    function, read by syntax only."""
    out: list[HookFile] = []
    seen: set[Path] = set()
    for folder in folders:
        for py in sorted(Path(folder).glob("*.py")):
            py = py.resolve()
            if py in seen:
                continue
            seen.add(py)
            hook = read_hook_file(py)
            if hook is not None:
                out.append(hook)
    return tuple(out)


def read_hook_file(path: Path) -> HookFile | None:
    """The hooks ``path`` registers (None: it registers none or cannot be parsed)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return None
    if not any(word in text for word in (*_SYNAPSE_CALLS, *_WEIGHT_CALLS, *_SYNAPSE_DECORATORS, *_WEIGHT_DECORATORS)):
        return None
    try:
        tree = ast.parse(text, filename=str(path))
    except SyntaxError:
        return None
    functions = {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    synapses: list[tuple[str, str]] = []
    weights: list[tuple[str, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            reg = _registration(node)
            if reg is not None:
                (synapses if reg[0] == "synapse" else weights).append(reg[1:])
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for dec in node.decorator_list:
                reg = _decorator(dec, node.name)
                if reg is not None:
                    (synapses if reg[0] == "synapse" else weights).append(reg[1:])
    if not synapses and not weights:
        return None
    loaders = tuple(name for name, fn in functions.items() if _registers(fn) and not _required_args(fn))
    mechanisms = tuple((fn, _mechanism_built(functions[fn])) for _, fn in synapses if fn in functions)
    return HookFile(path=path, synapse_models=tuple(dict.fromkeys(synapses)),
                    weight_functions=tuple(dict.fromkeys(weights)), mechanisms=tuple(dict.fromkeys(mechanisms)),
                    loaders=loaders, unsafe=_unsafe(tree, set(loaders)))


def synapse_hook(hooks: tuple[HookFile, ...], name: str | None) -> tuple[HookFile, str] | None:
    """(file, function) that registers synapse model ``name``, the last such file winning as in
    bmtk's registry (None: no model file registers it)."""
    return _hook(hooks, name, "synapse")


def weight_hook(hooks: tuple[HookFile, ...], name: str | None) -> tuple[HookFile, str] | None:
    """(file, function) that registers weight function ``name`` (None: none does)."""
    return _hook(hooks, name, "weight")


def _hook(hooks: tuple[HookFile, ...], name: str | None, kind: str) -> tuple[HookFile, str] | None:
    found = None
    for hook in hooks:
        fn = hook.function_for(name, kind) if name else None
        if fn is not None:
            found = (hook, fn)
    return found


def _call_name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def _registration(call: ast.Call) -> tuple[str, str, str] | None:
    """("synapse" | "weight", registered name, function name) of an add_* call."""
    name = _call_name(call.func)
    if name not in _SYNAPSE_CALLS and name not in _WEIGHT_CALLS:
        return None
    kind = "synapse" if name in _SYNAPSE_CALLS else "weight"
    args = list(call.args)
    kw = {k.arg: k.value for k in call.keywords if k.arg}
    # bmtk's module function: add_synapse_model(func, name=None); its registry's method:
    # py_modules.add_synapse_model(name, func)
    if args and isinstance(args[0], ast.Constant) and isinstance(args[0].value, str):
        args = args[1:2] + args[0:1]
    func = args[0] if args else kw.get("func")
    reg = args[1] if len(args) > 1 else kw.get("name")
    if not isinstance(func, ast.Name):
        return None
    reg_name = reg.value if isinstance(reg, ast.Constant) and isinstance(reg.value, str) else func.id
    return kind, reg_name, func.id


def _decorator(dec: ast.expr, func_name: str) -> tuple[str, str, str] | None:
    target = dec.func if isinstance(dec, ast.Call) else dec
    name = _call_name(target)
    if name not in _SYNAPSE_DECORATORS and name not in _WEIGHT_DECORATORS:
        return None
    kind = "synapse" if name in _SYNAPSE_DECORATORS else "weight"
    reg = func_name
    if isinstance(dec, ast.Call):
        for k in dec.keywords:
            if k.arg == "name" and isinstance(k.value, ast.Constant):
                reg = str(k.value.value)
        if dec.args and isinstance(dec.args[0], ast.Constant):
            reg = str(dec.args[0].value)
    return kind, reg, func_name


def _registers(fn: ast.AST) -> bool:
    return any(isinstance(n, ast.Call) and _registration(n) is not None for n in ast.walk(fn))


def _required_args(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    a = fn.args
    return len(a.posonlyargs) + len(a.args) - len(a.defaults) + sum(d is None for d in a.kw_defaults)


def _mechanism_built(fn: ast.AST) -> str:
    for node in ast.walk(fn):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "h" \
                and node.func.attr not in _H_NOT_MECHANISMS:
            return node.func.attr
    return ""


def _unsafe(tree: ast.Module, loaders: set[str]) -> str:
    """Why importing the module would do more than define things ("" when it would not)."""
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
                             ast.Pass)):
            continue
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            calls = [_call_name(n.func) for n in ast.walk(node) if isinstance(n, ast.Call)]
            if all(c in _SAFE_VALUE_CALLS for c in calls):
                continue
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # a docstring
        if isinstance(node, ast.If) and _is_main_guard(node.test):
            continue
        if isinstance(node, ast.Try) and all(isinstance(n, (ast.Import, ast.ImportFrom, ast.Pass, ast.Assign))
                                             for part in (node.body, *[hd.body for hd in node.handlers])
                                             for n in part):
            continue
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            name = _call_name(node.value.func)
            if name in _IMPORT_TIME_CALLS or name in loaders and not node.value.args:
                continue
        return f"line {node.lineno} runs code at import (not only imports and definitions)"
    return ""


def _is_main_guard(test: ast.expr) -> bool:
    return isinstance(test, ast.Compare) and isinstance(test.left, ast.Name) and test.left.id == "__name__"
