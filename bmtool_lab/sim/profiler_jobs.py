"""Worker jobs of the cell profiler: passive step, current clamp, one F–I step (or rheobase
probe), a serial rheobase search, ZAP chirp, and a description of the cell's parameters.

Every job builds its cell once per worker (``ctx.model``) and applies the profiler's parameter
changes before running, after putting back the template's own values, so a run depends only on
its arguments, never on what ran before in that worker. Analysis (fits, eFEL, FFT) runs here too,
so the kernel receives numbers and display-sized traces.

Sites are section names as the field writes them: ``"soma"``, ``"dend[3]"``, optionally with
the position, ``"dend[3](0.8)"``. Parameter changes are ``{section: {name: value}}`` where a
section key is a base name (``"dend"``: every dend section), one section (``"dend[3]"``) or
``"all"``; names are ``cm`` (µF/cm²), ``Ra`` (Ω·cm) or range variables of the inserted
mechanisms (``gbar_hcn_ex`` in S/cm², ``e_pas`` in mV, ``ena``...).

This module imports NEURON only inside functions: the kernel imports it to name the jobs.
"""

from __future__ import annotations

import re
import time
from dataclasses import replace
from typing import Any

import numpy as np

from ..analysis.fi import RheobaseSearch, firing_rate_hz, spike_times
from ..analysis.impedance import chirp_current, impedance_profile
from ..analysis.passive import passive_properties
from ..analysis.spikes import spike_features
from ..analysis.stability import unstable_reason
from . import protocol
from .context import WorkerContext, neuron_h
from .errors import SimError

__all__ = [
    "parse_site", "describe_cell_job", "passive_step_job", "current_clamp_job", "fi_step_job",
    "rheobase_job", "zap_job", "dispatch_job",
]

_SITE_RE = re.compile(r"^\s*(\w+(?:\[\d+\])?)\s*(?:\(\s*([0-9]*\.?[0-9]+)\s*\))?\s*$")
#: Model time (ms) between cancellation checks (and partial traces when streaming).
CHUNK_MS = 25.0
#: Traces longer than this are reduced to a min/max envelope before they leave the worker.
MAX_TRACE_POINTS = 40_000
#: Density-mechanism PARAMETERs offered as what-if knobs: maximal conductances (gbar_X, gnabar_X,
#: gIhbar_Ih, gmax_X, g_pas) and e_pas; not other g-names such as gamma_CaDynamics.
_KNOB_RE = re.compile(r"^g\w*bar_\w+$|^gmax_\w+$|^g_pas$|^e_pas$")


def parse_site(site: str) -> tuple[str, float]:
    """``"dend[3](0.8)"`` -> ``("dend[3]", 0.8)``; the position defaults to 0.5."""
    m = _SITE_RE.match(str(site))
    if not m:
        raise ValueError(f"site {site!r} is not a section name such as 'soma', 'dend[3]' or 'dend[3](0.8)'")
    x = float(m.group(2)) if m.group(2) else 0.5
    if not 0.0 <= x <= 1.0:
        raise ValueError(f"site {site!r}: the position must be within 0..1")
    return m.group(1), x


# --- the cell kept in a worker ----------------------------------------------------------------
class ProfiledCell:
    """A built cell plus the template values of every parameter a run has changed."""

    def __init__(self, handle: Any):
        self.handle = handle
        self._saved: dict[tuple[Any, str], Any] = {}  # (section, name) -> value(s) before changes

    def delete(self) -> None:
        self.restore()
        self._saved.clear()
        self.handle.delete()

    def sections_for(self, key: str) -> list[Any]:
        """Sections named by a parameter key: ``all``, a base name, or ``base[i]``."""
        if key == "all":
            return self.handle.all_sections()
        if "[" not in key and key in self.handle.sections:
            return list(self.handle.sections[key])
        return [self.handle.section(key)]  # raises SimError("model") naming what exists

    def restore(self) -> None:
        """Put back the template's values of everything changed so far."""
        for (sec, name), value in self._saved.items():
            if name == "Ra":
                sec.Ra = value
            else:
                for seg, v in zip(sec, value, strict=True):
                    setattr(seg, name, v)

    def apply(self, params: dict[str, dict[str, float]] | None) -> None:
        """Template values first, then ``params`` ({section key: {name: value}})."""
        self.restore()
        for key, values in (params or {}).items():
            for sec in self.sections_for(key):
                for name, value in values.items():
                    self._set(sec, key, name, float(value))

    def _set(self, sec: Any, key: str, name: str, value: float) -> None:
        if (sec, name) not in self._saved:
            try:
                self._saved[(sec, name)] = sec.Ra if name == "Ra" else [getattr(seg, name) for seg in sec]
            except Exception:
                raise SimError("model", f"section {sec.name()} (key {key!r}) has no parameter {name!r}; "
                                        f"it has: {', '.join(knob_names(sec))}") from None
        if name == "Ra":
            sec.Ra = value
        else:
            for seg in sec:
                setattr(seg, name, value)


def knob_names(sec: Any) -> list[str]:
    """What-if parameters of one section: cm, Ra, then conductances and e_pas of its mechanisms."""
    h = neuron_h()
    names = ["cm", "Ra"]
    for mech in sec.psection()["density_mechs"]:
        ms = h.MechanismStandard(mech, 1)
        for i in range(int(ms.count())):
            s = h.ref("")
            ms.name(s, i)
            if _KNOB_RE.match(s[0]):
                names.append(s[0])
    return names


def _cell(ctx: WorkerContext, cell_type: Any, params: dict | None) -> ProfiledCell:
    from . import cells  # local: heavy: pandas, h5py (sim.cells)

    cell = ctx.model(("bmtool_lab.profiler", cell_type), lambda: ProfiledCell(cells.build_cell(cell_type)))
    cell.apply(params)
    return cell


def _seg(cell: ProfiledCell, site: str) -> Any:
    name, x = parse_site(site)
    return cell.handle.seg(name, x)


def _run(ctx: WorkerContext, settings: Any, rec: Any, stream: bool) -> tuple[Any, float]:
    """Initialise and run to settings.tstop in chunks (cancellable; partial traces if ``stream``)."""
    rec.prefix = None
    t0 = time.perf_counter()
    protocol.initialize(settings)
    protocol.run_chunked(settings.tstop, CHUNK_MS, ctx, rec if stream else None)
    return rec.trace(), (time.perf_counter() - t0) * 1e3


def envelope(t: np.ndarray, ys: list[np.ndarray], max_points: int = MAX_TRACE_POINTS
             ) -> tuple[np.ndarray, list[np.ndarray]]:
    """Min/max envelope of long traces (float32): every bin keeps its extremes of ``ys[0]``, so
    spikes and chirp peaks survive; short traces are returned unchanged."""
    n = t.size
    if n <= max_points:
        return t, ys
    k = -(-n // (max_points // 2))  # samples per bin
    n_bins = -(-n // k)
    ref = np.pad(np.asarray(ys[0]), (0, n_bins * k - n), mode="edge").reshape(n_bins, k)
    starts = np.arange(n_bins) * k
    idx = np.concatenate([starts + ref.argmin(axis=1), starts + ref.argmax(axis=1), [0, n - 1]])
    idx = np.unique(np.minimum(idx, n - 1))
    return t[idx], [y[idx] for y in ys]


def _meta(ctx: WorkerContext, wall_ms: float, trace: Any) -> dict:
    h = ctx.h
    return {"solve_ms": wall_ms, "n_samples": len(trace), "n_sections": sum(1 for _ in h.allsec()),
            "solver_steps": bool(trace.solver_steps)}


def _spikes(t: np.ndarray, v: np.ndarray, t_on: float, t_off: float, threshold_mV: float) -> tuple:
    st = spike_times(t, v, threshold_mV)
    in_step = st[(st >= t_on) & (st < t_off)]
    return st, int(in_step.size), firing_rate_hz(st, t_on, t_off)


def _unstable(trace: Any, settings: Any) -> str | None:
    return unstable_reason(trace.t, trace["v"], None if trace.solver_steps else settings.dt)


def _step(ctx: WorkerContext, cell_type: Any, params: dict | None, amp_nA: float, delay_ms: float, dur_ms: float,
          settings: Any, inject: str, record: str, stream: bool, checkpoint: bool = False,
          first_spike_mV: float | None = None) -> tuple[Any, float]:
    """A current step. ``checkpoint``: under the fixed step, the baseline before the step (the
    same for every amplitude) is simulated once per worker and restored with a SaveState
    (identical traces). ``first_spike_mV``: stop at the first upward crossing of that threshold
    inside the step, or just after the step ends (the trace is then cut there)."""
    if not dur_ms > 0 or delay_ms < 0 or settings.tstop < delay_ms + dur_ms:
        raise SimError("model", f"step {delay_ms}+{dur_ms} ms does not fit in tstop={settings.tstop} ms")
    cell = _cell(ctx, cell_type, params)
    clamp = protocol.iclamp(_seg(cell, inject), amp_nA, delay_ms, dur_ms)
    rec = protocol.Recorder().record_v("v", _seg(cell, record))
    fixed = not settings.cvode
    try:
        t0 = time.perf_counter()
        if checkpoint and fixed and delay_ms > 0:
            cp = ctx.cache.get(_CHECKPOINT)
            if cp is None or cp.t_ms != delay_ms:
                cp = ctx.cache[_CHECKPOINT] = protocol.BaselineCheckpoint(delay_ms)
            key = (cell_type, _frozen(params), inject, record, id(cell))
            cp.start(settings, rec, key=key, reinit=[clamp], ctx=ctx, chunk_ms=CHUNK_MS)
        else:
            rec.prefix = None
            protocol.initialize(settings)
        if first_spike_mV is not None and fixed:
            _run_to_first_spike(ctx, rec, delay_ms, delay_ms + dur_ms, first_spike_mV, settings)
        else:
            protocol.run_chunked(settings.tstop, CHUNK_MS, ctx, rec if stream else None)
        return rec.trace(), (time.perf_counter() - t0) * 1e3
    finally:
        del clamp  # this run's clamp only: the next run places its own


_CHECKPOINT = "bmtool_lab.profiler.step_checkpoint"
#: Model time (ms) between checks for the first spike of a rheobase probe.
SPIKE_CHECK_MS = 5.0


def _frozen(params: dict | None) -> tuple:
    return tuple(sorted((k, tuple(sorted(v.items()))) for k, v in (params or {}).items()))


def _run_to_first_spike(ctx: WorkerContext, rec: Any, t_on: float, t_off: float, threshold_mV: float, settings: Any) -> None:
    """Fixed step: continue until a spike is counted in [t_on, t_off) or the samples reach past
    t_off + dt (the last sample a crossing before t_off needs), so the answer "at least one
    spike in the step" is that of the full run; the trace stops there."""
    h = ctx.h
    t_end = min(settings.tstop, t_off + 2 * settings.dt)
    seen = 0
    while h.t < t_end - settings.dt / 2:
        protocol.run_chunked(min(h.t + SPIKE_CHECK_MS, t_end), SPIKE_CHECK_MS, ctx, None)
        v = rec.samples("v")
        if h.t >= t_on and v.size > seen and float(v[max(seen - 1, 0):].max()) >= threshold_mV:
            trace = rec.trace()  # a crossing may be in these samples: count as the full run does
            if _spikes(trace.t.astype(np.float64), trace["v"].astype(np.float64), t_on, t_off, threshold_mV)[1]:
                return
        seen = v.size


# --- jobs -------------------------------------------------------------------------------------
def describe_cell_job(ctx: WorkerContext, cell_type: Any) -> dict:
    """Sections and what-if parameters of the cell, with the template's values.

    Returns ``{"sections": [names], "groups": {base: {"n_sections", "params": {name: value}}}}``;
    a group's value is the first section's (first segment's) value.
    """
    cell = _cell(ctx, cell_type, None)
    groups: dict[str, dict] = {}
    for base, secs in cell.handle.sections.items():
        params: dict[str, float] = {}
        for sec in secs:
            for name in knob_names(sec):
                if name not in params:
                    params[name] = float(sec.Ra if name == "Ra" else getattr(sec(0.5), name))
        groups[base] = {"n_sections": len(secs), "params": params}
    return {"sections": cell.handle.section_names(), "groups": groups, "notes": list(cell.handle.notes)}


def passive_step_job(ctx: WorkerContext, cell_type: Any, params: dict | None, amp_nA: float, delay_ms: float,
                     dur_ms: float, settings: Any, inject: str = "soma", record: str = "soma",
                     tau_method: str = "single", stream: bool = False) -> dict:
    """A hyper- or depolarising step: the trace and its passive properties (PassiveResult)."""
    trace, wall = _step(ctx, cell_type, params, amp_nA, delay_ms, dur_ms, settings, inject, record, stream)
    t0 = time.perf_counter()
    unstable = _unstable(trace, settings)
    if unstable:
        raise SimError("model", unstable)
    res = passive_properties(trace.t, trace["v"], delay_ms, delay_ms + dur_ms, amp_nA, tau_method=tau_method)
    t, (v,) = envelope(trace.t, [trace["v"]])
    return {"t": t, "v": v, "passive": res, "analysis_ms": (time.perf_counter() - t0) * 1e3,
            **_meta(ctx, wall, trace)}


def current_clamp_job(ctx: WorkerContext, cell_type: Any, params: dict | None, amp_nA: float, delay_ms: float,
                      dur_ms: float, settings: Any, inject: str = "soma", record: str = "soma",
                      threshold_mV: float = -20.0, features: bool = True, stream: bool = False) -> dict:
    """A current step: trace, spike times (ms), rate in the step (Hz) and eFEL spike features."""
    trace, wall = _step(ctx, cell_type, params, amp_nA, delay_ms, dur_ms, settings, inject, record, stream)
    t_raw, v_raw = trace.t.astype(np.float64), trace["v"].astype(np.float64)
    unstable = _unstable(trace, settings)
    st, n, rate = _spikes(t_raw, v_raw, delay_ms, delay_ms + dur_ms, threshold_mV)
    if unstable:
        st, n, rate = st[:0], 0, float("nan")
    feats: dict[str, float] = {}
    if features and not unstable:
        feats = spike_features(t_raw, v_raw, delay_ms, delay_ms + dur_ms, threshold_mV=threshold_mV)
    t, (v,) = envelope(trace.t, [trace["v"]])
    return {"t": t, "v": v, "spike_times_ms": st, "n_spikes": n, "rate_hz": rate, "features": feats,
            "unstable": unstable, **_meta(ctx, wall, trace)}


def fi_step_job(ctx: WorkerContext, cell_type: Any, params: dict | None, amp_nA: float, delay_ms: float, dur_ms: float,
                settings: Any, inject: str = "soma", record: str = "soma", threshold_mV: float = -20.0,
                keep_trace: bool = True, first_spike: bool = False, checkpoint: bool = True) -> dict:
    """One F–I step: spikes counted in the step window only, rate per second of step (Hz).

    ``first_spike`` (a rheobase probe): under the fixed step the run stops at the first spike in
    the step (or just after the step): ``n_spikes`` is then 0 or 1 (whether the full step
    spikes at all), ``rate_hz`` NaN, and ``stopped_ms`` where it stopped. ``checkpoint``: the
    baseline before the step is restored from a SaveState (fixed step; identical traces).
    """
    trace, wall = _step(ctx, cell_type, params, amp_nA, delay_ms, dur_ms, settings, inject, record, False,
                        checkpoint=checkpoint, first_spike_mV=threshold_mV if first_spike else None)
    st, n, rate = _spikes(trace.t.astype(np.float64), trace["v"].astype(np.float64), delay_ms,
                          delay_ms + dur_ms, threshold_mV)
    unstable = _unstable(trace, settings)
    out = {"amp_nA": float(amp_nA), "n_spikes": n, "rate_hz": rate, "spike_times_ms": st, "unstable": unstable,
           **_meta(ctx, wall, trace)}
    if first_spike:
        out.update(n_spikes=min(n, 1), rate_hz=float("nan"), stopped_ms=float(trace.t[-1]) if len(trace) else 0.0)
    if keep_trace:
        out["t"], (out["v"],) = envelope(trace.t, [trace["v"]])
    return out


def rheobase_job(ctx: WorkerContext, cell_type: Any, params: dict | None, lo_nA: float, hi_nA: float,
                 resolution_nA: float, delay_ms: float, dur_ms: float, settings: Any, inject: str = "soma",
                 record: str = "soma", threshold_mV: float = -20.0, check_bracket: bool = True) -> dict:
    """Rheobase (nA) in ``[lo, hi]`` to ``resolution_nA``, one probe after another: the smallest
    current of :class:`~bmtool_lab.analysis.fi.RheobaseSearch`'s grid giving at least one spike
    in the step (the value ``CellProfiler.fi_curve`` finds in parallel). ``check_bracket``:
    simulate ``hi`` and ``lo`` first (NaN when ``hi`` does not spike, ``lo`` when it does);
    False when they come from an F–I sweep. Probes stop at their first spike (fixed step)."""
    tested: list[tuple[float, int]] = []

    def spikes_at(amp: float) -> bool:
        ctx.check_cancelled()
        out = fi_step_job(ctx, cell_type, params, amp, delay_ms, dur_ms, settings, inject, record, threshold_mV,
                          keep_trace=False, first_spike=True)
        if out["unstable"]:
            raise SimError("model", f"rheobase search at {amp * 1e3:g} pA: {out['unstable']}")
        tested.append((float(amp), out["n_spikes"]))
        return out["n_spikes"] >= 1

    t0 = time.perf_counter()
    search = RheobaseSearch(lo_nA, hi_nA, resolution_nA)
    if check_bracket and not spikes_at(search.hi_nA):
        value = float("nan")
    elif check_bracket and spikes_at(search.lo_nA):
        value = search.lo_nA
    else:
        while (k := search.next()) is not None:
            search.report(k, spikes_at(search.current(k)))
        value = search.value
    return {"rheobase_nA": float(value), "tested": tested, "wall_ms": (time.perf_counter() - t0) * 1e3}


def zap_job(ctx: WorkerContext, cell_type: Any, params: dict | None, f0_hz: float, f1_hz: float, duration_ms: float,
            amp_nA: float, settings: Any, kind: str = "linear", delay_ms: float = 500.0, tail_ms: float = 300.0,
            inject: str = "soma", record: str = "soma", smooth: int | None = None, stream: bool = False) -> dict:
    """A chirp current (linear or exponential, f0 -> f1 Hz over ``duration_ms``): the impedance
    profile (|Z| in MΩ, phase in rad, resonance in Hz, Q) and display-sized traces.

    The chirp is played sample by sample at ``settings.dt``; ``tstop`` is set to
    ``delay + duration + tail`` (the tail lets the response finish inside the FFT window).
    """
    t_total0 = time.perf_counter()
    tstop = delay_ms + duration_ms + tail_ms
    settings = replace(settings, tstop=tstop)
    cell = _cell(ctx, cell_type, params)
    grid = np.arange(0.0, tstop + settings.dt / 2, settings.dt)
    chirp = chirp_current(grid, f0_hz, f1_hz, duration_ms, amp_nA, kind=kind, t_start_ms=delay_ms)
    clamp, tv, iv = protocol.play_current(_seg(cell, inject), grid, chirp)
    rec = protocol.Recorder().record_v("v", _seg(cell, record)).record("i", clamp._ref_i)
    try:
        trace, wall = _run(ctx, settings, rec, stream)
    finally:
        del clamp, tv, iv
    t0 = time.perf_counter()
    # the window ends mid-tail: the recorded samples after it fill the FFT padding (no zero padding)
    imp = impedance_profile(trace.t, trace["v"], trace["i"], f0_hz, f1_hz, delay_ms,
                            delay_ms + duration_ms + tail_ms / 2, smooth=smooth)
    analysis_ms = (time.perf_counter() - t0) * 1e3
    t, (v, i) = envelope(trace.t, [trace["v"], trace["i"]])
    return {"t": t, "v": v, "i": i, "impedance": imp, "analysis_ms": analysis_ms,
            "job_ms": (time.perf_counter() - t_total0) * 1e3, **_meta(ctx, wall, trace)}


_DISPATCH = {"passive": passive_step_job, "clamp": current_clamp_job, "fi": fi_step_job, "zap": zap_job,
             "rheobase": rheobase_job}


def dispatch_job(ctx: WorkerContext, job: str, **kwargs: Any) -> dict:
    """One of the jobs above by name (``passive``, ``clamp``, ``fi``, ``zap``, ``rheobase``), so a
    single sweep can mix protocols (``CellProfiler.profile_all``)."""
    try:
        fn = _DISPATCH[job]
    except KeyError:
        raise SimError("python", f"unknown profiler job {job!r}; one of {sorted(_DISPATCH)}") from None
    return fn(ctx, **kwargs)
