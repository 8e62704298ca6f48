"""Sessions and provenance: save a dashboard's state, re-open it, and say where a number came from.

```python
from bmtool_lab.session import export_session, open_session, to_python, provenance

state = export_session(tuner, "exc2pv.session.json")  # dict; also written to the file
print(to_python(tuner))                               # a snippet that recreates the tuner
tuner2 = open_session("exc2pv.session.json")          # same model, selection, protocol, parameters, pin
provenance(tuner.config, dynamics=[tuner.current.dynamics_path], parameters=tuner.params)
```

A session is plain JSON (``"format": "bmtool_lab.session"``) holding what a user chose, never
results that can be recomputed: the model (config path), the selection, the protocol, the
parameters and, for a synapse tuner, the parameters and protocol of the pinned run (re-run on
opening, so the pin is a real result again). Every session carries a :func:`provenance` block
with the versions, the platform, and the SHA-256 of the config and the dynamics JSON files, so
a re-opened session can warn when the files changed since it was exported.

Controllers are read and rebuilt through their public API only (see each ``_export_*``).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import importlib.metadata
import json
import math
import os
import platform
import re
import sys
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .._version import __version__
from ..model.config import load_config
from .kinds import KINDS as DASHBOARD_KINDS
from .kinds import kind_of, public_name

__all__ = ["SESSION_FORMAT", "SESSION_VERSION", "SessionError", "export_session", "load_session", "open_session",
           "provenance", "save_json", "sha256_file", "to_python", "jsonable", "code_for"]

SESSION_FORMAT = "bmtool_lab.session"
SESSION_VERSION = 1
KINDS = ("synapse_tuner", "cell_profiler", "connectivity_explorer")


class SessionError(ValueError):
    """A session that cannot be exported or re-opened, with a message that says why."""


# --- provenance -------------------------------------------------------------------------------
def sha256_file(path: str | os.PathLike) -> str | None:
    """Hex SHA-256 of a file's bytes (None when it cannot be read)."""
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    except OSError:
        return None
    return h.hexdigest()


def _dist_version(*names: str) -> str | None:
    for name in names:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def _neuron_version() -> str | None:
    # From the installed distribution, not `import neuron`: NEURON stays out of the kernel.
    found = _dist_version("neuron", "NEURON", "neuron-nightly", "neuron-gpu", "neuron-gpu-nightly")
    if found is None and "neuron" in sys.modules:
        found = getattr(sys.modules["neuron"], "__version__", None)
    return found


def _config_files(config: Any) -> dict[str, str | None]:
    """{path: sha256} of a config file and the circuit config it points to (``"network"``)."""
    if config is None:
        return {}
    path = Path(getattr(config, "path", config)).expanduser().resolve()
    out = {str(path): sha256_file(path)}
    raw = getattr(config, "raw", None)
    if raw is None:  # a path: bmtk resolves the manifest variables (never substituted by hand)
        try:
            raw = load_config(path).raw
        except ValueError:
            raw = {}
    circuit = raw.get("network") if isinstance(raw, dict) else None
    if isinstance(circuit, str) and "$" not in circuit:  # unresolved manifest variables: not a path
        cpath = Path(circuit) if Path(circuit).is_absolute() else path.parent / circuit
        if cpath.is_file():
            out[str(cpath.resolve())] = sha256_file(cpath)
    return out


def provenance(config: Any = None, *, dynamics: Iterable[str | os.PathLike | None] = (),
               parameters: Mapping[str, Any] | None = None, seed: int | None = None,
               **extra: Any) -> dict[str, Any]:
    """Where a result came from: versions, platform, input files and their hashes, parameters.

    ``config``: a ModelConfig or a config path (its SHA-256 and that of the circuit config it
    points to are recorded); ``dynamics``: synaptic-model JSON files involved; ``parameters``:
    the values the result was computed with (units as the API gives them); ``seed``: the random
    seed, if any (None: the computation is deterministic). ``extra`` keys are added as given.
    The timestamp is UTC, ISO 8601.
    """
    files = _config_files(config)
    config_path = next(iter(files), None)
    dyn = {}
    for p in dynamics:
        if p is not None:
            rp = Path(p).expanduser().resolve()
            dyn[str(rp)] = sha256_file(rp)
    out: dict[str, Any] = {
        "bmtool_lab": __version__,
        "neuron": _neuron_version(),
        "bmtk": _dist_version("bmtk"),
        "numpy": _dist_version("numpy"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "config": config_path,
        "config_sha256": files.get(config_path) if config_path else None,
        "files": {**files, **dyn},
        "dynamics": dyn,
        "parameters": jsonable(dict(parameters)) if parameters is not None else None,
        "seed": seed,
        "timestamp": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    out.update(jsonable(extra))
    return out


def jsonable(obj: Any) -> Any:
    """A copy of ``obj`` that ``json.dumps`` writes as strict JSON: numpy scalars and arrays to
    Python numbers and lists, NaN/inf to None (JSON has no NaN), paths and tuples to str/list,
    dataclasses to dicts."""
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return jsonable(dataclasses.asdict(obj))
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, os.PathLike):
        return str(obj)
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return obj
    if hasattr(obj, "tolist") and hasattr(obj, "dtype"):  # numpy arrays and scalars
        return jsonable(obj.tolist())
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        return float(obj) if math.isfinite(obj) else None
    return str(obj)


def save_json(data: Any, path: str | os.PathLike) -> Path:
    """Write ``jsonable(data)`` to ``path`` (indented, strict JSON, a trailing newline)."""
    path = Path(path)
    path.write_text(json.dumps(jsonable(data), indent=2, allow_nan=False) + "\n")
    return path


# --- export -----------------------------------------------------------------------------------
def _kind(controller: Any) -> str:
    name = type(controller).__name__
    if name == "SynapseTuner":
        return "synapse_tuner"
    if name == "CellProfiler":
        return "cell_profiler"
    if name in ("ConnectivityExplorer", "ConnectivityDashboard"):
        return "connectivity_explorer"
    raise SessionError(f"cannot export a session of a {name}: give a SynapseTuner, CellProfiler or "
                       "ConnectivityExplorer")


def export_session(controller: Any, path: str | os.PathLike | None = None, *, seed: int | None = None,
                   query: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The state of a tuner, profiler or connectivity explorer (or of its dashboard) as a
    JSON-able dict.

    Written to ``path`` too when given. ``seed`` is recorded in the provenance. ``query``
    (connectivity only): the :meth:`~ConnectivityExplorer.matrix` arguments to keep, when the
    explorer has no dashboard whose pickers would say them.
    """
    # A dashboard stands for its controller (the connectivity one also for its pickers).
    name = type(controller).__name__
    if name == "SynapseDashboard":
        controller = controller.tuner
    elif name == "ProfilerDashboard":
        controller = controller.prof
    kind = _kind(controller)
    if kind == "synapse_tuner":
        state = _export_tuner(controller, seed)
    elif kind == "cell_profiler":
        state = _export_profiler(controller, seed)
    else:
        state = _export_explorer(controller, seed, query)
    state = jsonable({"format": SESSION_FORMAT, "version": SESSION_VERSION, "kind": kind, **state})
    if path is not None:
        save_json(state, path)
    return state


def _protocol_dict(protocol: Any) -> dict[str, Any]:
    return jsonable(dataclasses.asdict(protocol))


def _fresh_protocol(tuner: Any) -> dict[str, Any]:
    """The protocol a new tuner on the same config and convention starts with (what a snippet
    need not repeat): the dataclass defaults, bmtool's fixed step and raw amplitudes under
    ``convention="bmtool"``, and the config's dt, celsius and v_init."""
    # local: heavy: numpy (tuning.synapse); the session module stays light
    from .synapse import SynapseProtocol

    base = SynapseProtocol()
    if tuner.convention == "bmtool":
        base = dataclasses.replace(base, cvode=False, amplitude_method="raw")
    if tuner.config is not None:
        run = tuner.config.run
        base = dataclasses.replace(base, celsius=run.celsius, v_init=run.v_init, dt=run.dt)
    return _protocol_dict(base)


def _file_params(ct: Any) -> dict[str, Any]:
    try:
        return ct.load_dynamics() if ct is not None and ct.dynamics_path is not None else {}
    except (OSError, ValueError):
        return {}


def _changed(params: Mapping[str, float], file_params: Mapping[str, Any]) -> dict[str, float]:
    """Parameters whose value differs from the dynamics file (what ``set_params`` must redo)."""
    out = {}
    for k, v in params.items():
        old = file_params.get(k)
        if isinstance(old, bool) or not isinstance(old, (int, float)) or float(old) != float(v):
            out[k] = float(v)
    return out


def _result_state(res: Any) -> dict[str, Any] | None:
    if res is None:
        return None
    return {"kind": res.kind, "params": dict(res.params), "protocol": _protocol_dict(res.protocol),
            "metrics": res.metrics, "units": res.units}


def _export_tuner(tuner: Any, seed: int | None) -> dict[str, Any]:
    if tuner.config is None:
        # The cell, mechanism and folders of a tuner without BMTK are not public attributes.
        raise SessionError("sessions need a tuner built from a BMTK config (SynapseTuner('simulation_config.json'));"
                           " this one was built from a hoc template")
    selected = tuner.current
    if selected is None:
        raise SessionError("the tuner has no connection selected: select one before exporting")

    def conn_state() -> dict[str, Any]:
        ct = tuner.current
        return {"name": ct.name, "edge_population": ct.edge_population, "edge_type_id": ct.edge_type_id,
                "params": tuner.params, "changed": _changed(tuner.params, _file_params(ct)),
                "pinned": _result_state(tuner.pinned), "last": _result_state(tuner.last)}

    connections = [conn_state()]
    others = [name for name in tuner.unsaved if name != selected.name]
    if others:
        # Another connection's parameters are only reachable by selecting it; put the selection back.
        try:
            for name in others:
                tuner.select(name)
                connections.append(conn_state())
        finally:
            tuner.select(selected.key)
    dyn = [c.dynamics_path for c in tuner.connections if c.name in {s["name"] for s in connections}]
    fresh = _fresh_protocol(tuner)
    proto = _protocol_dict(tuner.protocol)
    return {
        "config": str(tuner.config.path),
        "convention": tuner.convention,
        "selection": connections[0]["name"],
        "protocol": proto,
        "protocol_changes": {k: v for k, v in proto.items() if fresh.get(k) != v},
        "connections": connections,
        "provenance": provenance(tuner.config, dynamics=dyn, parameters=tuner.params, seed=seed),
    }


def _profiler_source(prof: Any) -> dict[str, Any]:
    """How the profiler was built: a config, a templates folder, and/or Allen swc + json pairs."""
    src: dict[str, Any] = {}
    types = list(prof.cell_types)
    from_config = [ct for ct in types if ct.population is not None]
    if prof.config is not None:
        src["config"] = str(prof.config.path)
        mechs = {ct.mechanisms_dir for ct in from_config if ct.kind not in ("virtual", "point")}
        if len(mechs) == 1 and (m := next(iter(mechs))) is not None and m != prof.config.mechanisms_dir:
            src["mechanisms_dir"] = str(m)
    else:
        hoc = [ct for ct in types if ct.kind == "hoc" and ct.templates_dir is not None]
        if hoc:
            src["templates_dir"] = str(hoc[0].templates_dir)
            if hoc[0].mechanisms_dir is not None:
                src["mechanisms_dir"] = str(hoc[0].mechanisms_dir)
    allen = [ct for ct in types if ct.population is None and ct.kind == "allen" and ct.morphology_path]
    if allen:
        src["swc"] = [str(ct.morphology_path) for ct in allen]
        src["json"] = [str(ct.dynamics_params_path) for ct in allen]
        src.setdefault("mechanisms_dir", str(allen[0].mechanisms_dir) if allen[0].mechanisms_dir else None)
    return src


_RUN_KEYS = ("dt", "celsius", "v_init", "atol", "rtol")


def _run_changes(prof: Any, run: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per cell, the run settings that differ from what a new profiler starts with (the config's
    run/conditions; NEURON's defaults for bare templates). Allen swc + json cells take theirs
    from their json, which only the profiler knows, so all of theirs are kept."""
    from ..sim.protocol import SimSettings  # local: heavy: numpy (sim.protocol)

    base = SimSettings.from_run(prof.config.run) if prof.config is not None else SimSettings()
    allen = {ct.name for ct in prof.cell_types if ct.population is None and ct.kind == "allen"}
    out = {}
    for cell, values in run.items():
        diff = dict(values) if cell in allen else {k: v for k, v in values.items() if getattr(base, k) != v}
        if diff:
            out[cell] = diff
    return out


def _export_profiler(prof: Any, seed: int | None) -> dict[str, Any]:
    cells = list(prof.cells)
    params = {c: prof.cell_params(c) for c in cells}
    run = {c: {k: getattr(prof.settings_for(c), k) for k in _RUN_KEYS} for c in cells}
    return {
        "run_changes": _run_changes(prof, run),
        **_profiler_source(prof),
        "selection": prof.current,
        "settings": {"cvode": prof.cvode, "threshold_mV": prof.threshold_mV, "inject": prof.inject,
                     "record": prof.record},
        "run_settings": run,
        "cell_params": {c: p for c, p in params.items() if p},
        "provenance": provenance(prof.config, parameters={"cell": prof.current, "cell_params": params.get(prof.current)},
                                 seed=seed),
    }


def _export_explorer(obj: Any, seed: int | None, query: Mapping[str, Any] | None) -> dict[str, Any]:
    if type(obj).__name__ == "ConnectivityDashboard":
        explorer, dashboard = obj.explorer, obj
    else:
        # The explorer keeps its dashboard privately; its pickers are the state a user chose.
        explorer, dashboard = obj, getattr(obj, "_dashboard", None)
    q = dict(query) if query is not None else (dashboard.query() if dashboard is not None else None)
    if q is not None:
        from .connectivity import METRICS  # local: heavy: pandas, scipy (tuning.connectivity)

        unknown = set(q) - {"metric", "group_by", "sources", "targets", "stat", "count", "connected_only",
                            "symmetric", "convention"}
        if unknown or q.get("metric", "percent") not in METRICS:
            raise SessionError(f"query has unknown keys or metric: {sorted(unknown) or q.get('metric')}")
    return {
        "config": str(explorer.config.path),
        "group_by": explorer.group_by,
        "query": q,
        "dashboard": dashboard is not None,
        "provenance": provenance(explorer.config, parameters=q, seed=seed),
    }


# --- open -------------------------------------------------------------------------------------
def load_session(path_or_dict: str | os.PathLike | Mapping[str, Any]) -> dict[str, Any]:
    """A session dict from a file or a dict, checked (SessionError says what is wrong)."""
    if isinstance(path_or_dict, Mapping):
        state = dict(path_or_dict)
    else:
        path = Path(path_or_dict)
        try:
            state = json.loads(path.read_text())
        except OSError as err:
            raise SessionError(f"cannot read session file {path}: {err.strerror or err}") from None
        except ValueError as err:
            raise SessionError(f"{path} is not valid JSON: {err}") from None
    if not isinstance(state, dict) or state.get("format") != SESSION_FORMAT:
        raise SessionError(f"not a bmtool_lab session (expected \"format\": \"{SESSION_FORMAT}\")")
    if state.get("version", 0) > SESSION_VERSION:
        raise SessionError(f"session version {state.get('version')} is newer than this bmtool_lab reads "
                           f"({SESSION_VERSION}): upgrade bmtool_lab")
    if state.get("kind") not in KINDS:
        raise SessionError(f"unknown session kind {state.get('kind')!r}; known: {', '.join(KINDS)}")
    return state


def _warn_changed_files(state: Mapping[str, Any]) -> None:
    prov = state.get("provenance") or {}
    changed = [p for p, digest in (prov.get("files") or {}).items() if digest and sha256_file(p) != digest]
    if changed:
        warnings.warn("these files changed since the session was exported (the session's values are applied on "
                      f"top of them): {', '.join(changed)}", stacklevel=3)


def open_session(path_or_dict: str | os.PathLike | Mapping[str, Any], *, rerun_pinned: bool = True,
                 executor: Any = None) -> Any:
    """Re-open a tuner, profiler or connectivity explorer in the state a session recorded.

    Synapse tuner: config, convention, protocol, the parameters of every connection the
    session holds, the selection, and the pinned run (re-simulated with its parameters and
    protocol unless ``rerun_pinned=False``; one simulation). Cell profiler: source, selected
    cell, solver and site settings, run settings, cell parameter changes. Connectivity
    explorer: config and grouping; a dashboard with the same pickers when the session came from
    one. ``executor`` is given to the new tuner or profiler for its sweeps. Warns when the
    config or a dynamics file changed since the export.
    """
    state = load_session(path_or_dict)
    _warn_changed_files(state)
    kind = state["kind"]
    if kind == "synapse_tuner":
        return _open_tuner(state, rerun_pinned, executor)
    if kind == "cell_profiler":
        return _open_profiler(state, executor)
    return _open_explorer(state)


def _open_tuner(state: Mapping[str, Any], rerun_pinned: bool, executor: Any) -> Any:
    from .synapse import SynapseTuner  # local: heavy: numpy (tuning.synapse)

    conns = state.get("connections") or []
    if not conns:
        raise SessionError("the session holds no connection")
    first = conns[0]
    tuner = SynapseTuner(state["config"], connection=first["name"], convention=state.get("convention", "bmtool_lab"),
                         executor=executor)
    try:
        tuner.set_protocol(**state["protocol"])
        for conn in reversed(conns):  # the selected one last, so it stays selected
            tuner.select(conn["name"])
            diff = {k: v for k, v in conn["params"].items() if tuner.params.get(k) != v}
            if diff:
                tuner.set_params(**diff)
            pinned = conn.get("pinned")
            if pinned and rerun_pinned:
                _rerun_pinned(tuner, pinned)
    except Exception:
        tuner.close()
        raise
    return tuner


def _rerun_pinned(tuner: Any, pinned: Mapping[str, Any]) -> None:
    """Simulate the pinned run again with its own parameters and protocol, pin it, and go back to
    the current parameters with one undo (the undo history gains no extra step)."""
    diff = {k: v for k, v in pinned["params"].items() if tuner.params.get(k) != v}
    if diff:
        tuner.set_params(**diff)
    try:
        tuner.run(pinned["kind"], **pinned["protocol"])
        tuner.pin()
    except Exception as err:  # the pin is a reference: the session opens without it, and says why
        warnings.warn(f"{tuner.name}: the pinned run could not be re-simulated, so nothing is pinned: {err}",
                      stacklevel=4)
    finally:
        if diff:
            tuner.undo()


def _open_profiler(state: Mapping[str, Any], executor: Any) -> Any:
    from .profiler import CellProfiler  # local: heavy: pandas, h5py (tuning.profiler)

    src = state.get("config") or state.get("templates_dir")
    prof = CellProfiler(src, state.get("mechanisms_dir"), swc=state.get("swc"), json=state.get("json"),
                        executor=executor)
    try:
        s = state.get("settings") or {}
        for k in ("cvode", "threshold_mV", "inject", "record"):
            if k in s:
                setattr(prof, k, s[k])
        for cell, values in (state.get("run_settings") or {}).items():
            now = prof.settings_for(cell)
            diff = {k: v for k, v in values.items() if k in _RUN_KEYS and getattr(now, k) != v}
            if diff:
                prof.set_run_settings(cell, **diff)
        for cell, changes in (state.get("cell_params") or {}).items():
            prof.set_cell_params(changes, cell=cell, replace=True)
        prof.select(state["selection"])
    except Exception:
        prof.close()
        raise
    return prof


def _open_explorer(state: Mapping[str, Any]) -> Any:
    from .connectivity import ConnectivityExplorer  # local: heavy: pandas, scipy (tuning.connectivity)

    explorer = ConnectivityExplorer(state["config"], group_by=state.get("group_by"))
    q = state.get("query")
    if q and state.get("dashboard"):
        dash = explorer.dashboard(metric=q.get("metric", "percent"), group_by=q.get("group_by"),
                                  sources=q.get("sources", "all"), targets=q.get("targets", "all"))
        for k in ("stat", "count", "convention", "connected_only", "symmetric"):
            if k in q:
                getattr(dash, k).value = q[k]
    return explorer


# --- Python snippets --------------------------------------------------------------------------
def _kwargs(d: Mapping[str, Any]) -> str:
    def lit(v: Any) -> str:
        if isinstance(v, float) and not math.isfinite(v):
            return f"float({str(v)!r})"
        if isinstance(v, list):
            return repr(tuple(v))
        return repr(v)

    return ", ".join(f"{k}={lit(v)}" for k, v in d.items())


def to_python(controller_or_session: Any) -> str:
    """A Python snippet that recreates a controller's state (or a session dict's)."""
    state = controller_or_session if isinstance(controller_or_session, Mapping) else \
        export_session(controller_or_session)
    state = load_session(state)
    kind = state["kind"]
    if kind == "synapse_tuner":
        return _tuner_snippet(state)
    if kind == "cell_profiler":
        return _profiler_snippet(state)
    return _explorer_snippet(state)


def _tuner_snippet(state: Mapping[str, Any]) -> str:
    conns = state["connections"]
    conv = state.get("convention", "bmtool_lab")
    lines = ["from bmtool_lab import SynapseTuner", "",
             f"tuner = SynapseTuner({state['config']!r}, connection={conns[0]['name']!r}"
             + (f", convention={conv!r})" if conv != "bmtool_lab" else ")")]
    if state.get("protocol_changes"):
        lines.append(f"tuner.set_protocol({_kwargs(state['protocol_changes'])})")
    for conn in reversed(conns):
        if len(conns) > 1:
            lines.append(f"tuner.select({conn['name']!r})")
        if conn.get("changed"):
            lines.append(f"tuner.set_params({_kwargs(conn['changed'])})")
        pinned = conn.get("pinned")
        if pinned:
            diff = {k: v for k, v in pinned["params"].items() if conn["params"].get(k) != v}
            proto = {k: v for k, v in pinned["protocol"].items() if state["protocol"].get(k) != v}
            lines.append("# the pinned (A/B reference) run" + (": its parameters, then back with undo()" if diff else ""))
            if diff:
                lines.append(f"tuner.set_params({_kwargs(diff)})")
            lines.append(f"tuner.run({pinned['kind']!r}{', ' + _kwargs(proto) if proto else ''})")
            lines.append("tuner.pin()")
            if diff:
                lines.append("tuner.undo()")
    return "\n".join(lines) + "\n"


def _profiler_snippet(state: Mapping[str, Any]) -> str:
    args = []
    if state.get("config") or state.get("templates_dir"):
        args.append(repr(state.get("config") or state.get("templates_dir")))
    if state.get("mechanisms_dir") and not state.get("swc"):
        args.append(repr(state["mechanisms_dir"]))
    if state.get("swc"):
        args.append(f"swc={state['swc']!r}, json={state['json']!r}")
        if state.get("mechanisms_dir"):
            args.append(f"mechanisms_dir={state['mechanisms_dir']!r}")
    lines = ["from bmtool_lab import CellProfiler", "", f"prof = CellProfiler({', '.join(args)})"]
    defaults = {"cvode": None, "threshold_mV": -20.0, "inject": "soma", "record": "soma"}
    for k, v in (state.get("settings") or {}).items():
        if defaults.get(k, object()) != v:
            lines.append(f"prof.{k} = {v!r}")
    for cell, changes in (state.get("run_changes") or {}).items():
        lines.append(f"prof.set_run_settings({cell!r}, {_kwargs(changes)})")
    for cell, changes in (state.get("cell_params") or {}).items():
        lines.append(f"prof.set_cell_params({changes!r}, cell={cell!r})")
    lines.append(f"prof.select({state['selection']!r})")
    return "\n".join(lines) + "\n"


def _explorer_snippet(state: Mapping[str, Any]) -> str:
    g = state.get("group_by")
    lines = ["from bmtool_lab import ConnectivityExplorer", "",
             f"conn = ConnectivityExplorer({state['config']!r}" + (f", group_by={g!r})" if g else ")")]
    q = dict(state.get("query") or {})
    if q:
        metric = q.pop("metric", "percent")
        lines.append(f"conn.matrix({metric!r}, {_kwargs(q)})")
        if state.get("dashboard"):
            lines.append(f"conn.dashboard(metric={metric!r}, group_by={q.get('group_by')!r}, "
                         f"sources={q.get('sources', 'all')!r}, targets={q.get('targets', 'all')!r})")
    return "\n".join(lines) + "\n"


# --- "Copy as code" ---------------------------------------------------------------------------
def code_for(ctl: Any, config: str | None = None) -> str:
    """Python that recreates ``ctl`` in its current state and ends with its name (so running the
    cell shows its dashboard): :func:`to_python` for what a session holds, else the essentials."""
    try:
        return _ends_with_display(to_python(ctl))
    except Exception:  # noqa: BLE001 - fall back to the essentials below
        pass
    cfg = str(getattr(getattr(ctl, "config", None), "path", None) or config or "")
    kind = public_name(type(ctl))  # SynapseTuner(pointnet_config) makes the PointNet tuner
    lines = ["import bmtool_lab", f"from bmtool_lab import {kind}", ""]
    known = kind_of(ctl)
    var = known.variable if known is not None else "dash"
    lines.append(f"{var} = {kind}({cfg!r})")
    name = getattr(ctl, "name", None)
    if kind == "SynapseTuner" and name:
        lines.append(f"{var}.select({name!r})")
        proto = getattr(ctl, "protocol", None)
        if proto is not None:
            fields = {k: getattr(proto, k) for k in ("clamp", "hold_mV", "freq_hz", "delay_ms", "n_train", "n_rec")}
            lines.append(f"{var}.set_protocol({', '.join(f'{k}={v!r}' for k, v in fields.items())})")
        params = {k: float(v) for k, v in (getattr(ctl, "params", {}) or {}).items()}
        if params:
            lines.append(f"{var}.set_params({', '.join(f'{k}={v!r}' for k, v in params.items())})")
    elif kind == "CellProfiler" and getattr(ctl, "current", None) is not None:
        lines.append(f"{var}.select({getattr(ctl.current, 'name', ctl.current)!r})")
    lines.append(var)
    return "\n".join(lines)


def _ends_with_display(code: str) -> str:
    """Make the snippet end with the controller's name, so running the cell shows the dashboard."""
    lines = code.rstrip().splitlines()
    if lines and lines[-1].strip().isidentifier():
        return code
    names = "|".join(k.controller_name for k in DASHBOARD_KINDS)
    m = re.search(rf"^(\w+)\s*=\s*(?:\w+\.)*({names})\(", code, re.M)
    return code.rstrip() + f"\n{m.group(1)}\n" if m else code
