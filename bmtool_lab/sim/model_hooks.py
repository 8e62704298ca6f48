"""Worker side of a model's own bmtk hooks (see :mod:`bmtool_lab.model.python_hooks`): import the
model's ``synapses.py`` / run script once per worker process, call its registering functions
(``load()``), then build synapses and weights with the functions it registered in bmtk's
registry, exactly as BioNet calls them: ``func(dynamics_params, sec_x, section)`` for a synapse,
``func(edge, src_node, trg_node)`` for a weight."""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import SimError
from .mechanism_info import _load_mechanisms

if TYPE_CHECKING:  # the type only
    from .context import WorkerContext

__all__ = ["load_hooks", "registered_synapse_model", "registered_weight_function", "weight_function_job",
           "hook_mechanism_job"]

_LOADED: dict[Path, Any] = {}  # per worker process: a model file is run once


def load_hooks(hooks: tuple[Any, ...]) -> list[str]:
    """Import each safe hook file (once per process) and call its loaders; returns notes for
    files that were not loaded and why."""
    notes = []
    for hook in hooks:
        if hook.unsafe:
            notes.append(f"{hook.path.name} was not loaded: {hook.unsafe}")
            continue
        if hook.path in _LOADED:
            continue
        _LOADED[hook.path] = _import(hook)
    return notes


def _import(hook: Any) -> Any:
    path = Path(hook.path)
    name = "bmtool_lab_model_" + hashlib.sha1(str(path).encode()).hexdigest()[:10] + "_" + path.stem
    folder = str(path.parent)
    added = folder not in sys.path
    if added:
        sys.path.insert(0, folder)  # a synapses.py may import its siblings
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        sys.modules[name] = module
        spec.loader.exec_module(module)  # type: ignore[union-attr]
        for loader in hook.loaders:
            getattr(module, loader)()
    except Exception as err:
        sys.modules.pop(name, None)
        raise SimError("model", f"running the model's {path.name} (as BioNet's run script would) failed: "
                                f"{type(err).__name__}: {err}") from None
    finally:
        if added:
            sys.path.remove(folder)
    return module


def _registry() -> Any:
    from bmtk.simulator.bionet.pyfunction_cache import py_modules

    return py_modules


def registered_synapse_model(hooks: tuple[Any, ...], name: str) -> Any:
    """The function the model registered for synapse model ``name`` (SimError if none did)."""
    load_hooks(hooks)
    reg = _registry()
    if not reg.has_synapse_model(name):
        files = ", ".join(h.path.name for h in hooks) or "no file"
        raise SimError("model", f"the model's {files} did not register synapse model {name!r} with bmtk "
                                "(add_synapse_model): is its registering function called load() and "
                                "free of arguments?")
    return reg.synapse_model(name)


def registered_weight_function(hooks: tuple[Any, ...], name: str) -> Any:
    load_hooks(hooks)
    reg = _registry()
    if not reg.has_synaptic_weight(name):
        raise SimError("model", f"the model's Python files did not register weight function {name!r}")
    return reg.synaptic_weight(name)


def build_with_hook(fnc: Any, label: str, params: dict[str, Any], seg: Any) -> Any:
    """One synapse built by the model's function at ``seg``, as BioNet calls it."""
    failure = ""
    try:
        syn = fnc(dict(params), float(seg.x), seg.sec)
    except Exception as err:
        failure = f"{type(err).__name__}: {err}"
    # raised outside the except block: the traceback would keep the half-built point process
    # (a local of the failed function) alive in the cell
    if failure:
        raise SimError("model", f"{label}: the model's synapse function {getattr(fnc, '__name__', fnc)}() failed: "
                                f"{failure}")
    if isinstance(syn, (list, tuple)):
        syn = syn[0] if syn else None
    if syn is None or not hasattr(syn, "hname"):
        raise SimError("model", f"{label}: the model's synapse function {getattr(fnc, '__name__', fnc)}() returned "
                                f"{syn!r}, not a NEURON point process")
    return syn


def mechanism_of(syn: Any) -> str:
    """The mechanism name of a point process (``Exp2SynSTP[3]`` -> ``Exp2SynSTP``)."""
    return syn.hname().split("[", 1)[0]


def hook_mechanism_job(ctx: WorkerContext, hooks: tuple[Any, ...], name: str, params: dict[str, Any],
                       mechanisms_dirs: tuple[Path | None, ...] = ()) -> str:
    """The NEURON mechanism the model's function for ``name`` builds (on a scratch section)."""
    from .context import neuron_h  # local: child process only (the kernel imports this module)

    h = neuron_h()
    _load_mechanisms(ctx, *mechanisms_dirs)
    fnc = registered_synapse_model(hooks, name)
    sec = h.Section(name="bmtool_lab_scratch")
    sec.insert("pas")
    try:
        syn = build_with_hook(fnc, name, params, sec(0.5))
        return mechanism_of(syn)
    finally:
        syn = None
        h.delete_section(sec=sec)


class _Props(dict):
    """A dict standing for a bmtk edge/node: weight functions index it (``edge['syn_weight']``)
    and some read ``.weight_function`` / ``.node_id`` as attributes."""

    def __getattr__(self, item: str) -> Any:
        try:
            return self[item]
        except KeyError:
            raise AttributeError(item) from None


def weight_function_job(ctx: WorkerContext, hooks: tuple[Any, ...], name: str, edge: dict, src_node: dict,
                        trg_node: dict) -> float:
    """NetCon weight (µS) the model's weight function gives one edge, as BioNet calls it."""
    fnc = registered_weight_function(hooks, name)
    try:
        w = fnc(_Props(edge), _Props(src_node), _Props(trg_node))
    except Exception as err:
        raise SimError("model", f"the model's weight function {name!r} failed on one edge: "
                                f"{type(err).__name__}: {err}") from None
    try:
        return float(w)
    except (TypeError, ValueError):
        raise SimError("model", f"the model's weight function {name!r} returned {w!r}, not a number") from None
