"""PointNet (NEST) jobs: synapse runs and current steps of point neurons, in worker processes.

NEST is optional (``pip install "bmtool-lab[nest]"``). Nothing here imports ``nest`` at module
level: the kernel imports this module to name the jobs, and NEST is imported only inside a
worker, the first time a job needs it (kept there: later runs reset NEST's kernel and rebuild
the few nodes of a protocol, which takes milliseconds).

Synapse protocol (:func:`nest_synapse_run_job`): ``spike_generator → parrot_neuron → post``.
NEST refuses plastic synapses (tsodyks2, stdp...) from devices, so the parrot relays the
stimulus through the edge type's own synapse model, and the synapse keeps its state across the
train and the recovery pulses (one connection, one history). The generator fires one
resolution step before each pulse time so the parrot spikes exactly at the pulse times; the
synapse's delay comes on top, as a NetCon delay does in the BioNet tuner. A second post cell,
driven the same way by the first pulse only, records the single-event kernel used to
deconvolve train amplitudes. A multimeter records V_m (and the synaptic current of
current-based models) at the resolution.

Current steps (:func:`nest_step_job`): one NEST run holds one copy of the cell per step
amplitude (they are not connected), each with its own step current (``I_e`` changed between
``Simulate`` calls, or a ``step_current_generator`` for models without ``I_e``), so an F–I
chunk or a rheobase grid is one ``Simulate``; spikes come from a ``spike_recorder`` (an
integrate-and-fire V_m jumps to V_reset and never shows a spike peak).
"""

from __future__ import annotations

import difflib
import math
import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..analysis.stp import poisson_pulse_times, train_pulse_times
from ..model.pointnet import PointNetUnavailable
from .errors import SimError
from .synapse_jobs import measure_run

if TYPE_CHECKING:  # the type only
    from .context import WorkerContext

__all__ = ["NEST_INSTALL_HINT", "PointCellSpec", "PointSynapseSpec", "describe_nest_job", "nest_available",
           "nest_step_job", "nest_synapse_run_job", "nest_version_job", "synapse_param_unit"]

NEST_INSTALL_HINT = ('PointNet models need the NEST simulator: pip install "bmtool-lab[nest]" '
                     '(or pip install "nest-simulator>=3.6") into the environment of the kernel and workers')

#: Keys of nest.GetDefaults(synapse_model) that are not user-settable parameters.
_SYNAPSE_READONLY = frozenset({
    "num_connections", "sizeof", "synapse_modelid", "element_type", "has_delay", "requires_symmetric",
    "weight_recorder", "synapse_model", "receptor_type", "synapse_label",
})
#: Keys of a neuron model's defaults that describe it rather than set it.
_CELL_READONLY = frozenset({
    "archiver_length", "available", "capacity", "element_type", "elementsize", "frozen", "global_id",
    "instantiations", "local", "model", "model_id", "node_uses_wfr", "thread", "thread_local_id", "vp",
    "t_spike", "post_trace", "type_id", "recordables", "synaptic_elements",
})
#: Edge properties, not dynamics parameters: they come from the edge types / edges.
EDGE_KEYS = frozenset({"weight", "delay"})
#: NEST 2 GLIF names that bmtk converts from Allen (AIBS) parameter files to NEST 3's glif_psc.
_AIBS_GLIFS = frozenset({"glif_lif_psc", "glif_lif_r_psc", "glif_lif_asc_psc", "glif_lif_r_asc_psc",
                         "glif_lif_r_asc_a_psc", "glif_lif_psc_bix", "glif_lif_r_psc_bix",
                         "glif_lif_asc_psc_bix", "glif_lif_r_asc_psc_bix", "glif_lif_r_asc_a_psc_bix"})

_SYNAPSE_UNITS = {
    **dict.fromkeys(("tau_rec", "tau_fac", "tau_psc", "tau_plus", "tau_minus", "delay", "tau_c", "tau_n"), "ms"),
    **dict.fromkeys(("U", "u", "x", "y", "alpha", "lambda", "mu_plus", "mu_minus", "Kplus", "Kplus_triplet"), "1"),
}


def synapse_param_unit(name: str, weight_unit: str) -> str:
    """Unit of a NEST synapse parameter (``Wmax`` and ``weight`` in the post model's weight unit)."""
    if name in ("weight", "Wmax", "Wmin"):
        return weight_unit
    return _SYNAPSE_UNITS.get(name, "ms" if name.startswith("tau") else "")


def nest_available() -> bool:
    """True when ``import nest`` would find NEST (checked without importing it)."""
    import importlib.util

    return importlib.util.find_spec("nest") is not None


def require_nest() -> None:
    """Raise :class:`~bmtool_lab.model.pointnet.PointNetUnavailable` (with the install command)
    when NEST is missing."""
    if not nest_available():
        raise PointNetUnavailable(NEST_INSTALL_HINT)


# --- specs (picklable, built in the kernel) -------------------------------------------------
@dataclass(frozen=True)
class PointCellSpec:
    """A point neuron of a PointNet model: ``template`` as the node type writes it
    (``nest:iaf_psc_alpha``, ``nest:glif_psc``, or a NEST 2 GLIF name with an Allen parameter
    file, which bmtk converts) and ``params``, its dynamics JSON (NEST names and units)."""

    label: str
    template: str
    params: tuple[tuple[str, Any], ...] = ()

    @property
    def model(self) -> str:
        return self.template.split(":", 1)[1] if ":" in self.template else self.template


@dataclass(frozen=True)
class PointSynapseSpec:
    """One connection type on NEST: the post cell, the edge type's synapse model and its extra
    (non-tuned) keys (``receptor_type``), the weight (pA for current-based, nS for
    conductance-based models) and delay (ms)."""

    label: str
    cell: PointCellSpec
    synapse_model: str
    weight: float
    delay_ms: float
    fixed: tuple[tuple[str, Any], ...] = field(default=())
    #: what the BioNet tuner's shared code reads from a spec: no renames, no model hook
    renames: tuple[tuple[str, str], ...] = ()
    hook_model: Any = None

    @property
    def mechanism(self) -> str:
        return self.synapse_model


# --- NEST in the worker ---------------------------------------------------------------------
def _nest() -> Any:
    """``nest``, imported once in this process (quietly); SimError with the install hint if absent."""
    os.environ.setdefault("PYNEST_QUIET", "1")
    try:
        import nest  # noqa: PLC0415
    except ImportError as exc:
        raise SimError("model", NEST_INSTALL_HINT, detail=repr(exc)) from None
    if not getattr(_nest, "_quiet", False):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                nest.set_verbosity("M_ERROR")
            except Exception:  # pragma: no cover - newer NEST
                pass
        _nest._quiet = True  # type: ignore[attr-defined]
    return nest


def _reset(nest: Any, dt: float) -> None:
    nest.ResetKernel()
    nest.set(resolution=float(dt), local_num_threads=1, print_time=False)


def _nest_error(exc: BaseException, what: str) -> SimError:
    """A NEST exception (BadProperty, UnknownModelName...) as SimError("model") with NEST's text."""
    text = str(exc).strip() or repr(exc)
    return SimError("model", f"NEST rejected {what}: {type(exc).__name__}: {text}")


def _is_nest_error(exc: BaseException) -> bool:
    return any(c.__module__ in ("NESTErrors",) or c.__name__ == "KernelException" for c in type(exc).__mro__)


def _check_model(nest: Any, name: str, kind: str) -> None:
    known = list(nest.node_models if kind == "neuron" else nest.synapse_models)
    if name in known:
        return
    close = difflib.get_close_matches(name, known, n=4, cutoff=0.5)
    hint = ""
    if name in _AIBS_GLIFS:
        hint = (" (a NEST 2 GLIF name: bmtk converts it to glif_psc only from an Allen parameter file with "
                "'coeffs'; with NEST parameters write nest:glif_psc and its flags, e.g. after_spike_currents)")
    elif close:
        hint = f"; did you mean {', '.join(close)}?"
    raise SimError("model", f"NEST {nest.__version__} has no {kind} model {name!r}{hint}")


def resolve_cell(nest: Any, cell: PointCellSpec) -> tuple[str, dict[str, Any]]:
    """(NEST model, parameters to create it with), as bmtk's PointNet does: Allen GLIF files are
    converted (bmtk's glif_utils), other dynamics JSONs passed as they are."""
    params = dict(cell.params)
    model = cell.model
    if model in _AIBS_GLIFS and "coeffs" in params:
        from bmtk.simulator.pointnet.glif_utils import convert_aibs2nest

        template, params = convert_aibs2nest(cell.template if ":" in cell.template else f"nest:{model}", params)
        model = template.split(":", 1)[1]
    _check_model(nest, model, "neuron")
    params = {k: (list(v) if isinstance(v, tuple) else v) for k, v in params.items()}
    return model, params


def _create_cells(nest: Any, cell: PointCellSpec, n: int) -> tuple[Any, str]:
    model, params = resolve_cell(nest, cell)
    try:
        return nest.Create(model, n, params=params or None), model
    except Exception as exc:
        if _is_nest_error(exc):
            raise _nest_error(exc, f"the parameters of {cell.label} ({model})") from None
        raise


def _numeric_items(d: dict[str, Any], skip: frozenset) -> dict[str, float]:
    out = {}
    for k, v in d.items():
        if k in skip or isinstance(v, bool):
            continue
        if isinstance(v, (int, float, np.integer, np.floating)) and math.isfinite(float(v)):
            out[k] = float(v)
    return out


def _current_keys(recordables: list[str]) -> tuple[str, ...]:
    if "I_syn" in recordables:
        return ("I_syn",)
    return tuple(k for k in ("I_syn_ex", "I_syn_in") if k in recordables)


def nest_version_job(ctx: WorkerContext) -> str:
    """NEST's version in this worker (SimError with the install hint without NEST)."""
    return str(_nest().__version__)


def describe_nest_job(ctx: WorkerContext, cell: PointCellSpec, synapse_model: str | None = None) -> dict:
    """What the tuner and profiler need to know about a cell model (and a synapse model).

    ``{"nest_version", "cell": {"model", "params" (the cell's numeric parameters as created),
    "recordables", "current_based"}, "synapse": {"model", "parameters": [{"name", "default",
    "unit"}], "weight_unit"}}``. Unknown models raise SimError("model") naming close matches.
    """
    nest = _nest()
    _reset(nest, 0.1)
    nodes, model = _create_cells(nest, cell, 1)
    status = nodes.get()
    recordables = [str(r) for r in status.get("recordables", ())]
    current_based = "_cond" not in model
    out: dict[str, Any] = {
        "nest_version": str(nest.__version__),
        "cell": {"model": model, "params": _numeric_items(status, _CELL_READONLY), "recordables": recordables,
                 "current_based": current_based, "current_keys": list(_current_keys(recordables))},
    }
    if synapse_model is not None:
        _check_model(nest, synapse_model, "synapse")
        defaults = nest.GetDefaults(synapse_model)
        weight_unit = "pA" if current_based else "nS"
        params = _numeric_items(defaults, _SYNAPSE_READONLY | EDGE_KEYS)
        out["synapse"] = {
            "model": synapse_model, "weight_unit": weight_unit,
            "parameters": [{"name": k, "default": v, "unit": synapse_param_unit(k, weight_unit)}
                           for k, v in params.items()],
        }
    return out


# --- synapse runs ---------------------------------------------------------------------------
def _on_grid(times: np.ndarray, dt: float) -> np.ndarray:
    return np.round(np.asarray(times, dtype=float) / dt) * dt


def _pulse_times(proto: Any) -> np.ndarray:
    if proto.kind == "single":
        pts = np.array([proto.t_start_ms])
    elif proto.kind == "train":
        pts = train_pulse_times(proto.freq_hz, proto.n_train, proto.n_rec, proto.recovery_delay_ms, proto.t_start_ms)
    else:
        pts = poisson_pulse_times(proto.poisson_rate_hz, proto.poisson_duration_ms, proto.seed, proto.t_start_ms)
    return np.unique(_on_grid(pts, proto.dt))  # Poisson events in one step merge (NEST: one spike per step)


def _drive(nest: Any, post: Any, times: np.ndarray, syn_spec: dict[str, Any], dt: float, label: str) -> None:
    """spike_generator (one step early) → parrot_neuron → post through the edge's synapse."""
    gen = nest.Create("spike_generator", params={"spike_times": [float(t) for t in _on_grid(times - dt, dt)]})
    relay = nest.Create("parrot_neuron")
    nest.Connect(gen, relay, syn_spec={"synapse_model": "static_synapse", "weight": 1.0, "delay": float(dt)})
    try:
        nest.Connect(relay, post, syn_spec=dict(syn_spec))  # NEST consumes the dict it is given
    except Exception as exc:
        if _is_nest_error(exc):
            shown = {k: v for k, v in syn_spec.items() if k != "synapse_model"}
            err = _nest_error(exc, f"the synapse of {label} ({syn_spec['synapse_model']} with {shown})")
            if "ReceptorType" in type(exc).__name__:
                raise SimError("model", err.message + _receptor_hint(post)) from None
            raise err from None
        raise


def _receptor_hint(post: Any) -> str:
    """What receptor_type the post cell takes (its receptor_types, or the ports of glif_psc's tau_syn)."""
    status = post.get()
    ports = status.get("receptor_types")
    if ports:
        allowed = ", ".join(f"{v} ({k})" for k, v in dict(ports).items())
    elif status.get("tau_syn") is not None and np.size(status["tau_syn"]):  # glif_psc: one port per tau_syn
        allowed = ", ".join(str(i + 1) for i in range(int(np.size(status["tau_syn"]))))
    else:
        return " The post cell has no receptor ports: leave receptor_type out of the edge type's dynamics JSON."
    return f" Set receptor_type in the edge type's dynamics JSON to one of the post cell's ports: {allowed}."


def _record(nest: Any, mm: Any, node: Any, keys: dict[str, str]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    ev = mm.events
    sel = np.asarray(ev["senders"]) == node.global_id
    t = np.asarray(ev["times"], dtype=np.float64)[sel]
    return t, {name: np.asarray(ev[k], dtype=np.float64)[sel] for name, k in keys.items()}


def nest_synapse_run_job(ctx: WorkerContext, spec: PointSynapseSpec, params: dict[str, float], proto: Any,
                         measure: Any = None) -> dict:
    """One synapse run on NEST: single event, train + recovery or Poisson (``proto`` is the
    BioNet tuner's RunProtocol: kind, t_start_ms, freq_hz, n_train, n_rec, recovery_delay_ms,
    tail_ms, dt (the NEST resolution), clamp, kernel...).

    ``clamp="current"`` analyses V_m ("v_soma", mV); ``"voltage"`` the current an ideal clamp
    would supply, ``-I_syn`` ("i_clamp", pA), exact for current-based models (their synaptic
    current does not depend on V_m). Returns the BioNet job's dict (t, traces, units,
    pulse_times_ms, kernel, netcon_delay_ms, sim_ms, measured...) so the same analysis applies.
    """
    t0 = time.perf_counter()
    nest = _nest()
    dt = float(proto.dt)
    delay = float(round(spec.delay_ms / dt) * dt) if spec.delay_ms > 0 else dt
    pulses = _pulse_times(proto)
    if pulses[0] < 2 * dt:
        raise SimError("model", f"the first pulse ({pulses[0]} ms) must come at least two resolution steps "
                                f"({2 * dt} ms) after the start")
    last = float(pulses[-1])
    tail = max(float(proto.tail_ms), 10.0 * dt)
    tstop = last + delay + tail
    _reset(nest, dt)
    n_post = 2 if (proto.kernel and proto.kind != "single") else 1
    post, model = _create_cells(nest, spec.cell, n_post)
    recordables = [str(r) for r in post[0].get("recordables")]
    keys = {"v_soma": "V_m"}
    units = {"v_soma": "mV"}
    cur = _current_keys(recordables)
    if proto.clamp == "voltage":
        if not cur or "_cond" in model:
            raise SimError("model", f"clamp='voltage' needs a current-based NEST model that records its synaptic "
                                    f"current; {model} records {recordables}: use clamp='current' (V_m)")
    keys.update({k: k for k in cur})
    syn_spec = {"synapse_model": spec.synapse_model, "weight": float(spec.weight), "delay": delay,
                **dict(spec.fixed), **{k: float(v) for k, v in params.items()}}
    _check_model(nest, spec.synapse_model, "synapse")
    _drive(nest, post[0], pulses, syn_spec, dt, spec.label)
    if n_post == 2:
        _drive(nest, post[1], pulses[:1], syn_spec, dt, spec.label)
    mm = nest.Create("multimeter", params={"record_from": sorted(set(keys.values())), "interval": dt})
    nest.Connect(mm, post)
    t_sim = time.perf_counter()
    nest.Simulate(tstop)
    sim_ms = (time.perf_counter() - t_sim) * 1e3

    def traces_of(node: Any) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        t, raw = _record(nest, mm, node, keys)
        out = {"v_soma": raw["v_soma"]}
        if cur:
            out["i_syn"] = sum(raw[k] for k in cur)
            if proto.clamp == "voltage":
                out["i_clamp"] = -out["i_syn"]
        return t, out

    t, traces = traces_of(post[0])
    if cur:
        units["i_syn"] = "pA"
        if proto.clamp == "voltage":
            units["i_clamp"] = "pA"
    out: dict[str, Any] = {
        "t": t, "traces": {k: v.astype(np.float32) for k, v in traces.items()}, "units": units,
        "pulse_times_ms": pulses, "netcon_delay_ms": delay, "sim_ms": sim_ms, "solver_steps": False,
        "mechanism": spec.synapse_model, "model_id": model, "applied": dict(syn_spec),
        "placement": {"section": model, "x": 0.5, "distance_um": 0.0},
        "stim_window_ms": (float(proto.t_start_ms), float(proto.t_start_ms + proto.poisson_duration_ms)),
        "notes": [],
    }
    if n_post == 2:
        tk, kt = traces_of(post[1])
        out["kernel"] = {"t": tk - pulses[0], "traces": kt}
    if float(spec.weight) == 0.0:
        out["no_response"] = "the weight is 0"
    if measure is not None:  # metrics in the worker, as the BioNet job does
        out.update(_timed_measure(out, measure, proto.kind))
    out["job_ms"] = (time.perf_counter() - t0) * 1e3
    return out


def _timed_measure(out: dict, measure: Any, kind: str) -> dict:
    start = time.perf_counter()
    return {"measured": measure_run(out, measure, kind), "measure_ms": (time.perf_counter() - start) * 1e3}


# --- current steps --------------------------------------------------------------------------
def nest_step_job(ctx: WorkerContext, cell: PointCellSpec, amps_pA: list[float], t_on_ms: float = 100.0,
                  dur_ms: float = 1000.0, tail_ms: float = 100.0, dt: float = 0.1, record_v: bool = False,
                  v_index: int | None = None) -> dict:
    """Current steps of ``amps_pA`` (pA) from ``t_on_ms`` for ``dur_ms``, one cell copy each, in one
    NEST run. Returns ``{"amps_pA", "n_spikes" (inside the step), "rates_hz", "spike_times" (per
    step, ms), "t", "v"}``; ``v`` (V_m, mV) for every step when ``record_v``, else only for
    ``v_index`` (or none)."""
    nest = _nest()
    _reset(nest, dt)
    if t_on_ms < 2 * dt:
        raise SimError("model", f"t_on_ms must be >= two resolution steps ({2 * dt} ms), got {t_on_ms}")
    amps = [float(a) for a in amps_pA]
    cells, _model = _create_cells(nest, cell, len(amps))
    t_on, t_off = float(t_on_ms), float(t_on_ms + dur_ms)
    # I_e (constant over each step of the exact integration) is 5-10x faster than a device per
    # cell, which sends a current event every step; models without I_e (glif_psc) get devices
    use_ie = "I_e" in cells[0].get()
    if not use_ie:
        for node, amp in zip(cells, amps, strict=True):
            gen = nest.Create("step_current_generator", params={"amplitude_times": [t_on - dt, t_off - dt],
                                                                "amplitude_values": [amp, 0.0]})
            # one step early with the shortest delay: the current acts on the cell from t_on to t_off
            nest.Connect(gen, node, syn_spec={"delay": float(dt)})
    rec = nest.Create("spike_recorder")
    nest.Connect(cells, rec)
    watched = cells if record_v else (cells[v_index] if v_index is not None else None)
    mm = None
    if watched is not None:
        mm = nest.Create("multimeter", params={"record_from": ["V_m"], "interval": dt})
        nest.Connect(mm, watched)
    t_sim = time.perf_counter()
    if use_ie:
        base = np.asarray(cells.get("I_e"), dtype=float).reshape(-1)
        nest.Simulate(t_on)
        cells.set(I_e=list(base + np.asarray(amps)))
        nest.Simulate(float(dur_ms))
        cells.set(I_e=list(base))
        nest.Simulate(float(tail_ms))
    else:
        nest.Simulate(t_off + float(tail_ms))
    sim_ms = (time.perf_counter() - t_sim) * 1e3
    ev = rec.events
    senders, times = np.asarray(ev["senders"]), np.asarray(ev["times"], dtype=np.float64)
    spikes = [times[senders == node.global_id] for node in cells]
    n_in = [int(np.count_nonzero((s >= t_on) & (s < t_off))) for s in spikes]
    out: dict[str, Any] = {"amps_pA": amps, "n_spikes": n_in,
                           "rates_hz": [n / (dur_ms / 1000.0) for n in n_in],
                           "spike_times": [s.tolist() for s in spikes], "sim_ms": sim_ms}
    if mm is not None:
        mev = mm.events
        ms = np.asarray(mev["senders"])
        mt = np.asarray(mev["times"], dtype=np.float64)
        mv = np.asarray(mev["V_m"], dtype=np.float64)
        ids = [node.global_id for node in (cells if record_v else [watched])]
        out["t"] = mt[ms == ids[0]]
        out["v"] = [mv[ms == i].astype(np.float32) for i in ids]
    return out
