"""The synapse tuner: every connection type of a BMTK network (or one synapse on a hoc cell),
run live in a worker process, measured as docs/metrics.md §1–2 defines, saved back to the
dynamics JSON.

Headless use::

    from bmtool_lab import SynapseTuner
    tuner = SynapseTuner("simulation_config.json")
    tuner.connections                        # ConnectionType of every chemical edge type
    tuner.select("PV2Exc")                   # or tuner.select(("cortex_to_cortex", 103))
    tuner.set_params(tau2=9.5)               # validated, undoable, marks the connection unsaved
    res = tuner.run_train(freq=50, delay=250)
    res.metrics["ppr"], res.metrics["amplitudes"], res.units["amplitude"]
    print(tuner.preview_save()); tuner.save()  # into PV2Exc.json (diff, backup, atomic)

Without BMTK: ``SynapseTuner(template="cells/Pyr.hoc", mechanism="Exp2Syn",
params={"tau1": 0.5, "tau2": 9.0, "erev": 0.0})``.

NEURON runs only in the tuner's :class:`~bmtool_lab.sim.worker.InteractiveWorker` (one per
tuner, "latest wins") and in the sweep executor (frequency response, synaptic table). The
dashboard (``.widget``) is imported only when asked for. Listeners added with
:meth:`SynapseTuner.add_listener` are called ``fn(event, payload)`` from any thread:

=============  ==============================================================
event          payload
=============  ==============================================================
"selection"    the selected ConnectionType (None for a tuner without BMTK)
"params"       dict of the current parameter values (dynamics-JSON names)
"protocol"     the SynapseProtocol after :meth:`set_protocol`
"running"      the kind of run submitted: "single", "train" or "poisson"
"partial"      {"t_ms": array, "traces": {name: array}, "progress": 0..1, "kind"}
"result"       SynapseResult / TrainResult / PoissonResult
"error"        a SimError or another exception; ``str(err)`` is user-readable
"saved"        the SaveResult / SaveAsResult of the dynamics store
=============  ==============================================================
"""

from __future__ import annotations

import math
import threading
import time
import warnings
from concurrent.futures import Future
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from bmtool_lab.model.check import check_model
from bmtool_lab.model.config import load_config
from bmtool_lab.model.dynamics import DynamicsError, load_dynamics_with_mtime
from bmtool_lab.model.python_hooks import find_model_hooks, model_hook_folders, weight_hook
from bmtool_lab.sim.errors import SimError
from bmtool_lab.sim.synapse_jobs import (
    DESCRIPTIVE_KEYS,
    Placement,
    RunProtocol,
    SynapseSpec,
    bionet_mechanism,
    check_param_values,
    describe_mechanism_job,
    synapse_run_job,
)
from bmtool_lab.tuning._events import Listeners
from bmtool_lab.tuning.gap_junction import GapJunctionResult, GapJunctionTuner
from bmtool_lab.tuning.kinds import ShowsDashboard, variant_for
from bmtool_lab.tuning.synapse_model import (
    ConnectionModel,
    _bionet_weight,
    _cell_from_template,
    _check_known,
    _ConnState,
    _is_number,
    _mech_default,
    _numeric,
    _unit,
)
from bmtool_lab.tuning.synapse_protocol import (
    _DOCS,
    _PROTOCOL_ALIASES,
    Listener,
    ParamSpec,
    PoissonResult,
    SynapseProtocol,
    SynapseResult,
    TrainResult,
    TunerError,
    _param_range,
    analyse_run,
    measure_settings,
    run_protocol,
)
from bmtool_lab.tuning.synapse_saving import SynapseSaving
from bmtool_lab.tuning.synapse_sweeps import SynapseSweeps

__all__ = ["ParamSpec", "SynapseProtocol", "SynapseResult", "TrainResult", "PoissonResult", "SynapseTuner",
           "TunerError", "GapJunctionTuner", "GapJunctionResult"]

# --- the tuner --------------------------------------------------------------------------------
class SynapseTuner(ConnectionModel, SynapseSweeps, SynapseSaving, ShowsDashboard):
    """Tune the synapses of a BMTK network (or one synapse on a hoc cell), headless or live.

    Parameters
    ----------
    config : path of a BMTK simulation or circuit config (None for a tuner without BMTK).
    connection : the connection to select first (name or (edge population, edge_type_id)).
    template, mechanism, params : without BMTK: a hoc template (``"path/Cell.hoc"``,
        ``"path/Cell.hoc:Name"``, a template name found in ``templates_dir``, a CellType, or a
        picklable function returning a hoc cell object, run in the worker), the synapse
        POINT_PROCESS name and its parameters (dynamics-JSON names: ``erev`` → ``e``).
    mechanisms_dir, templates_dir : folders of mod files / hoc templates (without BMTK; with
        a config they default to its components).
    convention : "bmtool_lab" (docs/metrics.md) or "bmtool" (bmtool 0.8.7's formulas:
        first local maximum, raw train amplitudes, fixed step).
    executor : sweep backend for frequency_response / synaptic_table (None: the local pool,
        a dask Client, or a SweepExecutor).
    worker : an InteractiveWorker to share (not closed by :meth:`close`); default: our own.
    weight_uS, delay_ms, section : without BMTK: NetCon weight (µS), delay (ms), and the
        section holding the synapse (default the soma).
    """

    title = "Synapse tuner"
    #: the worker job of one run (PointSynapseTuner: the NEST job)
    _run_job = staticmethod(synapse_run_job)

    def __new__(cls, config: str | Path | None = None, *args: Any, **kwargs: Any) -> SynapseTuner:
        if cls is SynapseTuner:  # a PointNet (NEST) model: its own tuner (tuning.kinds.VARIANTS)
            cls = variant_for(SynapseTuner, config) or cls
        return super().__new__(cls)

    def __init__(self, config: str | Path | None = None, *, connection: Any = None, template: Any = None,
                 mechanism: str | None = None, params: dict[str, Any] | None = None,
                 mechanisms_dir: str | Path | None = None, templates_dir: str | Path | None = None,
                 convention: str = "bmtool_lab", executor: Any = None, worker: Any = None,
                 weight_uS: float = 0.001, delay_ms: float = 1.0, section: str = "soma") -> None:
        if convention not in ("bmtool_lab", "bmtool"):
            raise TunerError(f"convention must be 'bmtool_lab' or 'bmtool', not {convention!r}")
        self.convention = convention
        self.executor = executor
        self._listeners = Listeners("SynapseTuner")
        self._lock = threading.RLock()
        self._states: dict[Any, _ConnState] = {}
        self._current: Any = None
        self._mech_cache: dict[Any, dict] = {}
        self._own_worker = worker is None
        self._worker = worker
        self._widget = None
        self._closed = False
        self.protocol = SynapseProtocol()
        if convention == "bmtool":  # bmtool's numbers: fixed step, raw amplitudes
            self.protocol = replace(self.protocol, cvode=False, amplitude_method="raw")
        self.config = None
        #: what the model check found (bmtool_lab.model.check): shown by the dashboard, printed by the CLI
        self.model_problems: list[str] = []
        self.connections: list[Any] = []
        self.gap_junctions: list[Any] = []
        self._all_types: list[Any] = []
        self._cell_types: list[Any] = []
        self._hooks: tuple[Any, ...] = ()  # the model's own add_synapse_model / add_weight_function files
        if config is not None:
            self._init_network(config, connection)
        elif template is not None:
            self._init_template(template, mechanism, params, mechanisms_dir, templates_dir, weight_uS, delay_ms,
                                section)
        else:
            raise TunerError("give a BMTK config (SynapseTuner('simulation_config.json')) or a cell and a synapse "
                             "(SynapseTuner(template='Cell.hoc', mechanism='Exp2Syn', params={...}))")

    # --- construction ---------------------------------------------------------------------
    def _init_network(self, config: str | Path, connection: Any) -> None:
        # local: heavy: pandas, h5py (model.cell_types, connection_types)
        from bmtool_lab.model.cell_types import list_cell_types
        from bmtool_lab.model.connection_types import list_connection_types

        self.config = load_config(config)  # ConfigError with the path when it points nowhere
        self.model_problems = check_model(self.config)
        self._all_types = list_connection_types(self.config)
        self.connections = [ct for ct in self._all_types if not ct.is_gap_junction]
        self.gap_junctions = [ct for ct in self._all_types if ct.is_gap_junction]
        self._cell_types = list_cell_types(self.config)
        self._hooks = find_model_hooks(model_hook_folders(self.config))
        run = self.config.run
        self.protocol.celsius, self.protocol.v_init = run.celsius, run.v_init
        self.protocol.dt = run.dt
        if connection is not None:
            self.select(connection)
            return
        for ct in self.connections:  # the first connection that loads; broken ones say why when picked
            try:
                self._state_for(ct)
            except Exception:
                continue
            self._current = ct.key
            break

    def _init_template(self, template: Any, mechanism: str | None, params: dict[str, Any] | None,
                       mechanisms_dir: Any, templates_dir: Any, weight_uS: float, delay_ms: float,
                       section: str) -> None:
        if not mechanism:
            raise TunerError("a tuner without BMTK needs mechanism= (the synapse POINT_PROCESS, e.g. 'Exp2Syn')")
        cell = _cell_from_template(template, mechanisms_dir, templates_dir)
        mech, renames = bionet_mechanism(mechanism)
        label = f"{getattr(cell, 'name', None) or getattr(cell, '__name__', 'cell')}:{mech}"
        spec = SynapseSpec(label=label, cell=cell, mechanism=mech, renames=tuple(renames.items()),
                           mechanisms_dir=Path(mechanisms_dir).resolve() if mechanisms_dir else None,
                           placement=Placement(section=section))
        raw = dict(params or {})
        for k, v in raw.items():
            if k not in DESCRIPTIVE_KEYS and not _is_number(v):
                raise TunerError(f"parameter {k} must be a number, got {v!r}")
        st = _ConnState(key=label, label=label, ct=None, spec=spec, weight_uS=float(weight_uS),
                        delay_ms=float(delay_ms), file_params=raw, mtime_ns=None, history=[_numeric(raw)])
        self._states[label] = st
        self._current = label
        self._describe(st)  # mechanism not compiled / unknown parameter: said now, not at the first run
        _check_known(st, st.params)
        self._check_values(st, st.params)

    # --- worker ---------------------------------------------------------------------------
    @property
    def worker(self) -> Any:
        """The InteractiveWorker running this tuner's simulations (started on first use)."""
        if self._worker is None:
            # local: import-time cost: multiprocessing (the worker), on the first run
            from bmtool_lab.sim.worker import InteractiveWorker

            if self._closed:
                raise TunerError("this tuner is closed")
            # a newer run also stops the running one: a slider move makes a long run stale
            self._worker = InteractiveWorker(name="synapse-tuner", timeout_s=300, cancel_running=True)
        return self._worker

    def close(self) -> None:
        """Stop the tuner's worker (a shared worker given to the constructor is left running)."""
        self._closed = True
        if self._worker is not None and self._own_worker:
            self._worker.close()
        self._worker = None

    def __enter__(self) -> SynapseTuner:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # --- listeners ------------------------------------------------------------------------
    def add_listener(self, fn: Listener) -> None:
        """Call ``fn(event, payload)`` on every event (see the module docstring); any thread."""
        self._listeners.add(fn)

    def remove_listener(self, fn: Listener) -> None:
        self._listeners.remove(fn)

    def _emit(self, event: str, payload: Any) -> None:
        self._listeners.emit(event, payload)

    # --- connections ----------------------------------------------------------------------
    @property
    def current(self) -> Any:
        """The selected ConnectionType (None for a tuner without BMTK or before a selection)."""
        st = self._states.get(self._current)
        return st.ct if st is not None else None

    @property
    def name(self) -> str | None:
        """The selected connection's name (the label of a tuner without BMTK)."""
        st = self._states.get(self._current)
        return st.label if st is not None else None

    def _find(self, which: Any) -> Any:
        if hasattr(which, "edge_type_id") and hasattr(which, "edge_population"):
            which = which.key
        if isinstance(which, tuple) and len(which) == 2:
            pop, tid = which
            for ct in self._all_types:
                if ct.edge_population == pop and ct.edge_type_id == int(tid):
                    return ct
            raise TunerError(f"no edge type {tid} in edge population {pop!r}; the network has: "
                             + ", ".join(f"({c.edge_population!r}, {c.edge_type_id})" for c in self._all_types))
        for ct in self._all_types:
            if ct.name == which:
                return ct
        raise TunerError(f"no connection type {which!r}; the network has: "
                         + ", ".join(ct.name for ct in self.connections))

    def select(self, which: Any) -> Any:
        """Select a connection by name, (edge population, edge_type_id) or ConnectionType.

        Unsaved tuning of the previous connection is kept. Raises TunerError for an unknown
        name, a gap junction, or a dynamics file that cannot be read, and SimError when the
        synapse mechanism is not compiled; the selection is unchanged then.
        """
        if not self._all_types:
            raise TunerError("this tuner has no BMTK network: there is nothing to select")
        try:
            ct = self._find(which)
            if ct.is_gap_junction:
                raise TunerError(f"{ct.name} is a gap junction: use GapJunctionTuner(config, connection={ct.name!r})")
            st = self._state_for(ct)
        except Exception as err:
            self._emit("error", err)
            raise
        self._current = st.key
        self._emit("selection", ct)
        return ct

    def _state_for(self, ct: Any) -> _ConnState:
        with self._lock:
            st = self._states.get(ct.key)
            if st is None:
                st = self._new_state(ct)
                self._states[ct.key] = st
        if st.mech is None:
            self._describe(st)
        return st

    def _new_state(self, ct: Any) -> _ConnState:
        from bmtool_lab.model.cell_types import cell_type_of  # local: heavy: pandas, h5py (model.cell_types)

        if ct.dynamics_path is None:
            raise TunerError(f"{ct.name}: the edge type names no dynamics_params file, so there are no synapse "
                             "parameters to tune")
        try:
            file_params, mtime = load_dynamics_with_mtime(ct.dynamics_path)
        except DynamicsError as err:
            raise TunerError(f"{ct.name}: {err}") from None
        if not ct.model_template:
            raise TunerError(f"{ct.name}: the edge type has no model_template (and its dynamics file no "
                             "level_of_detail), so the synapse mechanism is unknown")
        try:
            cell = cell_type_of(self._cell_types, ct.target_population, ct.target_node_type_ids, ct.target_groups)
        except KeyError as err:
            raise TunerError(f"{ct.name}: cannot tell which cell type its targets are ({err.args[0]})") from None
        if not cell.simulatable:
            raise TunerError(f"{ct.name}: {cell.reason}")
        mech, renames = bionet_mechanism(ct.model_template)
        notes: list[str] = []
        hook = self._synapse_hook(ct, cell, file_params, notes)
        if hook is not None:
            mech = hook["mechanism"]
        if len(ct.target_node_type_ids) > 1 or len(ct.target_groups) > 1:
            others = ", ".join(c.key for c in self._cell_types if c.population == ct.target_population
                               and c.node_type_id in ct.target_node_type_ids) or ", ".join(map(str, ct.target_groups))
            notes.append(f"targets are {others}: tuned on {cell.key}")
        found = weight_hook(self._hooks, ct.weight_function)
        from_model = found is not None
        weight, wnote = self._model_weight(ct, *found) if found else _bionet_weight(ct)
        if wnote:
            notes.append(wnote)
            if not from_model:  # the model's own weight function gives the weight BioNet would use
                warnings.warn(f"{ct.name}: {wnote}", stacklevel=3)
        spec = SynapseSpec(label=ct.name, cell=cell, mechanism=mech, renames=tuple(renames.items()),
                           mechanisms_dir=None, placement=self._placement(ct), **(hook["spec"] if hook else {}))
        return _ConnState(key=ct.key, label=ct.name, ct=ct, spec=spec, weight_uS=weight,
                          delay_ms=float(ct.delay if ct.delay is not None else 0.0), file_params=dict(file_params),
                          mtime_ns=mtime, history=[_numeric(file_params)], notes=notes)

    def _describe(self, st: _ConnState) -> None:
        dirs = (getattr(st.spec.cell, "mechanisms_dir", None), st.spec.mechanisms_dir)
        key = (st.spec.mechanism, dirs)
        info = self._mech_cache.get(key)
        if info is None:
            info = self.worker.call(describe_mechanism_job, timeout=120, mechanism=st.spec.mechanism,
                                    mechanisms_dirs=dirs)
            self._mech_cache[key] = info
        st.mech = info

    def connections_table(self) -> Any:
        """A DataFrame of every connection (gap junctions last), grouped by source/target groups."""
        import pandas as pd

        rows = []
        for ct in self._all_types:
            try:
                params = _numeric(ct.load_dynamics()) if ct.dynamics_path is not None else {}
                problem = ""
            except (OSError, ValueError) as err:
                params, problem = {}, str(err)
            rows.append({
                "source": "/".join(map(str, ct.source_groups)) or ct.source_population,
                "target": "/".join(map(str, ct.target_groups)) or ct.target_population,
                "name": ct.name, "edge_population": ct.edge_population, "edge_type_id": ct.edge_type_id,
                "kind": "gap junction" if ct.is_gap_junction else "chemical",
                "synapse_model": ct.model_template, "n_edges": ct.n_edges, "n_synapses": ct.n_synapses,
                "syn_weight": ct.syn_weight, "delay_ms": ct.delay, "dynamics_params": ct.dynamics_params,
                "params": params, "unsaved": ct.name in self.unsaved, "problem": problem,
            })
        df = pd.DataFrame(rows)
        if df.empty:
            return df
        return df.sort_values(["kind", "source", "target", "name"], kind="stable").set_index(["source", "target"])

    # --- parameters -----------------------------------------------------------------------
    def _st(self) -> _ConnState:
        st = self._states.get(self._current)
        if st is None:
            raise TunerError("no connection is selected (select one: tuner.select(name))")
        return st

    @property
    def params(self) -> dict[str, float]:
        """The current parameter values (dynamics-JSON names), as a copy."""
        return dict(self._st().params)

    @property
    def mechanism(self) -> str:
        """The NEURON mechanism of the selected synapse."""
        return self._st().spec.mechanism

    @property
    def placement(self) -> str:
        """Where the last run placed the synapse (one line), "" before the first run."""
        st = self._st()
        pl = st.last.placement if st.last is not None else {}
        if not pl:
            return ""
        where = f"{pl.get('section', '?')}({pl.get('x', 0.5):.3g}), {pl.get('distance_um', float('nan')):.0f} µm"
        return f"synapse at {where}"

    @property
    def param_specs(self) -> list[ParamSpec]:
        """One ParamSpec per tunable parameter: the dynamics-JSON values plus the mechanism's other
        PARAMETERs (discovered from NEURON), with units and slider ranges."""
        st = self._st()
        out = []
        for name, value in self._tunable(st).items():
            unit = _unit(st, name)
            lo, hi, scale, step = _param_range(name, value, unit)
            default = st.file_params.get(name)
            if not _is_number(default):
                default = _mech_default(st, name, value)
            mech_name = dict(st.spec.renames).get(name, name)
            doc = _DOCS.get(name) or _DOCS.get(mech_name) or ""
            doc = f"{st.spec.mechanism}.{mech_name}" + (f": {doc}" if doc else "")
            out.append(ParamSpec(name, float(value), float(default), unit, lo, hi, scale, step, doc))
        return out

    def _tunable(self, st: _ConnState) -> dict[str, float]:
        """Current values of the tunable parameters: known JSON keys first, then the mechanism's
        other PARAMETERs at their current value (default unless tuned)."""
        values = dict(st.params)
        if st.mech is None:
            return values
        renames = dict(st.spec.renames)
        back = {v: k for k, v in renames.items()}
        mech_names = [p["name"] for p in st.mech["parameters"]]
        # a model's own synapse function reads the file's keys under its own names
        out = {k: v for k, v in values.items()
               if st.spec.hook_model or renames.get(k, k) in mech_names or k in mech_names}
        for p in st.mech["parameters"]:
            json_name = back.get(p["name"], p["name"])
            if json_name not in out and p["name"] not in out:
                out[json_name] = float(p["default"])
        return out

    def set_params(self, *, merge: bool = False, **values: float) -> dict[str, float]:
        """Change parameters (dynamics-JSON names, in the file's units: ms, mV, µS...).

        Validated before anything runs: the mechanism must have the parameter, values must be
        finite, time constants > 0, tau1 < tau2. Records undo history and marks the connection
        unsaved. Returns the new parameter dict and emits "params".

        ``merge=True`` replaces the newest undo step instead of adding one when it is the last
        step (the dashboard merges the values of one slider drag: one Undo per drag).
        """
        st = self._st()
        if not values:
            return dict(st.params)
        new = dict(st.params)
        for k, v in values.items():
            if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)):
                raise TunerError(f"{k} must be a number, got {v!r}")
            v = float(v)
            if not math.isfinite(v):
                raise TunerError(f"{k} = {v!r} is not a finite number")
            new[k] = v
        _check_known(st, values)
        self._check_values(st, new)
        with self._lock:
            del st.history[st.pos + 1:]
            if merge and st.pos > 0:
                st.history[st.pos] = new
            else:
                st.history.append(new)
                st.pos += 1
        self._emit("params", dict(new))
        return dict(new)

    def _check_values(self, st: _ConnState, params: dict[str, float]) -> None:
        renames = dict(st.spec.renames)
        mech_values = {renames.get(k, k): v for k, v in params.items()}
        if st.mech is not None:
            defaults = {p["name"]: p["default"] for p in st.mech["parameters"]}
            mech_values = {**defaults, **{k: v for k, v in mech_values.items() if k in defaults}}
        try:
            check_param_values(st.spec.mechanism, mech_values, st.label)
        except SimError as err:
            raise TunerError(err.message) from None

    @property
    def can_undo(self) -> bool:
        st = self._states.get(self._current)
        return st is not None and st.pos > 0

    @property
    def can_redo(self) -> bool:
        st = self._states.get(self._current)
        return st is not None and st.pos < len(st.history) - 1

    def undo(self) -> dict[str, float]:
        """Go back one parameter change (no-op at the start); emits "params"."""
        st = self._st()
        if st.pos > 0:
            st.pos -= 1
            self._emit("params", dict(st.params))
        return dict(st.params)

    def redo(self) -> dict[str, float]:
        """Re-apply an undone change (no-op at the end); emits "params"."""
        st = self._st()
        if st.pos < len(st.history) - 1:
            st.pos += 1
            self._emit("params", dict(st.params))
        return dict(st.params)

    def _updates(self, st: _ConnState) -> dict[str, float]:
        """Parameters that differ from the dynamics file (what a save writes)."""
        out = {}
        for k, v in st.params.items():
            old = st.file_params.get(k)
            if not (_is_number(old) and float(old) == v):
                out[k] = v
        return out

    @property
    def unsaved(self) -> list[str]:
        """Names of the connections whose parameters differ from their dynamics file."""
        return [st.label for st in self._states.values() if self._updates(st)]

    def unsaved_dynamics(self) -> dict[Path, dict[str, Any]]:
        """What a save of every unsaved connection would write: {dynamics file: its whole JSON
        with the tuned values}, for a network run on an overlay (nothing is written here)."""
        out: dict[Path, dict[str, Any]] = {}
        for st in self._states.values():
            updates = self._updates(st)
            if updates and st.ct is not None and st.ct.dynamics_path is not None:
                path = Path(st.ct.dynamics_path)
                out[path] = {**out.get(path, st.file_params), **updates}
        return out

    # --- protocol -------------------------------------------------------------------------
    def set_protocol(self, **settings: Any) -> SynapseProtocol:
        """Change protocol settings (``freq``/``delay``/``hold`` are accepted for freq_hz,
        delay_ms, hold_mV); validated; emits "protocol"."""
        self.protocol = self._protocol_with(settings)
        if "placement" in settings or "edge_index" in settings:
            for st in self._states.values():  # placement is part of the built model
                if st.ct is not None:
                    st.spec = replace(st.spec, placement=self._placement(st.ct))
        self._emit("protocol", self.protocol)
        return self.protocol

    def _protocol_with(self, overrides: dict[str, Any]) -> SynapseProtocol:
        names = {f.name for f in fields(SynapseProtocol)}
        changes = {}
        for k, v in overrides.items():
            k = _PROTOCOL_ALIASES.get(k, k)
            if k not in names:
                raise TunerError(f"unknown protocol setting {k!r}; settings are: {', '.join(sorted(names))}")
            changes[k] = v
        return replace(self.protocol, **changes).validated()

    def _run_protocol(self, st: _ConnState, p: SynapseProtocol, kind: str, stream: bool) -> RunProtocol:
        return run_protocol(p, kind, weight_uS=st.weight_uS, netcon_delay_ms=st.delay_ms, convention=self.convention,
                            stream=stream)

    def _job_kwargs(self, st: _ConnState, p: SynapseProtocol, kind: str, stream: bool) -> dict[str, Any]:
        strict = frozenset(k for k in st.params if k not in _numeric(st.file_params) or st.ct is None)
        return {"spec": st.spec, "params": dict(st.params), "proto": self._run_protocol(st, p, kind, stream),
                "strict": strict, "measure": measure_settings(p, self.convention)}

    # --- running --------------------------------------------------------------------------
    def submit(self, kind: str = "train", **overrides: Any) -> Future:
        """Run in the background ("latest wins": a newer submit replaces a waiting one).

        Returns a Future of the SynapseResult/TrainResult/PoissonResult (SimError on failure;
        cancelled when replaced). Emits "running", "partial" (when listeners exist), then
        "result" or "error".
        """
        if kind not in ("single", "train", "poisson"):
            raise TunerError(f"kind must be 'single', 'train' or 'poisson', not {kind!r}")
        st = self._st()
        p = self._protocol_with(overrides)
        kwargs = self._job_kwargs(st, p, kind, stream=bool(self._listeners))
        out: Future = Future()
        t0 = time.perf_counter()
        self._emit("running", kind)
        wfut = self.worker.submit_job(self._run_job, kwargs, on_partial=lambda part: self._partial(part, kind))

        def done(f: Future) -> None:
            if f.cancelled():
                out.cancel()  # replaced by a newer request: nothing to report
                return
            err = f.exception()
            if isinstance(err, SimError) and err.kind == "cancelled":
                out.cancel()  # stopped for a newer run: not an error to show
                return
            if err is None:
                try:
                    res = self._analyse(st, f.result(), p, kind, dict(kwargs["params"]))
                    res.wall_ms = (time.perf_counter() - t0) * 1e3
                except Exception as exc:  # analysis of a strange trace: report, keep going
                    err = exc
            if err is not None:
                out.set_exception(err)
                self._emit("error", err)
                return
            st.last = res
            out.set_result(res)
            self._emit("result", res)

        wfut.add_done_callback(done)
        return out

    def _partial(self, part: dict, kind: str) -> None:
        trace = part.get("trace")
        if trace is None:
            return
        self._emit("partial", {"t_ms": trace.t, "traces": dict(trace.values), "kind": kind,
                               "progress": float(part.get("t_ms", 0.0)) / max(float(part.get("tstop_ms", 1.0)), 1e-9)})

    def run_single(self, **overrides: Any) -> SynapseResult:
        """One event (blocking); protocol overrides apply to this run only."""
        return self.submit("single", **overrides).result()

    def run_train(self, freq: float | None = None, delay: float | None = None, **overrides: Any) -> TrainResult:
        """A train + recovery run (blocking): ``freq`` Hz, recovery ``delay`` ms (defaults: the
        protocol's); other protocol overrides apply to this run only."""
        if freq is not None:
            overrides["freq_hz"] = freq
        if delay is not None:
            overrides["delay_ms"] = delay
        return self.submit("train", **overrides).result()

    def run_poisson(self, rate_hz: float | None = None, duration_ms: float | None = None, seed: int | None = None,
                    **overrides: Any) -> PoissonResult:
        """Poisson input through the train's single NetCon (blocking): ``rate_hz`` Hz for
        ``duration_ms`` ms, drawn with ``seed`` (defaults: the protocol's poisson_rate_hz,
        poisson_duration_ms, seed); other protocol overrides apply to this run only."""
        for key, value in (("poisson_rate_hz", rate_hz), ("poisson_duration_ms", duration_ms), ("seed", seed)):
            if value is not None:
                overrides[key] = value
        return self.submit("poisson", **overrides).result()

    def run(self, kind: str = "train", **overrides: Any) -> SynapseResult:
        """:meth:`run_single`, :meth:`run_train` or :meth:`run_poisson` by ``kind``."""
        return self.submit(kind, **overrides).result()

    def _analyse(self, st: _ConnState, out: dict, p: SynapseProtocol, kind: str, params: dict) -> SynapseResult:
        return analyse_run(out, p, kind, self.convention, label=st.label, params=params, notes=st.notes)

    # --- A/B ------------------------------------------------------------------------------
    def pin(self) -> SynapseResult | None:
        """Keep a copy of the last result of this connection as the A/B reference (``.pinned``)."""
        st = self._st()
        st.pinned = st.last.copy() if st.last is not None else None
        return st.pinned

    @property
    def pinned(self) -> SynapseResult | None:
        st = self._states.get(self._current)
        return st.pinned if st is not None else None

    @pinned.setter
    def pinned(self, value: SynapseResult | None) -> None:
        self._st().pinned = value

    @property
    def last(self) -> SynapseResult | None:
        """The last result of the selected connection."""
        st = self._states.get(self._current)
        return st.last if st is not None else None

    # the dashboard (``.widget``, display in a cell): ShowsDashboard, built by bmtool_lab.widgets.registry
    def __repr__(self) -> str:
        n = len(self.connections)
        what = f"{n} connections" if self.config is not None else "no BMTK network"
        return f"SynapseTuner({what}, selected={self.name!r}, unsaved={self.unsaved})"
