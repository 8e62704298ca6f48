"""Protocol primitives used inside jobs: run settings, recording, clamps, event trains,
baseline checkpoints and chunked (progressive, cancellable) runs.

Import this module anywhere; it touches NEURON only when its functions run (in a worker).

Rules these primitives keep:

- Every run applies its own :class:`SimSettings` (dt, tstop, celsius, v_init, CVODE and its
  tolerances) explicitly, so nothing leaks from one run or dashboard to the next.
- Runs advance exactly as NEURON's ``continuerun`` does. Fixed step: ``ParallelContext.psolve``
  to each chunk end, then ``continuerun`` for a last step off the dt grid (the same steps as
  ``continuerun`` alone, whatever the chunking; psolve loops in C where stdrun's ``continuerun``
  runs a hoc statement per step, 2-3x slower on small cells). CVODE: one
  ``cvode.event(tstop)`` and single solver steps, checking the chunk end between steps, so
  chunks never make the solver stop or re-initialise; chunked and unchunked runs give the
  same samples.
- Under CVODE, recordings are taken at the solver's own steps (``Trace.solver_steps`` is
  True); :meth:`Trace.resample` puts them on a uniform grid by linear interpolation.
- All spike times of a train reach the synapse through ONE NetCon, so mechanisms that keep
  plasticity state per NetCon (in the NET_RECEIVE weight vector) see the whole train.
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from .context import neuron_h

if TYPE_CHECKING:  # pragma: no cover
    from bmtool_lab.model.config import RunSettings

    from .context import WorkerContext

__all__ = [
    "SimSettings", "apply_settings", "initialize", "advance_to", "run_chunked", "simulate",
    "Trace", "Recorder", "iclamp", "seclamp", "play_current", "EventTrain", "BaselineCheckpoint",
]


# --- settings ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class SimSettings:
    """Per-run simulation settings.

    tstop, dt: ms; celsius: degC; v_init: mV; cvode: variable time step (CVODE) instead of
    fixed step; atol: CVODE absolute tolerance (in each state's units, mV for v); rtol: CVODE
    relative tolerance (NEURON's default 0: absolute only).
    """

    tstop: float = 1000.0
    dt: float = 0.025
    celsius: float = 34.0
    v_init: float = -65.0
    cvode: bool = False
    atol: float = 1e-3
    rtol: float = 0.0

    @classmethod
    def from_run(cls, run: RunSettings, **changes: Any) -> SimSettings:
        """From a BMTK config's ``run``/``conditions`` (ModelConfig.run), with changes."""
        base = cls(tstop=run.tstop, dt=run.dt, celsius=run.celsius, v_init=run.v_init)
        return replace(base, **changes)


def apply_settings(settings: SimSettings) -> None:
    """Set NEURON's globals for this run: solver, tolerances, dt (and stdrun's steps_per_ms, so
    stdrun never silently changes dt), tstop, celsius, v_init."""
    if settings.dt <= 0 or settings.tstop < 0:
        raise ValueError(f"dt must be > 0 and tstop >= 0 (got dt={settings.dt}, tstop={settings.tstop})")
    h = neuron_h()
    h.cvode_active(1 if settings.cvode else 0)  # through stdrun, so its using_cvode_ agrees
    h.cvode.atol(settings.atol)
    h.cvode.rtol(settings.rtol)
    h.dt = settings.dt
    h.steps_per_ms = 1.0 / settings.dt
    h.setdt()
    h.tstop = settings.tstop
    h.celsius = settings.celsius
    h.v_init = settings.v_init


def initialize(settings: SimSettings) -> None:
    """Apply ``settings`` and ``finitialize(v_init)`` (runs INITIAL blocks and FInitializeHandlers)."""
    apply_settings(settings)
    _psolve["ok"] = True  # a new run: try psolve again (the NetCons may have changed)
    neuron_h().finitialize(settings.v_init)


def advance_to(t_ms: float) -> None:
    """Continue the current run to ``t_ms`` exactly as ``h.continuerun(t_ms)`` would."""
    h = neuron_h()
    if not h.cvode.active():
        _fixed_steps_to(t_ms)
    h.continuerun(t_ms)  # CVODE: one event at t_ms + steps, as _cvode_steps_to does in Python


_psolve: dict[str, Any] = {"pc": None, "ok": True}


def _fixed_steps_to(t_end: float) -> None:
    """Fixed step: advance towards ``t_end`` with ``ParallelContext.psolve`` (stdrun's own
    ``nrn_fixed_step`` per dt, looped in C; it stops within dt/2 of ``t_end``, never past where
    ``continuerun`` stops, so a ``continuerun(t_end)`` after it finishes the same steps).
    Should psolve refuse the model (its spike-exchange check of NetCon delays between gids),
    ``continuerun`` does all the steps until the next initialisation."""
    h = neuron_h()
    if not _psolve["ok"] or t_end - h.t < h.dt:
        return
    if _psolve["pc"] is None:
        _psolve["pc"] = h.ParallelContext()
        _psolve["pc"].set_maxstep(10)  # ms between (no-op) spike exchanges in one process
    try:
        _psolve["pc"].psolve(t_end)
    except RuntimeError:  # raised before any step is taken
        _psolve["ok"] = False


def _cvode_steps_to(t_end: float, ctx: WorkerContext | None, recorder: Recorder | None, chunk_ms: float,
                    tstop: float) -> None:
    h = neuron_h()
    h.cvode.event(t_end)  # the solver lands exactly on t_end (as continuerun does)
    next_check = h.t + chunk_ms
    while h.t < t_end:
        h.fadvance()
        if h.t >= next_check:
            next_check = h.t + chunk_ms
            _chunk_done(ctx, recorder, tstop)
    h.fadvance()  # deliver the t_end event so the recordings include t_end (as continuerun does)


def _chunk_done(ctx: WorkerContext | None, recorder: Recorder | None, tstop: float) -> None:
    if ctx is None:
        return
    ctx.check_cancelled()
    if recorder is not None and ctx.publish_due():
        ctx.publish({"t_ms": float(neuron_h().t), "tstop_ms": float(tstop), "trace": recorder.trace()})


def run_chunked(tstop: float, chunk_ms: float, ctx: WorkerContext | None, recorder: Recorder | None = None) -> None:
    """Continue the current run to ``tstop`` (ms) in chunks of ``chunk_ms`` ms of model time.

    After each chunk: stop with :class:`~bmtool_lab.sim.errors.JobCancelled` if the job was
    cancelled, and publish ``{"t_ms", "tstop_ms", "trace"}`` (the trace so far) when
    ``ctx.publish_due()`` (at most 30 per second). The result is identical to an unchunked run.
    """
    h = neuron_h()
    if chunk_ms <= 0:
        raise ValueError(f"chunk_ms must be > 0, got {chunk_ms}")
    if h.cvode.active():
        _cvode_steps_to(tstop, ctx, recorder, chunk_ms, tstop)
    else:
        while h.t < tstop - h.dt / 2:
            advance_to(min(h.t + chunk_ms, tstop))
            _chunk_done(ctx, recorder, tstop)
    if ctx is not None and recorder is not None:
        ctx.check_cancelled()


def simulate(settings: SimSettings, recorder: Recorder, ctx: WorkerContext | None = None,
             chunk_ms: float | None = None) -> Trace:
    """Initialise and run to ``settings.tstop``; the recorded :class:`Trace`.

    With ``ctx`` and ``chunk_ms`` the run is progressive and cancellable (:func:`run_chunked`).
    """
    recorder.prefix = None  # finitialize itself empties the vectors and records t = 0
    initialize(settings)
    if ctx is not None and chunk_ms:
        run_chunked(settings.tstop, chunk_ms, ctx, recorder)
    else:
        advance_to(settings.tstop)
    return recorder.trace()


# --- recording --------------------------------------------------------------------------------
@dataclass
class Trace:
    """Recorded time (ms) and variables (mV, nA, µS... as recorded), as float32 arrays.

    ``solver_steps`` is True when the samples are CVODE's own (non-uniform) steps.
    """

    t: np.ndarray
    values: dict[str, np.ndarray] = field(default_factory=dict)
    solver_steps: bool = False

    def __getitem__(self, name: str) -> np.ndarray:
        return self.t if name == "t" else self.values[name]

    def __len__(self) -> int:
        return len(self.t)

    def as_dict(self) -> dict[str, Any]:
        """{"t": ..., <name>: ..., "solver_steps": bool}."""
        return {"t": self.t, **self.values, "solver_steps": self.solver_steps}

    def resample(self, dt: float) -> Trace:
        """Linear interpolation onto a uniform grid of step ``dt`` (ms) from t[0] to t[-1]."""
        if len(self.t) == 0:
            return self
        t64 = self.t.astype(np.float64)
        grid = np.arange(t64[0], t64[-1] + dt / 2, dt)
        vals = {k: np.interp(grid, t64, v.astype(np.float64)).astype(np.float32) for k, v in self.values.items()}
        return Trace(grid.astype(np.float32), vals, solver_steps=False)

    @staticmethod
    def concat(first: Trace, second: Trace) -> Trace:
        return Trace(np.concatenate([first.t, second.t]),
                     {k: np.concatenate([first.values[k], second.values[k]]) for k in second.values},
                     solver_steps=second.solver_steps)


class Recorder:
    """Records time and chosen variables; :meth:`trace` returns float32 arrays.

    Create it (and add variables) before the run is initialised::

        rec = Recorder().record_v("soma", cell.seg("soma")).record("i_syn", syn._ref_i)
    """

    def __init__(self) -> None:
        h = neuron_h()
        self._t = h.Vector().record(h._ref_t)
        self._vecs: dict[str, Any] = {}
        self.prefix: Trace | None = None  # samples before a checkpoint restore

    def record(self, name: str, ref: Any) -> Recorder:
        """Record a NEURON reference (``seg._ref_v``, ``syn._ref_i``, ``clamp._ref_i``...)."""
        if name == "t" or name in self._vecs:
            raise ValueError(f"a variable named {name!r} is already recorded")
        self._vecs[name] = neuron_h().Vector().record(ref)
        return self

    def record_v(self, name: str, seg: Any) -> Recorder:
        """Record the membrane potential (mV) of a segment."""
        return self.record(name, seg._ref_v)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._vecs)

    def samples(self, name: str, start: int = 0) -> np.ndarray:
        """What this recorder's vector ``name`` holds from sample ``start`` (the prefix not
        included): a view, valid until the run continues."""
        return self._vecs[name].as_numpy()[start:]

    def clear(self, prefix: Trace | None = None) -> None:
        """Empty the vectors (``prefix`` = samples to put before what is recorded next)."""
        self._t.resize(0)
        for vec in self._vecs.values():
            vec.resize(0)
        self.prefix = prefix

    def trace(self) -> Trace:
        """Everything recorded so far (prefix included) as float32 arrays."""
        h = neuron_h()
        n = int(self._t.size())
        t = self._t.as_numpy()[:n].astype(np.float32)
        vals = {k: v.as_numpy()[: min(n, int(v.size()))].astype(np.float32) for k, v in self._vecs.items()}
        out = Trace(t, vals, solver_steps=bool(h.cvode.active()))
        return Trace.concat(self.prefix, out) if self.prefix is not None else out


# --- stimulation ------------------------------------------------------------------------------
def iclamp(seg: Any, amp_nA: float, delay_ms: float, dur_ms: float) -> Any:
    """A current step: ``amp_nA`` nA from ``delay_ms`` for ``dur_ms`` ms (keep the object)."""
    clamp = neuron_h().IClamp(seg)
    clamp.amp, clamp.delay, clamp.dur = amp_nA, delay_ms, dur_ms
    return clamp


def seclamp(seg: Any, levels: Sequence[tuple[float, float]] | float, rs_MOhm: float = 0.01) -> Any:
    """A single-electrode voltage clamp (works under CVODE, unlike VClamp).

    ``levels``: a holding potential in mV for the whole run, or up to three (mV, ms) steps.
    ``rs_MOhm``: series resistance in MΩ. Record the clamp current (nA) with
    ``rec.record("i_clamp", clamp._ref_i)``.
    """
    clamp = neuron_h().SEClamp(seg)
    steps = [(float(levels), 1e9)] if isinstance(levels, (int, float)) else list(levels)
    if not 1 <= len(steps) <= 3:
        raise ValueError("SEClamp takes one to three (mV, ms) levels")
    for k, (amp, dur) in enumerate(steps, start=1):
        setattr(clamp, f"amp{k}", amp)
        setattr(clamp, f"dur{k}", dur)
    clamp.rs = rs_MOhm
    return clamp


def play_current(seg: Any, t_ms: np.ndarray, i_nA: np.ndarray) -> tuple[Any, Any, Any]:
    """Inject an arbitrary current waveform (e.g. a ZAP chirp), interpolated between samples.

    Returns (clamp, t vector, i vector): keep all three alive for the run.
    """
    h = neuron_h()
    clamp = h.IClamp(seg)
    clamp.delay, clamp.dur = 0.0, 1e9
    tv, iv = h.Vector(np.asarray(t_ms, float)), h.Vector(np.asarray(i_nA, float))
    iv.play(clamp._ref_amp, tv, 1)  # continuous=1: linear interpolation, CVODE sees the breakpoints
    return clamp, tv, iv


class EventTrain:
    """Spike times delivered to one synapse (a POINT_PROCESS) through ONE NetCon.

    ``times_ms``: presynaptic spike times (ms); events arrive at ``times + delay_ms``.
    ``weight``: the NetCon weight (µS for Exp2Syn; ``weight[0]``), or several weights.
    NEURON 9 wheels have no VecStim, so by default the events are queued on a source-less
    NetCon (``nc.event``) at every initialisation; ``use_vecstim=True`` uses the model's own
    VecStim (from its mod files) as the source instead.
    """

    def __init__(self, target: Any, times_ms: Iterable[float], weight: float | Sequence[float] = 1.0,
                 delay_ms: float = 0.0, *, use_vecstim: bool = False):
        h = neuron_h()
        self.target = target
        self.delay_ms = float(delay_ms)
        self.auto_queue = True  # BaselineCheckpoint turns this off and queues after the checkpoint
        self._vecstim = self._vec = self._fih = None
        if use_vecstim:
            if not hasattr(h, "VecStim"):
                raise ValueError("VecStim is not defined in this process: load a mod folder that has "
                                 "vecevent.mod, or use the default source-less NetCon")
            self._vecstim = h.VecStim()
            self._vec = h.Vector()
            self.netcon = h.NetCon(self._vecstim, target)
        else:
            self.netcon = h.NetCon(None, target)
            ref = weakref.ref(self)  # the handler must not keep the train (and itself) alive

            def on_init() -> None:
                train = ref()
                if train is not None and train.auto_queue:
                    train.queue()

            self._fih = h.FInitializeHandler(on_init)
        self.netcon.delay = self.delay_ms
        self.set_weight(weight)
        self.set_times(times_ms)

    def set_times(self, times_ms: Iterable[float]) -> None:
        """New spike times (ms), used from the next initialisation on."""
        self.times_ms = np.sort(np.asarray(list(times_ms), dtype=float))
        if self._vecstim is not None:
            self._vec = neuron_h().Vector(self.times_ms)
            self._vecstim.play(self._vec)

    def set_weight(self, weight: float | Sequence[float]) -> None:
        weights = [weight] if isinstance(weight, (int, float)) else list(weight)
        self.weights = tuple(float(w) for w in weights)
        for k, w in enumerate(self.weights):
            self.netcon.weight[k] = w

    @property
    def arrival_ms(self) -> np.ndarray:
        """When the events reach the synapse (ms): spike times + delay."""
        return self.times_ms + self.delay_ms

    def queue(self, t_from: float | None = None) -> None:
        """Queue the events arriving at or after ``t_from`` (all when None) on the NetCon now."""
        if self._vecstim is not None:
            return  # the VecStim sends them itself
        for t in self.arrival_ms:
            if t_from is None or t >= t_from:
                self.netcon.event(float(t))


def _names(pp: Any, *vartypes: int) -> list[str]:
    """Scalar variable names of a point process's mechanism: 1 PARAMETER, 2 RANGE ASSIGNED, 3 STATE."""
    h = neuron_h()
    mech = pp.hname().split("[")[0]
    names = []
    for vartype in vartypes:
        ms = h.MechanismStandard(mech, vartype)
        for i in range(int(ms.count())):
            s = h.ref("")
            if ms.name(s, i) == 1:
                names.append(s[0])
    return names


def point_process_names() -> list[str]:
    """Names of every point-process mechanism loaded in this process (built in and compiled)."""
    # local: import-time cost: importlib.metadata, subprocess (+20 ms)
    from .mechanisms import loaded_mechanism_names

    return loaded_mechanism_names(neuron_h(), (1,))


def _point_process_parameters(exclude: set[str]) -> tuple:
    """(name, PARAMETER values) of every point process instance in this process."""
    h = neuron_h()
    out = []
    for name in point_process_names():
        instances = [pp for pp in h.List(name) if pp.hname() not in exclude]
        if not instances:
            continue
        names = _names(instances[0], 1)
        out.extend((name, tuple(getattr(pp, n) for n in names)) for pp in instances)
    return tuple(out)


def _event_structure() -> tuple:
    """Which NetCons exist (by name) and what each listens to, and how many instances of every
    point process: a SaveState restores only into the same set (NEURON aborts the process with
    ``SaveState::restore: Assertion nprs_ <= prl->size()`` when a source was added or removed)."""
    h = neuron_h()
    ncs = []
    for nc in h.List("NetCon"):
        pre = nc.pre()
        seg = nc.preseg()
        ncs.append((nc.hname(), pre.hname() if pre is not None else None, str(seg) if seg is not None else None))
    counts = tuple((name, int(h.List(name).count())) for name in point_process_names())
    return tuple(ncs), counts


class BaselineCheckpoint:
    """Skip a protocol's pre-stimulus baseline on re-runs with a ``SaveState`` at ``t_ms``.

    The first run (or a run whose key changed) simulates 0..t_ms, saves the state and the trace
    so far, then continues; later runs restore the state and simulate only t_ms..tstop. The
    trace is identical (fixed step; under CVODE both paths re-initialise the solver at t_ms so
    they agree with each other).

    What keys the checkpoint (a different key re-runs the baseline and saves again): ``key``
    (give everything that changes the baseline and SaveState does not restore: density
    mechanism parameters such as ``gbar``, ``e_pas``, ``cm``, ``Ra``...), the settings, the
    recorded names, the model's size, and the PARAMETERs of every point process (SaveState
    restores point-process parameters, and values their INITIAL derived from them, such as
    Exp2Syn's hidden ``factor``; a changed clamp level or synapse parameter must therefore
    re-run the baseline). NetCon weights and the trains do not key it: they act after t_ms.

    Event trains passed as ``trains`` are queued after the checkpoint (all their events must
    arrive at or after t_ms), so a changed train never comes back from the saved event queue,
    and their weights are set again after a restore (SaveState restores NetCon weight vectors:
    weights of NetCons not passed here come back as they were at the save). FInitializeHandlers
    still run at each initialisation, but the events they queue are replaced by the saved queue.

    Opt-in: point processes in ``reinit`` (the synapse under test) are left out of the key;
    after a restore they get back this run's parameters and the STATE / RANGE ASSIGNED values
    of this run's initialisation. Correct only when their INITIAL derives nothing hidden (not
    RANGE) from a changed parameter (Exp2Syn: ``e`` may change, tau1/tau2 must go into
    ``key``) and they receive nothing before t_ms; check with a test (restored == full run).
    """

    def __init__(self, t_ms: float):
        self.t_ms = float(t_ms)
        self.restored = False  # whether the last run used the checkpoint
        self._key: Any = None
        self._state: Any = None
        self._baseline: Trace | None = None

    def invalidate(self) -> None:
        self._key = self._state = self._baseline = None

    def run(self, settings: SimSettings, recorder: Recorder, *, key: Any = None, trains: Sequence[EventTrain] = (),
            reinit: Sequence[Any] = (), ctx: WorkerContext | None = None, chunk_ms: float | None = None) -> Trace:
        """Run the protocol to ``settings.tstop`` through the checkpoint; the full Trace."""
        self.start(settings, recorder, key=key, trains=trains, reinit=reinit, ctx=ctx, chunk_ms=chunk_ms)
        if ctx is not None and chunk_ms:
            run_chunked(settings.tstop, chunk_ms, ctx, recorder)
        else:
            advance_to(settings.tstop)
        return recorder.trace()

    def start(self, settings: SimSettings, recorder: Recorder, *, key: Any = None, trains: Sequence[EventTrain] = (),
              reinit: Sequence[Any] = (), ctx: WorkerContext | None = None, chunk_ms: float | None = None) -> None:
        """Initialise and bring the run to the checkpoint (restored, or simulated and saved), trains
        queued: the caller continues from ``t_ms`` (``run`` goes on to ``settings.tstop``)."""
        if not 0 <= self.t_ms <= settings.tstop:
            raise ValueError(f"checkpoint time {self.t_ms} ms is outside 0..tstop={settings.tstop} ms")
        for train in trains:
            early = train.arrival_ms[train.arrival_ms < self.t_ms]
            if early.size:
                raise ValueError(f"an event arrives at {early[0]:g} ms, before the checkpoint at {self.t_ms:g} ms")
        # No cyclic GC from the key's count of point processes to the restore: a collection in
        # between that frees a stale point process makes the saved state bigger than the model,
        # and SaveState.restore() then aborts the process (savstate.cpp "nprs_ <= prl->size()").
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            self._start(settings, recorder, key=key, trains=trains, reinit=reinit, ctx=ctx, chunk_ms=chunk_ms)
        finally:
            if gc_was_enabled:
                gc.enable()

    def _start(self, settings: SimSettings, recorder: Recorder, *, key: Any, trains: Sequence[EventTrain],
               reinit: Sequence[Any], ctx: WorkerContext | None, chunk_ms: float | None) -> None:
        h = neuron_h()
        n_sections = sum(1 for _ in h.allsec())
        params = _point_process_parameters(exclude={pp.hname() for pp in reinit})
        full_key = (key, params, settings, self.t_ms, recorder.names, n_sections, _event_structure())
        apply_settings(settings)
        for train in trains:
            train.auto_queue = False
        try:
            if self._state is not None and full_key == self._key:
                h.finitialize(settings.v_init)
                fresh = [(pp, {n: getattr(pp, n) for n in _names(pp, 1, 2, 3)}) for pp in reinit]
                self._state.restore()
                for pp, values in fresh:
                    for name, value in values.items():
                        setattr(pp, name, value)
                recorder.clear(prefix=self._baseline)
                self.restored = True
            else:
                self.invalidate()
                recorder.prefix = None
                h.finitialize(settings.v_init)
                if ctx is not None and chunk_ms:
                    run_chunked(self.t_ms, chunk_ms, ctx, recorder)
                else:
                    advance_to(self.t_ms)
                state = h.SaveState()
                state.save()
                self._baseline = recorder.trace()
                self._state, self._key = state, full_key
                recorder.clear(prefix=self._baseline)
                self.restored = False
            if settings.cvode:
                h.cvode.re_init()  # both paths continue from a freshly initialised solver
            for train in trains:
                train.set_weight(train.weights)  # SaveState restores NetCon weight vectors too
                train.queue(t_from=self.t_ms)
        finally:
            for train in trains:
                train.auto_queue = True
