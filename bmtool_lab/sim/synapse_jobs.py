"""Worker side of the synapse tuner: build the postsynaptic cell once, place one synapse the way
BioNet does, and run single-event / train protocols through ONE NetCon.

Everything here runs inside worker processes (NEURON is imported only inside functions); the
kernel imports this module only to name the jobs and to build the picklable specs.

BioNet semantics reproduced (bmtk 1.x, ``default_setters/synapse_models.py`` and
``biocell.py``):

- the synapse mechanism is the edge type's ``model_template``: BioNet's built-in ``exp2syn`` /
  ``Exp2Syn`` are NEURON's ``Exp2Syn`` with ``erev → e``; ``expsyn`` is ``ExpSyn`` with
  ``erev → e``, ``tau1 → tau``; any other name is a POINT_PROCESS of the model's mod files,
  set like the example's registered model: ``erev → e``, every other key of the dynamics JSON
  set when the point process has it, descriptive keys (``level_of_detail``, ``notes``...)
  skipped;
- NetCon ``weight[0]`` = the edge's ``syn_weight`` (after a known ``weight_function``),
  ``delay`` = the edge's delay (ms); nothing is forced into ``initW``;
- placement: segments whose section type (``soma``/``dend``/``apic``/``axon``, i.e.
  ``somatic``/``basal``/``apical``/``axonal``) is in ``target_sections`` and whose extent
  overlaps ``distance_range`` (µm from ``soma(0)``); BioNet draws one at random, we take
  the allowed segment whose centre is closest to the middle of the allowed distances (the
  range clipped to where allowed segments are) and report it. Or an edge's
  ``afferent_section_id`` (index into the cell's ``all`` list) / ``afferent_section_pos``.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..analysis.stp import poisson_pulse_times, train_pulse_times
from ..analysis.synapse_measure import (
    DRIFT_WARN_FRACTION,
    MeasureSettings,
    holding_drift,
    measure_run,
    no_response_reason,
)
from .errors import SimError
from .mechanism_info import (
    _initial_params,
    _load_mechanisms,
    _mech_names,
    _require_mechanism,
    describe_mechanism_job,
)
from .model_hooks import build_with_hook, mechanism_of, registered_synapse_model

if TYPE_CHECKING:  # the type only
    from .context import WorkerContext

__all__ = [
    "DESCRIPTIVE_KEYS", "BIONET_MODELS", "Placement", "SynapseSpec", "RunProtocol",
    "bionet_mechanism", "describe_mechanism_job", "synapse_run_job", "count_clamps_job",
    # measuring, now in bmtool_lab.analysis.synapse_measure (importable from here too)
    "MeasureSettings", "measure_run", "holding_drift", "no_response_reason",
]

#: Dynamics-JSON keys that describe the file and set nothing (as the example's BioNet runner).
DESCRIPTIVE_KEYS = frozenset({"level_of_detail", "notes", "comment", "_comment", "description"})

#: BioNet's built-in synapse models: model_template -> (NEURON mechanism, JSON key -> mechanism name).
BIONET_MODELS: dict[str, tuple[str, dict[str, str]]] = {
    "exp2syn": ("Exp2Syn", {"erev": "e"}),
    "Exp2Syn": ("Exp2Syn", {"erev": "e"}),
    "expsyn": ("ExpSyn", {"erev": "e", "tau1": "tau"}),
}

# BioNet's section-type codes (Morphology.sec_type_swc): target_sections names -> section base names.
_SECTION_TYPES = {"soma": "soma", "somatic": "soma", "axon": "axon", "axonal": "axon",
                  "dend": "dend", "basal": "dend", "apic": "apic", "apical": "apic"}



def bionet_mechanism(model_template: str) -> tuple[str, dict[str, str]]:
    """(NEURON mechanism name, JSON-key renames) that BioNet uses for ``model_template``."""
    if model_template in BIONET_MODELS:
        name, renames = BIONET_MODELS[model_template]
        return name, dict(renames)
    return model_template, {"erev": "e"}


# --- specs (picklable, built in the kernel) ---------------------------------------------------
@dataclass(frozen=True)
class Placement:
    """Where the synapse goes.

    ``target_sections`` / ``distance_range`` (µm from soma(0)): BioNet's rule, resolved to one
    deterministic segment (see the module docstring). ``section_id`` / ``section_pos``: an
    edge's ``afferent_section_id`` (index into the cell's ``all`` list) and
    ``afferent_section_pos`` (0..1). ``section`` / ``x``: an explicit section name
    (``"dend[0]"``) and position, for tuners built without BMTK.
    """

    target_sections: tuple[str, ...] | None = ("somatic",)
    distance_range: tuple[float, float] | None = None
    section_id: int | None = None
    section_pos: float | None = None
    section: str | None = None
    x: float = 0.5


@dataclass(frozen=True)
class SynapseSpec:
    """What fixes the built model: the postsynaptic cell, the synapse mechanism and its place.

    ``cell``: a :class:`~bmtool_lab.model.cell_types.CellType`, or a picklable top-level
    function ``build() -> hoc cell object`` run in the worker. ``mechanism``: the NEURON
    POINT_PROCESS name (``Exp2Syn``, ``Exp2SynSTP``...). ``renames``: dynamics-JSON key ->
    mechanism variable (``{"erev": "e"}``). ``mechanisms_dir``: an extra mod folder with the
    synapse (the cell type's own folder is loaded anyway).
    """

    label: str
    cell: Any
    mechanism: str
    renames: tuple[tuple[str, str], ...] = (("erev", "e"),)
    mechanisms_dir: Path | None = None
    placement: Placement = field(default_factory=Placement)
    #: the model's own synapse function (bmtk ``add_synapse_model``): the registered name, the
    #: model files that register it (:class:`~bmtool_lab.model.python_hooks.HookFile`) and the
    #: dynamics file as JSON text (BioNet passes the function the whole dict)
    hook_model: str | None = None
    hooks: tuple[Any, ...] = ()
    hook_file_json: str = "{}"


@dataclass(frozen=True)
class RunProtocol:
    """One run's protocol (times in ms, potentials in mV, weights in µS, rs in MΩ).

    ``kind``: "single" (one event at ``t_start_ms``), "train" (``n_train`` pulses at
    ``freq_hz`` from ``t_start_ms``, then ``n_rec`` pulses, the first ``recovery_delay_ms``
    after the last train pulse) or "poisson" (a Poisson train of ``poisson_rate_hz`` Hz over
    ``poisson_duration_ms`` from ``t_start_ms``, drawn with ``seed``; same single NetCon). ``clamp``: "voltage" (SEClamp at ``hold_mV``, records the clamp
    current) or "current" (no clamp object at all; records soma v). ``kernel``: also
    simulate the single-event response with the same parameters (for deconvolution).
    ``checkpoint``: skip the pre-stimulus baseline on re-runs (BaselineCheckpoint).
    ``stream``: publish partial traces (chunks of ``chunk_ms`` model time).
    """

    kind: str = "train"
    clamp: str = "voltage"
    hold_mV: float = -70.0
    rs_MOhm: float = 0.01
    freq_hz: float = 50.0
    #: interval from the last train pulse to the first recovery pulse (the tuner's ``delay_ms``)
    recovery_delay_ms: float = 250.0
    n_train: int = 8
    n_rec: int = 4
    t_start_ms: float = 300.0
    tail_ms: float = 150.0
    weight_uS: float = 0.001
    #: the stimulus NetCon's delay: every event reaches the synapse this long after its pulse time
    netcon_delay_ms: float = 1.0
    cvode: bool = True
    atol: float = 1e-4
    dt: float = 0.025
    celsius: float = 34.0
    v_init: float = -70.0
    kernel: bool = True
    checkpoint: bool = True
    stream: bool = False
    chunk_ms: float = 50.0
    poisson_rate_hz: float = 20.0
    poisson_duration_ms: float = 2000.0
    seed: int = 0

    def pulse_times(self) -> np.ndarray:
        """Times (ms) the stimulus delivers each event (the NetCon delay comes on top)."""
        if self.kind == "single":
            return np.array([self.t_start_ms])
        if self.kind == "poisson":
            return poisson_pulse_times(self.poisson_rate_hz, self.poisson_duration_ms, self.seed, self.t_start_ms)

        return train_pulse_times(self.freq_hz, self.n_train, self.n_rec, self.recovery_delay_ms, self.t_start_ms)

    @property
    def tstop_ms(self) -> float:
        if self.kind == "poisson":  # the whole window, even when its last events come early
            return float(self.t_start_ms + self.poisson_duration_ms + self.netcon_delay_ms + self.tail_ms)
        return float(self.pulse_times()[-1] + self.netcon_delay_ms + self.tail_ms)


# --- the model kept in the worker -------------------------------------------------------------
class _SynapseModel:
    """The built cell + one synapse + one NetCon (EventTrain) + an optional SEClamp."""

    def __init__(self, ctx: WorkerContext, spec: SynapseSpec):
        # local: heavy: pandas, h5py (sim.cells); child process only (the kernel imports this module)
        from . import cells, protocol
        from .context import neuron_h

        h = neuron_h()
        self.spec = spec
        mod_dirs = [getattr(spec.cell, "mechanisms_dir", None), spec.mechanisms_dir]
        # the cell first: build_cell loads the cell type's mechanisms, then ours
        if callable(spec.cell):
            from bmtool_lab.model.cell_types import CellType  # local: heavy: pandas, h5py

            _load_mechanisms(ctx, spec.mechanisms_dir)
            try:
                hobj = spec.cell()
            except RuntimeError as err:
                raise SimError("hoc", f"{spec.label}: building the cell failed: {err}") from None
            self.cell = cells.CellHandle.from_hoc_object(CellType(name=spec.label), hobj)
        else:
            self.cell = cells.build_cell(spec.cell)
        _load_mechanisms(ctx, spec.mechanisms_dir)
        _require_mechanism(spec.mechanism, mod_dirs)
        self.param_defaults = dict(_mech_names(spec.mechanism, 1))
        assigned = {n for n, _ in _mech_names(spec.mechanism, 2)}
        self.states = [n for n, _ in _mech_names(spec.mechanism, 3)]
        self.seg, self.placement = _place(self.cell, spec.placement, spec.label)
        self.hook_fnc = None
        if spec.hook_model:
            self.hook_fnc = registered_synapse_model(spec.hooks, spec.hook_model)
        # the dynamics dict BioNet hands the function, parsed once (every run builds a scratch)
        self.hook_file_params: dict[str, Any] = json.loads(spec.hook_file_json) if spec.hook_model else {}
        self.syn = getattr(h, spec.mechanism)(self.seg)
        self.has_i, self.has_g = "i" in assigned, "g" in assigned
        self.train = protocol.EventTrain(self.syn, [], weight=0.0, delay_ms=0.0)
        self.clamp: Any = None
        self.initial_params = _initial_params(spec.mechanism, mod_dirs, set(self.param_defaults))
        self.silent = True  # the synapse passes no current at rest (checked on every full baseline)
        self.ckpt: Any = None
        self.ckpt_t: float | None = None

    def delete(self) -> None:
        self.clamp = None
        self.train = None
        self.syn = None
        self.seg = None
        self.ckpt = None
        self.cell.delete()


def _segments(cell: Any) -> list[tuple[Any, Any, str]]:
    """(section, segment, section type) over the cell's ``all`` list (BioNet's order)."""
    hobj = cell.hobj
    secs = list(hobj.all) if hobj is not None and hasattr(hobj, "all") else cell.all_sections()
    out = []
    for sec in secs:
        base = sec.name().rsplit(".", 1)[-1]
        for seg in sec:
            out.append((sec, seg, base[:4]))
    return out


def _place(cell: Any, pl: Placement, label: str) -> tuple[Any, dict]:
    from .context import neuron_h  # local: child process only (the kernel imports this module)

    h = neuron_h()
    soma = cell.soma
    h.distance(0, soma(0))  # BioNet measures from soma(0)
    if pl.section is not None:
        seg = cell.seg(pl.section, pl.x)
        return seg, {"rule": "explicit", "section": seg.sec.name(), "x": float(seg.x),
                     "distance_um": float(h.distance(seg))}
    if pl.section_id is not None:
        hobj = cell.hobj
        secs = list(hobj.all) if hobj is not None and hasattr(hobj, "all") else cell.all_sections()
        if not 0 <= pl.section_id < len(secs):
            raise SimError("model", f"{label}: afferent_section_id {pl.section_id} is outside the cell's "
                                    f"{len(secs)} sections")
        x = 0.5 if pl.section_pos is None else float(pl.section_pos)
        seg = secs[pl.section_id](x)
        nseg = seg.sec.nseg
        return seg, {"rule": "afferent_section_id/pos", "section": seg.sec.name(), "x": float(seg.x),
                     "segment_x": (min(int(x * nseg), nseg - 1) + 0.5) / nseg,  # where NEURON puts it
                     "section_id": int(pl.section_id), "distance_um": float(h.distance(seg))}
    wanted = {_SECTION_TYPES.get(s, s) for s in (pl.target_sections or ("somatic",))}
    unknown = wanted - set(_SECTION_TYPES.values())
    if unknown:
        raise SimError("model", f"{label}: unknown target_sections {sorted(unknown)}; BioNet knows "
                                f"{sorted(_SECTION_TYPES)}")
    dmin, dmax = pl.distance_range if pl.distance_range is not None else (0.0, math.inf)
    cands = []
    for sec, seg, kind in _segments(cell):
        if kind not in wanted:
            continue
        d = h.distance(seg)
        half = sec.L / sec.nseg / 2.0
        if min(d + half, dmax) - max(d - half, dmin) > 0:  # BioNet: overlap of the segment with the range
            cands.append((sec, seg, d, half))
    if not cands:
        raise SimError("model", f"{label}: no segment of {cell.cell_type.name} is in target_sections "
                                f"{list(pl.target_sections or ())} within distance_range [{dmin}, {dmax}] µm "
                                "(BioNet would place no synapse either)")
    lo = max(dmin, min(d - hf for _, _, d, hf in cands))
    hi = min(dmax, max(d + hf for _, _, d, hf in cands))
    mid = 0.5 * (lo + hi)
    sec, seg, d, _ = min(cands, key=lambda c: (abs(c[2] - mid), c[2]))
    return seg, {"rule": "target_sections/distance_range", "section": sec.name(), "x": float(seg.x),
                 "distance_um": float(d), "n_candidates": len(cands), "target_um": float(mid)}


# --- parameters -------------------------------------------------------------------------------
def _apply_params(model: _SynapseModel, params: dict[str, Any], strict: frozenset[str]) -> tuple[dict, list[str]]:
    """Reset the synapse to its mechanism defaults, then set the dynamics-JSON params.

    Returns ({mechanism name: value set}, notes). Keys in ``strict`` must exist on the
    mechanism (SimError otherwise); other unknown keys are skipped as BioNet skips them.
    """
    spec = model.spec
    renames = dict(spec.renames)
    values: dict[str, float] = {}
    notes: list[str] = []
    for key, value in params.items():
        if key in DESCRIPTIVE_KEYS:
            continue
        name = renames.get(key, key)
        if name not in model.param_defaults and key in model.param_defaults:
            name = key  # the mechanism has the JSON name itself (e.g. a custom 'erev')
        if name not in model.param_defaults:
            if key in strict:
                raise SimError("model", f"{spec.mechanism} has no parameter {key!r}; its parameters are: "
                                        f"{', '.join(model.param_defaults)}")
            notes.append(f"{key!r} is not a parameter of {spec.mechanism}: skipped (as BioNet does)")
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            if key in strict:
                raise SimError("model", f"{key} must be a number, got {value!r}")
            notes.append(f"{key!r} = {value!r} is not a number: skipped")
            continue
        if not math.isfinite(float(value)):
            raise SimError("model", f"{key} = {value!r} is not a finite number")
        values[name] = float(value)
    if model.hook_fnc is not None:  # the function gets every key, as in BioNet: no "skipped" notes
        return _apply_with_hook(model, params, values, [])
    check_param_values(spec.mechanism, {**model.param_defaults, **values}, spec.label)
    for name, default in model.param_defaults.items():
        setattr(model.syn, name, values.get(name, default))
    return values, notes


def _apply_with_hook(model: _SynapseModel, params: dict[str, Any], by_name: dict[str, float],
                     notes: list[str]) -> tuple[dict, list[str]]:
    """Set the synapse as the model's own function sets it: the function builds a scratch
    synapse at the same segment from the dynamics dict (file entries, then the tuned values),
    and its parameters are copied onto the live one (the NetCon and the baseline stay)."""
    spec = model.spec
    scratch = build_with_hook(model.hook_fnc, spec.label, {**model.hook_file_params, **params}, model.seg)
    if mechanism_of(scratch) != spec.mechanism:
        raise SimError("model", f"{spec.label}: the model's function for {spec.hook_model!r} builds a "
                                f"{mechanism_of(scratch)}, not the {spec.mechanism} being tuned")
    values = {name: float(getattr(scratch, name)) for name in model.param_defaults}
    scratch = None
    check_param_values(spec.mechanism, values, spec.label)
    for name, value in values.items():
        setattr(model.syn, name, value)
    fname = getattr(model.hook_fnc, "__name__", "?")
    notes.append(f"built by the model's own {fname}() (registered as {spec.hook_model!r} with add_synapse_model), "
                 "as BioNet builds it")
    for name, want in by_name.items():
        if name in values and not math.isclose(values[name], want, rel_tol=1e-9, abs_tol=1e-15):
            notes.append(f"{name}: the model's {fname}() sets {values[name]:g}, not the {want:g} given "
                         "(BioNet uses the function's value)")
    applied = {n: v for n, v in values.items() if n in by_name or v != model.param_defaults[n]}
    return applied, notes


def check_param_values(mechanism: str, values: dict[str, float], label: str = "") -> None:
    """Refuse values NEURON would silently change or that make no sense (before any run).

    Exp2Syn-like mechanisms (tau1 and tau2): tau1 < tau2 (NEURON's INITIAL quietly sets
    tau1 = 0.9999·tau2 otherwise); time constants (names starting with ``tau``) > 0.
    """
    where = f"{label}: " if label else ""
    for name, value in values.items():
        if name.lower().startswith("tau") and value <= 0:
            raise SimError("model", f"{where}{name} = {value:g} ms: a time constant must be > 0")
    if "tau1" in values and "tau2" in values and values["tau1"] >= values["tau2"]:
        raise SimError("model", f"{where}tau1 = {values['tau1']:g} ms must be smaller than tau2 = "
                                f"{values['tau2']:g} ms ({mechanism}'s rise must be faster than its decay; "
                                "NEURON would silently change tau1)")


# --- the protocol job -------------------------------------------------------------------------
#: the clamp error allowed for a synapse at the soma: rs·g_peak (the fraction of the driving
#: force lost across the series resistance at the peak)
CLAMP_ERROR_MAX = 1e-3


def clamp_rs_MOhm(rs_MOhm: float, g_peak_uS: float) -> float:
    """The series resistance (MΩ) to clamp with: ``rs_MOhm``, lowered so that rs·g_peak stays
    within CLAMP_ERROR_MAX (a 20 µS synapse under rs 0.01 MΩ would lose 17 % of its current)."""
    g = abs(float(g_peak_uS))
    return float(rs_MOhm) if g <= 0 else min(float(rs_MOhm), CLAMP_ERROR_MAX / g)


def _setup_clamp(model: _SynapseModel, proto: RunProtocol, notes: list[str] | None = None) -> None:
    from . import protocol  # local: child process only (the kernel imports this module)

    if proto.clamp == "voltage":
        # the synapse's peak conductance is its NetCon weight (µS) times its own scale (initW)
        scale = abs(float(getattr(model.syn, "initW", 1.0) or 1.0)) if hasattr(model.syn, "initW") else 1.0
        rs = clamp_rs_MOhm(proto.rs_MOhm, proto.weight_uS * scale)
        if rs < proto.rs_MOhm and notes is not None:
            notes.append(f"clamp series resistance lowered from {proto.rs_MOhm:g} to {rs:.3g} MΩ so the clamp "
                         f"error (rs·g_peak) stays below {CLAMP_ERROR_MAX:.1%} for a {proto.weight_uS * scale:g} µS synapse")
        if model.clamp is None:
            model.clamp = protocol.seclamp(model.cell.seg("soma"), proto.hold_mV, rs_MOhm=rs)
        model.clamp.amp1, model.clamp.dur1, model.clamp.rs = proto.hold_mV, 1e9, rs
    elif proto.clamp == "current":
        model.clamp = None  # a true current clamp: no clamp object exists at all
    else:
        raise SimError("python", f"clamp must be 'voltage' or 'current', not {proto.clamp!r}")


def _recorder(model: _SynapseModel, proto: RunProtocol) -> Any:
    from .protocol import Recorder, Trace  # local: child process only (the kernel imports this module)

    class Recorder64(Recorder):
        """Time kept in float64: float32 times drift by ~1e-5 ms at 1 s, which is visible in
        dt-quantised (bmtool) metrics; the values stay float32."""

        def trace(self) -> Trace:
            tr = super().trace()
            n = int(self._t.size())
            t = self._t.as_numpy()[:n].astype(np.float64)
            if self.prefix is not None:
                t = np.concatenate([np.asarray(self.prefix.t, dtype=np.float64), t])
            return Trace(t, tr.values, tr.solver_steps)

    rec = Recorder64()
    if proto.clamp == "voltage":
        rec.record("i_clamp", model.clamp._ref_i)
    else:
        rec.record_v("v_soma", model.cell.seg("soma"))
        if model.seg.sec != model.cell.soma:
            rec.record_v("v_syn", model.seg)
    if model.has_i:
        rec.record("i_syn", model.syn._ref_i)
    if model.has_g:
        rec.record("g_syn", model.syn._ref_g)
    return rec


#: under voltage clamp, the clamp current's absolute error allowed, as a fraction of the
#: synapse's expected peak current (weight × driving force)
CLAMP_CURRENT_RTOL = 1e-4


def _atolscale(model: _SynapseModel, proto: RunProtocol) -> None:
    """Scale CVODE's absolute tolerances to the synapse's size: its states to its conductance
    (µS states of ~1e-3 would otherwise be solved to a tolerance as large as themselves) and,
    under voltage clamp, v so that the clamp current (hold - v) / rs is solved to
    CLAMP_CURRENT_RTOL of the expected response (a sub-pA synapse under rs 0.01 MΩ moves v by
    ~1e-8 mV; the default atol of 1e-4 mV would leave the fit's gradients in solver noise)."""
    from .context import neuron_h  # local: child process only (the kernel imports this module)

    h = neuron_h()
    weight_uS = proto.weight_uS
    scale = min(1.0, max(abs(weight_uS), 1e-9) * 1e-1)
    for s in model.states:
        try:
            h.cvode.atolscale(f"{model.spec.mechanism}.{s}", scale)
        except Exception:
            pass
    v_scale = 1.0
    if proto.clamp == "voltage" and weight_uS:
        e_rev = float(getattr(model.syn, "e", 0.0)) if hasattr(model.syn, "e") else 0.0
        i_peak_nA = abs(weight_uS) * max(1.0, abs(proto.hold_mV - e_rev))
        rs = float(model.clamp.rs) if model.clamp is not None else proto.rs_MOhm
        v_scale = min(1.0, max(CLAMP_CURRENT_RTOL * i_peak_nA * rs / proto.atol, 1e-8))
    h.cvode.atolscale("v", v_scale)  # set on every run: the worker keeps it between runs


def synapse_run_job(ctx: WorkerContext, spec: SynapseSpec, params: dict[str, Any], proto: RunProtocol,
                    strict: frozenset[str] = frozenset(), measure: MeasureSettings | None = None) -> dict:
    """Run one protocol for the synapse of ``spec`` with dynamics-JSON ``params``.

    Returns {"t": float64 ms, "traces": {name: float32}, "units", "pulse_times_ms", "kernel":
    {"t": ms relative to the event, "traces"} or None, "placement", "applied" (mechanism
    values set), "notes", "sim_ms" (NEURON time), "restored" (baseline skipped), "n_points"},
    and with ``measure`` the metrics ("measured": see :func:`measure_run`; "measure_ms").
    """
    # local: child process only (the kernel imports this module)
    from . import protocol
    from .context import neuron_h

    if proto.kind not in ("single", "train", "poisson"):
        raise SimError("python", f"kind must be 'single', 'train' or 'poisson', not {proto.kind!r}")
    h = neuron_h()
    t_job = time.perf_counter()
    model: _SynapseModel = ctx.model(("synapse", spec), lambda: _SynapseModel(ctx, spec))
    applied, notes = _apply_params(model, params, strict)
    _setup_clamp(model, proto, notes)
    rec = _recorder(model, proto)
    times = proto.pulse_times()
    train = model.train
    train.set_times(times)
    train.set_weight(proto.weight_uS)
    train.delay_ms = float(proto.netcon_delay_ms)
    train.netcon.delay = float(proto.netcon_delay_ms)
    settings = protocol.SimSettings(tstop=proto.tstop_ms, dt=proto.dt, celsius=proto.celsius,
                                    v_init=proto.v_init, cvode=proto.cvode, atol=proto.atol)
    if proto.cvode:
        _atolscale(model, proto)
    t_ckpt = proto.t_start_ms - 10.0
    use_ckpt = proto.checkpoint and t_ckpt > 0
    if use_ckpt and (model.ckpt is None or model.ckpt_t != t_ckpt):
        model.ckpt, model.ckpt_t = protocol.BaselineCheckpoint(t_ckpt), t_ckpt
    # With a silent synapse whose INITIAL reads only known parameters, the saved baseline does
    # not depend on the other parameters: they are re-applied after a restore (reinit).
    reinit = use_ckpt and model.silent and model.initial_params is not None
    key = ("synapse", proto.clamp, tuple(sorted((n, getattr(model.syn, n)) for n in (model.initial_params or ()))))
    chunk = proto.chunk_ms if proto.stream else None

    def run(with_ctx: bool) -> tuple[Any, bool]:
        c = ctx if with_ctx else None
        ch = chunk if with_ctx else None
        if use_ckpt:
            tr = model.ckpt.run(settings, rec, key=key, trains=[train], reinit=[model.syn] if reinit else [],
                                ctx=c, chunk_ms=ch)
            return tr, model.ckpt.restored
        return protocol.simulate(settings, rec, ctx=c, chunk_ms=ch), False

    t0 = time.perf_counter()
    trace, restored = run(True)
    sim_s = time.perf_counter() - t0
    if not restored and model.has_i:
        t_first = times[0] if times.size else proto.t_start_ms
        base = trace.values["i_syn"][trace.t < t_ckpt] if use_ckpt else trace.values["i_syn"][trace.t < t_first]
        if base.size and float(np.max(np.abs(base))) > 0.0:
            if model.silent:
                notes.append("the synapse passes current at rest: every parameter change re-runs the baseline")
            model.silent = False
    out_t = trace.t.astype(np.float64)
    kernel = None
    if proto.kernel and proto.kind in ("train", "poisson") and times.size:
        train.set_times([times[0]])
        t1 = time.perf_counter()
        ktrace, _ = run(False)
        sim_s += time.perf_counter() - t1
        keep = ktrace.t >= times[0] - 10.0
        kernel = {"t": ktrace.t[keep].astype(np.float64) - times[0],
                  "traces": {k: v[keep] for k, v in ktrace.values.items()}}
        train.set_times(times)
    units = {"i_clamp": "nA", "v_soma": "mV", "v_syn": "mV", "i_syn": "nA", "g_syn": "uS"}
    if kernel is not None:
        kernel = _trim_kernel(kernel)
    out = {
        "t": out_t, "traces": dict(trace.values), "units": {k: units[k] for k in trace.values},
        "pulse_times_ms": times, "kernel": kernel, "placement": dict(model.placement),
        "applied": applied, "notes": notes, "sim_ms": sim_s * 1e3, "restored": bool(restored),
        "n_points": int(len(trace)), "model_id": id(model), "netcon_delay_ms": float(proto.netcon_delay_ms),
        "mechanism": spec.mechanism, "clamp_present": model.clamp is not None,
        "n_netcons_to_synapse": _netcons_to(model.syn), "solver_steps": bool(h.cvode.active()),
        "e_rev_mV": float(model.syn.e) if hasattr(model.syn, "e") else None,
    }
    if proto.kind == "poisson":
        out["stim_window_ms"] = (float(proto.t_start_ms), float(proto.t_start_ms + proto.poisson_duration_ms))
    out["no_response"] = no_response_reason(out, proto, model.has_g and model.has_i)
    drift = None if out["no_response"] else holding_drift(out, proto)
    if drift is not None and drift["fraction"] > DRIFT_WARN_FRACTION:
        notes.append(
            f"the holding current drifts by {drift['drift_nA']:+.3g} nA over the {drift['span_ms']:.0f} ms measured "
            f"({drift['fraction']:.0%} of the {drift['response_nA']:.3g} nA response): the cell is not at rest at "
            f"{proto.hold_mV:g} mV and the metrics count the drift as synaptic current; hold nearer rest or give "
            f"the cell longer to settle (t_start_ms)")
    out["holding_drift"] = drift
    if measure is not None:
        t2 = time.perf_counter()
        out["measured"] = measure_run(out, measure, proto.kind)
        out["measure_ms"] = (time.perf_counter() - t2) * 1e3
    out["job_ms"] = (time.perf_counter() - t_job) * 1e3
    return out


def _trim_kernel(kernel: dict) -> dict:
    """Cut the single-event kernel once every trace is back within 1e-4 of its response size
    of its baseline (the deconvolution takes it as 0 afterwards; a long flat tail only costs)."""
    t = kernel["t"]
    last = 0
    for v in kernel["traces"].values():
        v = np.asarray(v, dtype=np.float64)
        pre = v[t < 0]
        base = float(pre.mean()) if pre.size else float(v[0])
        dev = np.abs(v - base)
        peak = float(dev[t >= 0].max()) if np.any(t >= 0) else 0.0
        if peak > 0:
            above = np.flatnonzero(dev > 1e-4 * peak)
            last = max(last, int(above[-1]) if above.size else 0)
    n = min(len(t), int(np.searchsorted(t, t[last] + 5.0)) + 1)  # 5 ms of margin
    return {"t": t[:n], "traces": {k: v[:n] for k, v in kernel["traces"].items()}}


def _netcons_to(syn: Any) -> int:
    from .context import neuron_h  # local: child process only (the kernel imports this module)

    return sum(1 for nc in neuron_h().List("NetCon") if nc.syn() is not None and nc.syn().hname() == syn.hname())


def count_clamps_job(ctx: WorkerContext) -> dict:
    """How many SEClamp / VClamp / IClamp objects exist in this worker (tests: a current clamp
    run must leave none)."""
    from .context import neuron_h  # local: child process only (the kernel imports this module)

    h = neuron_h()
    return {name: int(h.List(name).count()) for name in ("SEClamp", "VClamp", "IClamp")}
