"""The synapse tuner: every connection type of a BMTK network (or one synapse on a hoc cell),
run live in a worker process, measured as reference/metrics.md §1–2 defines, saved back to the
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

import copy
import math
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from bmtool_lab.model.check import check_model
from bmtool_lab.model.python_hooks import find_model_hooks, model_hook_folders, synapse_hook, weight_hook
from bmtool_lab.sim.errors import SimError
from bmtool_lab.sim.model_hooks import hook_mechanism_job, weight_function_job
from bmtool_lab.sim.synapse_jobs import (
    DESCRIPTIVE_KEYS,
    MeasureSettings,
    Placement,
    RunProtocol,
    SynapseSpec,
    bionet_mechanism,
    check_param_values,
    describe_mechanism_job,
    measure_run,
    synapse_run_job,
)
from bmtool_lab.tuning._events import Listeners
from bmtool_lab.tuning.kinds import ShowsDashboard

__all__ = ["ParamSpec", "SynapseProtocol", "SynapseResult", "TrainResult", "PoissonResult", "SynapseTuner",
           "TunerError"]

Listener = Callable[[str, Any], None]

#: Weight functions whose value is the edge's syn_weight (bmtk's default_setters/synaptic_weights.py).
IDENTITY_WEIGHT_FUNCTIONS = frozenset({"default_weight_fnc", "set_syn_weight", "wmax"})

_DOCS = {
    "tau1": "rise time constant", "tau2": "decay time constant", "tau": "decay time constant",
    "e": "reversal potential", "erev": "reversal potential (BioNet's name for the mechanism's e)",
    "Use": "utilisation of synaptic efficacy (release probability of the first pulse)",
    "U": "utilisation of synaptic efficacy", "u0": "initial utilisation",
    "Dep": "recovery-from-depression time constant (0: no depression)",
    "Fac": "facilitation time constant (0: no facilitation)",
    "initW": "weight multiplier (the NetCon weight is the edge's syn_weight)",
}
_FRACTION_NAMES = frozenset({"Use", "U", "u0", "p0", "P", "Pr", "u"})


class TunerError(ValueError):
    """A request the tuner cannot carry out, with a message that says what to do."""


# --- parameter specs --------------------------------------------------------------------------
@dataclass(frozen=True)
class ParamSpec:
    """One tunable parameter: its current ``value``, ``default`` (the value in the dynamics JSON;
    the mechanism's default when the JSON lacks it), ``unit``, slider range ``min``..``max``
    with ``scale`` "log" or "linear" and ``step``, and a one-line ``doc``."""

    name: str
    value: float
    default: float
    unit: str
    min: float
    max: float
    scale: str
    step: float
    doc: str = ""


def _param_range(name: str, value: float, unit: str) -> tuple[float, float, str, float]:
    """Slider range for a parameter: log for time constants and weights, 0..1 for fractions,
    -100..+20 mV (widened to include the value) for reversal potentials."""
    v = float(value)
    if unit == "mV" or name in ("e", "erev") or name.startswith(("e_", "erev")):
        return min(-100.0, v - 10.0), max(20.0, v + 10.0), "linear", 0.5
    if name in _FRACTION_NAMES or (unit in ("1", "") and name.lower().startswith(("use", "p0"))):
        return 0.0, 1.0, "linear", 0.005
    if unit == "ms" or name.lower().startswith("tau"):
        if v > 0:
            return max(1e-3, v / 20.0), max(v * 20.0, 1.0), "log", 0.01
        return 0.0, 1000.0, "linear", 1.0  # 0 = "off" (Dep/Fac): a log slider cannot show it
    if v > 0:
        return v / 20.0, v * 20.0, "log", 0.01
    if v < 0:
        return 2.0 * v, -2.0 * v, "linear", abs(v) / 100.0
    return -1.0, 1.0, "linear", 0.01


# --- protocol ---------------------------------------------------------------------------------
@dataclass
class SynapseProtocol:
    """Protocol settings of the tuner (mutable; :meth:`SynapseTuner.set_protocol` validates).

    - ``clamp``: "voltage" (SEClamp at ``hold_mV`` mV with series resistance ``rs_MOhm`` MΩ;
      the clamp current is analysed) or "current" (no clamp object; soma v is analysed);
    - train: ``n_train`` pulses at ``freq_hz`` Hz, then ``n_rec`` recovery pulses, the first
      ``delay_ms`` ms after the last train pulse; first pulse at ``t_start_ms`` ms (the
      pre-stimulus baseline, skipped on re-runs by a checkpoint); ``tail_ms`` ms after the last
      pulse;
    - poisson: a Poisson train of ``poisson_rate_hz`` Hz over ``poisson_duration_ms`` ms from
      ``t_start_ms``, drawn with ``numpy.random.default_rng(seed)`` (reproducible);
    - ``amplitude_method``: "deconvolve" | "prepulse" | "raw"; ``normaliser``: "p90" | "first";
      ``rise_levels``: (r1, r2) fractions; ``window_ms``: response window of single events;
    - solver: ``cvode`` (variable step, ``atol``), ``dt`` ms (fixed step), ``celsius`` °C and
      ``v_init`` mV (None: the config's ``conditions``, else 34 °C / -70 mV);
    - placement: "distance" (target_sections/distance_range, deterministic) or "edge" (the
      ``edge_index``-th edge of the type's ``afferent_section_id/pos``);
    - ``checkpoint``: skip the pre-stimulus baseline on re-runs (a SaveState just before the
      first pulse, rebuilt whenever something it depends on changes).
    """

    clamp: str = "voltage"
    hold_mV: float = -70.0
    freq_hz: float = 50.0
    delay_ms: float = 250.0
    n_train: int = 8
    n_rec: int = 4
    cvode: bool = True
    amplitude_method: str = "deconvolve"
    normaliser: str = "p90"
    rise_levels: tuple[float, float] = (0.1, 0.9)
    window_ms: float = 100.0
    t_start_ms: float = 300.0
    tail_ms: float = 150.0
    rs_MOhm: float = 0.01
    atol: float = 1e-4
    dt: float = 0.025
    celsius: float | None = None
    v_init: float | None = None
    placement: str = "distance"
    edge_index: int = 0
    checkpoint: bool = True
    poisson_rate_hz: float = 20.0
    poisson_duration_ms: float = 2000.0
    seed: int = 0

    def validated(self) -> SynapseProtocol:
        """A checked copy (raises TunerError naming the bad setting)."""
        p = replace(self, rise_levels=tuple(float(x) for x in self.rise_levels))
        checks = [
            (p.clamp in ("voltage", "current"), f"clamp must be 'voltage' or 'current', not {p.clamp!r}"),
            (p.freq_hz > 0 and math.isfinite(p.freq_hz), f"freq_hz must be > 0 Hz, got {p.freq_hz}"),
            (p.delay_ms >= 0, f"delay_ms (recovery delay) must be >= 0 ms, got {p.delay_ms}"),
            (int(p.n_train) >= 3, f"n_train must be >= 3 (induction uses the last three), got {p.n_train}"),
            (int(p.n_rec) >= 0, f"n_rec must be >= 0, got {p.n_rec}"),
            (p.amplitude_method in ("deconvolve", "prepulse", "raw"),
             f"amplitude_method must be 'deconvolve', 'prepulse' or 'raw', not {p.amplitude_method!r}"),
            (p.normaliser in ("p90", "first"), f"normaliser must be 'p90' or 'first', not {p.normaliser!r}"),
            (0 < p.rise_levels[0] < p.rise_levels[1] < 1, f"rise_levels must be 0 < r1 < r2 < 1, got {p.rise_levels}"),
            (p.window_ms > 0, f"window_ms must be > 0, got {p.window_ms}"),
            (p.t_start_ms >= 20, f"t_start_ms (pre-stimulus baseline) must be >= 20 ms, got {p.t_start_ms}"),
            (p.tail_ms > 0, f"tail_ms must be > 0, got {p.tail_ms}"),
            (p.rs_MOhm > 0, f"rs_MOhm must be > 0, got {p.rs_MOhm}"),
            (p.dt > 0 and p.atol > 0, "dt and atol must be > 0"),
            (p.placement in ("distance", "edge"), f"placement must be 'distance' or 'edge', not {p.placement!r}"),
            (math.isfinite(p.hold_mV), f"hold_mV must be finite, got {p.hold_mV}"),
            (p.poisson_rate_hz > 0 and math.isfinite(p.poisson_rate_hz),
             f"poisson_rate_hz must be > 0 Hz, got {p.poisson_rate_hz}"),
            (p.poisson_duration_ms > 0 and math.isfinite(p.poisson_duration_ms),
             f"poisson_duration_ms must be > 0 ms, got {p.poisson_duration_ms}"),
            (float(p.seed) == int(p.seed) and int(p.seed) >= 0, f"seed must be an integer >= 0, got {p.seed}"),
        ]
        for ok, msg in checks:
            if not ok:
                raise TunerError(msg)
        p.n_train, p.n_rec, p.seed = int(p.n_train), int(p.n_rec), int(p.seed)
        return p


#: bmtool 0.8.7's SynapseTuner connects its stimulus with this NetCon delay (ms) whatever the
#: edge says; convention="bmtool" does the same, so latency and half-width compare
BMTOOL_NETCON_DELAY_MS = 1.3

_PROTOCOL_ALIASES = {"freq": "freq_hz", "delay": "delay_ms", "hold": "hold_mV", "f": "freq_hz",
                     "rate_hz": "poisson_rate_hz", "duration_ms": "poisson_duration_ms"}


# --- results ----------------------------------------------------------------------------------
@dataclass
class SynapseResult:
    """One run: traces and metrics.

    ``t_ms`` (ms, float64); ``traces``: float32 arrays ("i_clamp" nA under voltage clamp,
    "v_soma" mV under current clamp, "i_syn" nA, "g_syn" µS, "v_syn" mV) with units in
    ``trace_units``; ``analysed``: the trace the metrics come from; ``metrics`` (keys end in
    ``_ms`` for times; units of the others in ``units``); ``pulse_times_ms``: when the
    stimulus delivers each event (the NetCon delay comes on top); ``params``: the
    dynamics-JSON values of the run; ``placement``: where the synapse was; ``sim_ms``: NEURON
    time in the worker; ``wall_ms``: submit → result.
    """

    kind: str
    connection: str
    t_ms: np.ndarray
    traces: dict[str, np.ndarray]
    trace_units: dict[str, str]
    analysed: str
    pulse_times_ms: np.ndarray
    metrics: dict[str, Any]
    units: dict[str, str]
    params: dict[str, Any]
    protocol: SynapseProtocol
    placement: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    sim_ms: float = float("nan")
    wall_ms: float = float("nan")
    restored: bool = False
    kernel: tuple[np.ndarray, np.ndarray] | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def no_response(self) -> str | None:
        """Why this run has no synaptic response and so no metrics (zero weight, no driving force
        at the hold...); None when it has one."""
        return (self.info or {}).get("no_response")

    def copy(self) -> SynapseResult:
        return copy.deepcopy(self)

    def __repr__(self) -> str:
        shown = {k: v for k, v in self.metrics.items() if not isinstance(v, list)}
        text = ", ".join(f"{k}={v:.4g}" for k, v in shown.items() if isinstance(v, float))
        return f"{type(self).__name__}({self.connection!r}, {self.kind}, {text})"


@dataclass(repr=False)
class TrainResult(SynapseResult):
    """A train + recovery run; ``amplitudes`` per pulse (unit ``units["amplitude"]``) and the
    STP indices in ``metrics`` (simple_ppr, ppr, induction, recovery). The single-event
    metrics (amplitude, latency_ms...) come from the single-event kernel of the same run."""

    amplitudes: np.ndarray = field(default_factory=lambda: np.empty(0))


@dataclass(repr=False)
class PoissonResult(SynapseResult):
    """A Poisson-input run: ``pulse_times_ms`` are the Poisson event times; ``amplitudes`` per
    event (deconvolved with the run's single-event kernel, unit ``units["amplitude_mean"]``);
    ``metrics``: n_events, mean_rate_hz, mean_response, peak, amplitude_mean, amplitude_cv,
    steady_state_ratio, amplitudes, and the single-event metrics of the kernel."""

    amplitudes: np.ndarray = field(default_factory=lambda: np.empty(0))


# --- per-connection state ---------------------------------------------------------------------
@dataclass
class _ConnState:
    key: Any
    label: str
    ct: Any  # ConnectionType or None
    spec: SynapseSpec
    weight_uS: float
    delay_ms: float
    file_params: dict[str, Any]  # the dynamics JSON as on disk (all keys, order kept)
    mtime_ns: int | None
    history: list[dict[str, float]]
    pos: int = 0
    mech: dict[str, Any] | None = None
    last: SynapseResult | None = None
    pinned: SynapseResult | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def params(self) -> dict[str, float]:
        return self.history[self.pos]


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _numeric(params: dict[str, Any]) -> dict[str, float]:
    """The dynamics-JSON entries that may set a mechanism parameter (numbers, not descriptive)."""
    return {k: float(v) for k, v in params.items() if k not in DESCRIPTIVE_KEYS and _is_number(v)}


# --- the tuner --------------------------------------------------------------------------------
class SynapseTuner(ShowsDashboard):
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
    convention : "bmtool_lab" (reference/metrics.md) or "bmtool" (bmtool 0.8.7's formulas:
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
        if cls is SynapseTuner and config is not None:  # a PointNet (NEST) model: its own tuner
            from bmtool_lab.model.pointnet import is_pointnet_config

            if is_pointnet_config(config):
                from bmtool_lab.tuning.pointnet_synapse import PointSynapseTuner

                cls = PointSynapseTuner
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
        from bmtool_lab.model.cell_types import list_cell_types
        from bmtool_lab.model.config import load_config
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
        from bmtool_lab.model.cell_types import cell_type_of
        from bmtool_lab.model.dynamics import DynamicsError, load_dynamics_with_mtime

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

    def _synapse_hook(self, ct: Any, cell: Any, file_params: dict, notes: list[str]) -> dict | None:
        """How the model's own synapse function builds this connection, as BioNet would use it:
        {"mechanism", "spec": SynapseSpec fields}; None (and a note when a file could not be
        used) when the model registers no function for its model_template."""
        import json

        found = synapse_hook(self._hooks, ct.model_template)
        if found is None:
            return None
        hook, fn = found
        if hook.unsafe:
            said = f"{hook.path.name} registers {ct.model_template!r} ({fn}()) but was not run: {hook.unsafe}"
            if hook.mechanism_of(fn) != ct.model_template:  # no mod file of that name to fall back on
                raise TunerError(f"{ct.name}: {said}. Move the synapse functions into a file of definitions only "
                                 "(bmtk's synapses.py with a load() function), or guard the run with "
                                 "if __name__ == '__main__'")
            notes.append(f"{said}; the synapse is built by mechanism name and its parameters set by name")
            return None
        key = ("hook", hook.path, ct.model_template)
        mech = self._mech_cache.get(key)
        if mech is None:
            mech = self.worker.call(hook_mechanism_job, timeout=120, hooks=self._hooks, name=ct.model_template,
                                    params=dict(file_params),
                                    mechanisms_dirs=(getattr(cell, "mechanisms_dir", None),))
            self._mech_cache[key] = mech
        return {"mechanism": mech, "spec": {"hook_model": ct.model_template, "hooks": self._hooks,
                                            "hook_file_json": json.dumps(file_params)}}

    def _model_weight(self, ct: Any, hook: Any, fn: str) -> tuple[float, str]:
        """NetCon weight from the model's own weight function ``fn`` of ``hook`` on the
        connection's first edge."""
        from bmtool_lab.model.sonata import SonataNetwork

        if hook.unsafe:
            return float(ct.syn_weight or 0.0), (f"weight_function {ct.weight_function!r} is registered in {hook.path.name}, which was not "
                       f"run ({hook.unsafe}): using syn_weight as the NetCon weight")
        edge, src, trg = SonataNetwork(self.config).first_edge_props(ct)
        w = float(self.worker.call(weight_function_job, timeout=120, hooks=self._hooks, name=ct.weight_function,
                                   edge=edge, src_node=src, trg_node=trg))
        return w, (f"NetCon weight {w:.6g} µS from the model's weight function {ct.weight_function!r} "
                   f"({hook.path.name}: {fn}()) on the connection's first edge (syn_weight {ct.syn_weight:g}); "
                   "BioNet computes it per edge")

    def _placement(self, ct: Any) -> Placement:
        if self.protocol.placement == "edge":
            sec_id, pos = _afferent_location(self.config, ct, self.protocol.edge_index)
            return Placement(target_sections=None, section_id=sec_id, section_pos=pos)
        return Placement(target_sections=tuple(ct.target_sections) if ct.target_sections else ("somatic",),
                         distance_range=tuple(ct.distance_range) if ct.distance_range else None)

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
        return RunProtocol(
            kind=kind, clamp=p.clamp, hold_mV=p.hold_mV, rs_MOhm=p.rs_MOhm, freq_hz=p.freq_hz,
            rec_delay_ms=p.delay_ms, n_train=p.n_train, n_rec=p.n_rec, t_start_ms=p.t_start_ms,
            tail_ms=max(p.tail_ms, p.window_ms) if kind == "single" else p.tail_ms,
            weight_uS=st.weight_uS, delay_ms=BMTOOL_NETCON_DELAY_MS if self.convention == "bmtool" else st.delay_ms,
            cvode=p.cvode, atol=p.atol, dt=p.dt,
            celsius=34.0 if p.celsius is None else p.celsius, v_init=-70.0 if p.v_init is None else p.v_init,
            # The single-event kernel (a second run): deconvolution and the train's event metrics.
            # bmtool's convention measures raw amplitudes and no event metrics in a train: one run.
            kernel=kind in ("train", "poisson") and not (self.convention == "bmtool" and p.amplitude_method != "deconvolve"),
            checkpoint=p.checkpoint, stream=stream, poisson_rate_hz=p.poisson_rate_hz,
            poisson_duration_ms=p.poisson_duration_ms, seed=p.seed,
        )

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

    # --- sweeps ---------------------------------------------------------------------------
    def frequency_response(self, freqs: Sequence[float] = (1, 5, 10, 20, 50, 100, 200), **protocol: Any) -> Any:
        """STP indices for every frequency (Hz), run in parallel through the sweep executor.

        A DataFrame indexed by freq_hz: simple_ppr, ppr, induction, recovery, amplitudes (list)
        and ``error`` (the message of a failed frequency, else "").
        """
        import pandas as pd

        from bmtool_lab.sim.executor import get_executor

        st = self._st()
        base = self._protocol_with(protocol)
        protos = [replace(base, freq_hz=float(f)).validated() for f in freqs]
        kwargs = [self._job_kwargs(st, p, "train", stream=False) for p in protos]
        outs = get_executor(self.executor).map(self._run_job, kwargs, timeout=300)
        rows = []
        for f, p, out in zip(freqs, protos, outs, strict=True):
            row: dict[str, Any] = {"freq_hz": float(f)}
            if isinstance(out, BaseException):
                row.update(simple_ppr=np.nan, ppr=np.nan, induction=np.nan, recovery=np.nan, amplitudes=None,
                           error=str(out))
            else:
                res = analyse_run(out, p, "train", self.convention, label=st.label, params=dict(st.params))
                row.update({k: res.metrics.get(k, np.nan) for k in ("simple_ppr", "ppr", "induction", "recovery")})
                row.update(amplitudes=list(res.amplitudes), error="")
                if res.no_response:
                    row["no_response"] = res.no_response
            rows.append(row)
        return pd.DataFrame(rows).set_index("freq_hz")

    def synaptic_table(self, kind: str = "single", **protocol: Any) -> Any:
        """Metrics of every connection (current parameters, unsaved ones included), in parallel.

        ``kind="single"``: one event each; ``"train"``: the train protocol too (STP indices).
        A DataFrame with one row per connection; units in the column names; ``error`` says
        why a connection could not run.
        """
        import pandas as pd

        from bmtool_lab.sim.executor import get_executor

        p = self._protocol_with(protocol)
        items, rows = [], []
        for ct in self.connections:
            row: dict[str, Any] = {"connection": ct.name,
                                   "source": "/".join(map(str, ct.source_groups)) or ct.source_population,
                                   "target": "/".join(map(str, ct.target_groups)) or ct.target_population,
                                   "mechanism": ct.model_template, "error": ""}
            rows.append(row)
            try:
                st = self._states.get(ct.key) or self._new_state(ct)
                self._states.setdefault(ct.key, st)
            except Exception as err:
                row["error"] = str(err)
                continue
            items.append((row, st, self._job_kwargs(st, p, kind, stream=False)))
        outs = get_executor(self.executor).map(self._run_job, [kw for _, _, kw in items], timeout=300)
        for (row, st, _), out in zip(items, outs, strict=True):
            if isinstance(out, BaseException):
                row["error"] = str(out)
                continue
            res = analyse_run(out, p, kind, self.convention, label=st.label, params=dict(st.params))
            row["no_response"] = res.no_response or ""  # the row is marked: no metrics, and why
            for k, v in res.metrics.items():
                if isinstance(v, list) or k in ("sign", "baseline", "t_peak_ms"):
                    continue
                unit = res.units.get(k, "")
                col = k if k.endswith("_ms") or unit in ("", "1") else f"{k}_{unit}"
                row[col] = v
            row["placement"] = f"{res.placement.get('section', '')}({res.placement.get('x', 0.5):.3g})"
        df = pd.DataFrame(rows)
        self._table = df
        return df

    def synaptic_table_figure(self, table: Any = None, metric: str | None = None) -> Any:
        """A matplotlib bar chart of one metric of :meth:`synaptic_table` per connection."""
        import matplotlib

        if "matplotlib.pyplot" not in __import__("sys").modules:
            matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        df = table if table is not None else getattr(self, "_table", None)
        if df is None:
            df = self.synaptic_table()
        if metric is None:
            metric = next((c for c in df.columns if c.startswith("amplitude")), None)
        if metric is None or metric not in df:
            raise TunerError(f"no metric {metric!r} in the table; columns: {', '.join(df.columns)}")
        fig, ax = plt.subplots(figsize=(max(4.0, 0.6 * len(df)), 3.2))
        ax.bar(df["connection"], df[metric].astype(float), color="#4c72b0")
        ax.set_ylabel(metric)
        ax.set_title("synaptic table")
        ax.tick_params(axis="x", rotation=60, labelsize=8)
        fig.tight_layout()
        return fig

    # --- saving ---------------------------------------------------------------------------
    def preview_save(self) -> str:
        """What :meth:`save` would change, one line per parameter (``tau2: 8.0 -> 9.5 ms``)."""
        from bmtool_lab.model.dynamics import diff_dynamics, format_diff

        st = self._st()
        if st.ct is None or st.ct.dynamics_path is None:
            return format_diff([]) if not self._updates(st) else \
                "\n".join(f"{k}: (new) {v!r}" for k, v in self._updates(st).items())
        return format_diff(diff_dynamics(st.ct.dynamics_path, self._updates(st)))

    def save(self, shared: str | None = None) -> Any:
        """Write the tuned parameters into the selected connection's dynamics JSON.

        Only changed keys are written (``erev`` stays ``erev``; unknown keys and their order are
        kept); atomic, with a backup; NaN refused; a file changed on disk since it was loaded is
        refused. When several edge types share the file, raises TunerError unless
        ``shared="ok"`` (then all of them change) — or use :meth:`save_as`. Emits "saved".
        """
        from bmtool_lab.model.dynamics import DynamicsError, save_dynamics, shared_users

        st = self._st()
        if st.ct is None:
            raise TunerError("this tuner has no dynamics file (built without BMTK): use save_as('name.json')")
        if st.ct.dynamics_path is None:
            raise TunerError(f"{st.label}: the edge type names no dynamics file")
        users = shared_users(self._all_types, st.ct.dynamics_path)
        if len(users) > 1 and shared != "ok":
            names = ", ".join(u.name for u in users)
            raise TunerError(f"{Path(st.ct.dynamics_path).name} is shared by {len(users)} edge types ({names}); "
                             "saving changes all of them. Call save(shared='ok') to do that, or "
                             f"save_as('{Path(st.ct.dynamics_path).stem}_new.json') to give {st.label} its own file.")
        updates = self._updates(st)
        for k, v in updates.items():
            if not math.isfinite(v):
                raise TunerError(f"{k} = {v!r} is not a finite number: nothing was saved")
        try:
            result = save_dynamics(st.ct.dynamics_path, updates, backup=True, expected_mtime=st.mtime_ns)
        except DynamicsError as err:
            self._emit("error", err)
            raise
        self._reload_file(Path(st.ct.dynamics_path), result.mtime_ns)
        self._emit("saved", result)
        return result

    def _reload_file(self, path: Path, mtime_ns: int) -> None:
        from bmtool_lab.model.dynamics import load_dynamics_with_mtime

        fresh, mtime = load_dynamics_with_mtime(path)
        for st in self._states.values():
            if st.ct is not None and st.ct.dynamics_path is not None and Path(st.ct.dynamics_path).resolve() \
                    == path.resolve():
                st.file_params, st.mtime_ns = dict(fresh), mtime

    def save_as(self, new_name: str | Path, repoint: str | Iterable[Any] = "all", overwrite: bool = False) -> Any:
        """Save the tuned parameters to a new dynamics JSON (in synaptic_models_dir) and point edge
        types at it in the edge-types CSV: ``repoint="all"`` (every type sharing the current
        file), or a list of names / (population, id) / ConnectionTypes (the current one is
        always included). Connection types are re-read afterwards; unsaved tuning of other
        connections is kept. Emits "saved".
        """
        from bmtool_lab.model.dynamics import DynamicsError, save_as_new, shared_users

        st = self._st()
        params = {k: v for k, v in st.params.items()}
        if st.ct is None:
            try:
                res = save_as_new(new_name, {**st.file_params, **params}, [], source_path=None, overwrite=overwrite)
            except DynamicsError as err:
                self._emit("error", err)
                raise
            st.file_params = {**st.file_params, **params}
            self._emit("saved", res)
            return res
        if repoint == "all":
            types = shared_users(self._all_types, st.ct.dynamics_path) if st.ct.dynamics_path else [st.ct]
        else:
            types = [self._find(r) for r in repoint]  # type: ignore[union-attr]
            if st.ct.key not in {t.key for t in types}:
                types.insert(0, st.ct)
        try:
            res = save_as_new(new_name, params, types, source_path=st.ct.dynamics_path, overwrite=overwrite,
                              synaptic_models_dir=self.config.synaptic_models_dir if self.config else None)
        except DynamicsError as err:
            self._emit("error", err)
            raise
        self._refresh_types()
        self._emit("saved", res)
        return res

    def _refresh_types(self) -> None:
        """Re-read the connection types after the edge-types CSV changed; keep every state."""
        from bmtool_lab.model.connection_types import list_connection_types
        from bmtool_lab.model.dynamics import load_dynamics_with_mtime
        from bmtool_lab.model.sonata import clear_cache

        clear_cache()
        self._all_types = list_connection_types(self.config)
        self.connections = [ct for ct in self._all_types if not ct.is_gap_junction]
        self.gap_junctions = [ct for ct in self._all_types if ct.is_gap_junction]
        by_key = {ct.key: ct for ct in self._all_types}
        for st in self._states.values():
            ct = by_key.get(st.key)
            if ct is None:
                continue
            moved = st.ct is not None and ct.dynamics_path != st.ct.dynamics_path
            st.ct, st.label = ct, ct.name
            st.spec = replace(st.spec, label=ct.name)
            if moved and ct.dynamics_path is not None:
                st.file_params, st.mtime_ns = load_dynamics_with_mtime(ct.dynamics_path)

    # the dashboard (``.widget``, display in a cell): ShowsDashboard, built by bmtool_lab.widgets.registry
    def __repr__(self) -> str:
        n = len(self.connections)
        what = f"{n} connections" if self.config is not None else "no BMTK network"
        return f"SynapseTuner({what}, selected={self.name!r}, unsaved={self.unsaved})"


# --- analysis (kernel side, pure numpy) -------------------------------------------------------
def analyse_run(out: dict, p: SynapseProtocol, kind: str, convention: str = "bmtool_lab", *, label: str = "",
                params: dict | None = None, notes: Sequence[str] = ()) -> SynapseResult:
    """A SynapseResult/TrainResult from one worker run; the metrics (reference/metrics.md §1–2)
    are measured in the worker (single-threaded BLAS) unless the run came without them."""
    analysed = "i_clamp" if p.clamp == "voltage" else "v_soma"
    measured = out.get("measured")
    if measured is None:
        measured = measure_run(out, measure_settings(p, convention), kind)
    metrics, units, kernel = measured["metrics"], measured["units"], measured.get("kernel")
    info = {k: out.get(k) for k in ("mechanism", "applied", "clamp_present", "n_netcons_to_synapse", "e_rev_mV",
                                    "n_points", "solver_steps", "measure_ms", "job_ms", "model_id",
                                    "no_response")}
    res_cls = {"train": TrainResult, "poisson": PoissonResult}.get(kind, SynapseResult)
    kwargs: dict[str, Any] = dict(
        kind=kind, connection=label, t_ms=np.asarray(out["t"], dtype=np.float64),
        traces={k: np.asarray(v, dtype=np.float32) for k, v in out["traces"].items()},
        trace_units=dict(out["units"]), analysed=analysed,
        pulse_times_ms=np.asarray(out["pulse_times_ms"], dtype=np.float64), metrics=metrics, units=units,
        params=dict(params or {}), protocol=copy.copy(p), placement=dict(out.get("placement") or {}),
        notes=list(notes) + list(out.get("notes") or [])
        + ([f"no response: {out['no_response']}; no metrics"] if out.get("no_response") else []), sim_ms=float(out.get("sim_ms", float("nan"))),
        restored=bool(out.get("restored", False)), kernel=kernel, info=info,
    )
    if kind in ("train", "poisson"):
        kwargs["amplitudes"] = np.asarray(metrics["amplitudes"])
    return res_cls(**kwargs)


def measure_settings(p: SynapseProtocol, convention: str) -> MeasureSettings:
    """What the worker needs to measure a run of protocol ``p``."""
    return MeasureSettings(analysed="i_clamp" if p.clamp == "voltage" else "v_soma", window_ms=p.window_ms,
                           rise_levels=tuple(p.rise_levels), amplitude_method=p.amplitude_method,
                           normaliser=p.normaliser, convention=convention, dt=p.dt, n_train=p.n_train,
                           n_rec=p.n_rec)


# --- helpers ----------------------------------------------------------------------------------
def _unit(st: _ConnState, name: str) -> str:
    from bmtool_lab.model.dynamics import UNITS

    mech_name = dict(st.spec.renames).get(name, name)
    if st.mech is not None:
        for p in st.mech["parameters"]:
            if p["name"] == mech_name and p.get("unit"):
                return "µS" if p["unit"] == "uS" else p["unit"]
    return UNITS.get(name, "")


def _mech_default(st: _ConnState, name: str, fallback: float) -> float:
    mech_name = dict(st.spec.renames).get(name, name)
    for p in (st.mech or {}).get("parameters", []):
        if p["name"] == mech_name:
            return float(p["default"])
    return float(fallback)


def _check_known(st: _ConnState, values: dict[str, Any]) -> None:
    if st.mech is None:
        known = set(_numeric(st.file_params))
    else:
        renames = dict(st.spec.renames)
        mech_names = {p["name"] for p in st.mech["parameters"]}
        known = {k for k in renames if renames[k] in mech_names} | mech_names
        if st.spec.hook_model:  # the model's synapse function reads the file's own keys
            known |= set(_numeric(st.file_params))
    unknown = [k for k in values if k not in known]
    if unknown:
        raise TunerError(f"{st.spec.mechanism} has no parameter {', '.join(map(repr, unknown))}; its parameters "
                         f"are: {', '.join(sorted(known))}")


def _bionet_weight(ct: Any) -> tuple[float, str]:
    """NetCon weight (µS) BioNet gives this edge type, and a note when it is uncertain."""
    w = ct.syn_weight
    if w is None:
        return 0.0, "the edge type has no syn_weight: NetCon weight 0 (no response)"
    fn = ct.weight_function
    if fn is None or fn in IDENTITY_WEIGHT_FUNCTIONS:
        return float(w), ""
    if fn == "gaussianLL":
        return float(w), "weight_function gaussianLL scales syn_weight by tuning-angle difference per pair: " \
                         "tuned at its maximum (syn_weight)"
    return float(w), f"weight_function {fn!r} is not one of bmtk's built-in functions, so the tuner cannot " \
                     "apply it: using syn_weight as the NetCon weight"


def _afferent_location(config: Any, ct: Any, index: int) -> tuple[int, float]:
    """afferent_section_id/pos of the ``index``-th edge of a type (BioNet's preselected placement)."""
    from bmtool_lab.model.sonata import SonataNetwork

    edges = SonataNetwork(config).edge_population(ct.edge_population)
    if "afferent_section_id" not in edges.edge_attribute_names():
        raise TunerError(f"{ct.name}: its edges have no afferent_section_id; use placement='distance'")
    rows = np.flatnonzero(edges.edge_type_ids() == ct.edge_type_id)
    if not 0 <= index < rows.size:
        raise TunerError(f"{ct.name}: edge_index {index} is outside its {rows.size} edges")
    sec_id = edges.values("afferent_section_id")[rows[index]]
    pos = edges.values("afferent_section_pos")[rows[index]] if "afferent_section_pos" in \
        edges.edge_attribute_names() else 0.5
    return int(sec_id), float(pos)


def _cell_from_template(template: Any, mechanisms_dir: Any, templates_dir: Any) -> Any:
    """A CellType (or a builder function) from the ``template`` argument of a tuner without BMTK."""
    import re

    from bmtool_lab.model.cell_types import CellType, hoc_templates_in

    if isinstance(template, CellType):
        if mechanisms_dir and template.mechanisms_dir is None:
            return template.with_changes(mechanisms_dir=Path(mechanisms_dir).resolve())
        return template
    if callable(template):
        return template
    text = str(template)
    name = None
    m = re.match(r"^(.*\.hoc):(\w+)$", text)
    if m:
        text, name = m.group(1), m.group(2)
    path = Path(text).expanduser()
    if path.suffix == ".hoc":
        if not path.is_file():
            raise TunerError(f"hoc file {path} does not exist")
        found = re.findall(r"^\s*begintemplate\s+(\w+)", path.read_text(errors="replace"), re.MULTILINE)
        if name is None:
            if len(found) != 1:
                raise TunerError(f"{path} defines {len(found)} templates ({', '.join(found)}); "
                                 f"say which: '{path}:Name'")
            name = found[0]
        elif name not in found:
            raise TunerError(f"{path} does not define template {name!r} (it defines {', '.join(found) or 'none'})")
        return CellType.from_hoc(name, hoc_file=path, mechanisms_dir=mechanisms_dir)
    if templates_dir is None:
        raise TunerError(f"template {text!r}: give a .hoc file path, or templates_dir= to find it in")
    if text not in hoc_templates_in(Path(templates_dir)):
        raise TunerError(f"no .hoc file in {templates_dir} defines template {text!r}")
    return CellType.from_hoc(text, templates_dir=templates_dir, mechanisms_dir=mechanisms_dir)


def __getattr__(name: str) -> Any:
    """GapJunctionTuner / GapJunctionResult moved to :mod:`bmtool_lab.tuning.gap_junction`;
    still importable from here."""
    if name in ("GapJunctionTuner", "GapJunctionResult"):
        from bmtool_lab.tuning import gap_junction

        return getattr(gap_junction, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
