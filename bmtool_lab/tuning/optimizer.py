"""The synapse optimizer: fit synapse parameters to target metrics, in parallel, live, resumable.

Headless use::

    from bmtool_lab import SynapseOptimizer
    opt = SynapseOptimizer(tuner, params={"Use": (0.1, 1), "Dep": (0, 200), "Fac": (0, 400),
                                          "tau1": (1, 4), "tau2": (5, 20)},
                           targets={"induction": -0.75, "simple_ppr": 0.8, "rise_time": 2.0},
                           weights={"simple_ppr": 3})
    result = opt.fit(method="de", seed=1, executor=None)   # or a dask Client
    result.best_params, result.best_metrics, result.error, result.history   # DataFrame
    result.plot(); result.save("fit.json"); result.apply(tuner)              # explicit
    opt2 = SynapseOptimizer.resume("fit.json", tuner); opt2.fit(maxiter=40)  # continues

**Objective.** For each target metric ``m`` (target ``T_m``, weight ``w_m``, default 1) the
residual is ``r_m = (x_m - T_m) / s_m`` with the scale ``s_m = max(|T_m|, floor_m)``: a relative
error, except near 0, where the metric's absolute floor takes over (:data:`METRICS`: 0.1 for the
dimensionless STP indices simple_ppr, ppr, induction and recovery, whose usual range is about
±1, so a recovery target of 0 is met to ±0.002 as a 2 % relative error would be; 0.1 ms for
times; amplitude and charge have no floor and need a nonzero target). ``scales={m: s}``
overrides. The error is the weighted mean ``Σ w r² / Σ w``, so ``sqrt(error)`` reads as an RMS
relative error (0.02 → error 4e-4). ``cost=fn(runs)`` replaces it by your own function of the
measured metrics (``runs``: {protocol name: {metric: value}}).

**Parameters** are searched in the unit cube: ``(lo, hi)`` maps linearly, ``(lo, hi, "log")``
logarithmically (lo > 0). Nothing is ever clipped silently: a candidate that breaks a constraint
(``tau1 < tau2`` for Exp2Syn-like synapses, automatic; or your own) is NOT simulated and scores
``PENALTY · (1 + relative violation)``, so every method is steered back into the feasible set;
SLSQP also gets the constraint itself. A run that fails (or whose targeted metric is undefined,
e.g. no response) scores ``PENALTY`` and says why in the history.

**Protocols.** A target ``"induction"`` comes from the tuner's train protocol (f, delay as in
the dashboard); ``"induction@20Hz"`` from a train at 20 Hz (``"@20Hz/1000ms"``: recovery delay
1000 ms); ``"rise_time@single"`` from a single event; ``"x@name"`` from ``protocols={"name":
{"kind": "train", "freq_hz": 20, ...}}``. Plain event metrics (amplitude, rise...) come from
the train's single-event kernel when a train runs anyway, else from a single-event run. Several
frequencies = a frequency response; every (candidate, protocol) pair is one job.

**Methods** (every evaluation is a job on the engine's executor: a warm local pool by default,
a dask Client when given; results come back in input order, so a seed gives identical fits):

- ``"de"``: batched differential evolution (best1bin, dithered F in [0.5, 1], CR 0.7, Latin
  hypercube start that includes the tuner's current values when they are inside the bounds);
  each generation's whole population is one parallel batch (generations stay synchronous: an
  asynchronous DE would depend on which worker finishes first and lose reproducibility); then
  a least-squares polish. Resumes exactly (population, energies and RNG state are saved).
- ``"least-squares"``: scipy's trust-region reflective least squares on the weighted residuals
  (the objective is a sum of squares), its Jacobian from forward differences: the point and its
  n steps are one parallel batch (step ``fd_step`` in unit coordinates: our metrics are
  interpolated, so they move smoothly with the parameters, unlike bmtool's dt-quantised ones,
  whose finite differences are 0);
- ``"l-bfgs-b"`` / ``"slsqp"``: scipy on the error with the same parallel forward differences
  (SLSQP also gets the constraints themselves);
- ``"nelder-mead"``: ``n_starts`` parallel restarts run in lockstep (one batch per round).
Local methods resume from the best point found so far. Already evaluated points are never
simulated again (a resumed fit finds them in the history).

**No state leaks into the tuner**: evaluations run in the sweep executor's workers, never in the
tuner's own worker, and the tuner's parameters are never written; ``result.apply(tuner)`` is the
only way the best values reach it (one undoable change).

Listeners (``opt.add_listener(fn)``, called ``fn(event, payload)`` from the fit's thread):
"start" (dict), "evaluation" (Evaluation, as each one completes), "batch" (list of Evaluations,
in index order), "best" (Evaluation with its trace), "done" (FitResult), "error" (exception).
"""

from __future__ import annotations

import copy
import json
import math
import re
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from bmtool_lab.sim.errors import SimError
from bmtool_lab.sim.synapse_jobs import MeasureSettings, RunProtocol, SynapseSpec, synapse_run_job
from bmtool_lab.tuning._events import Listeners
from bmtool_lab.tuning.kinds import ShowsDashboard
from bmtool_lab.tuning.synapse import _PROTOCOL_ALIASES, SynapseProtocol, TunerError

__all__ = ["SynapseOptimizer", "FitResult", "Evaluation", "OptimizerError", "METRICS", "PENALTY", "fit_many",
           "optimizer_run_job", "STOP_REASONS", "ERROR_GOAL"]

#: Error of a candidate that could not be measured (failed run, undefined metric); infeasible
#: candidates score PENALTY · (1 + relative violation).
PENALTY = 1e6

#: Targetable metrics: name -> (protocol kind that yields it, absolute scale floor, description).
METRICS: dict[str, tuple[str, float, str]] = {
    "amplitude": ("event", 0.0, "peak of the response (nA under voltage clamp, mV under current clamp)"),
    "latency_ms": ("event", 0.1, "pulse delivery to 10 % of the peak (ms; the NetCon delay included)"),
    "rise_time_ms": ("event", 0.1, "10–90 % rise time (ms, interpolated crossings)"),
    "decay_tau_ms": ("event", 0.1, "decay time constant (ms, single-exponential fit)"),
    "half_width_ms": ("event", 0.1, "width at half the peak (ms)"),
    "t_peak_ms": ("event", 0.1, "time of the peak after the pulse (ms)"),
    "charge": ("event", 0.0, "integral of the response over its window (nA·ms = pC), signed"),
    "simple_ppr": ("train", 0.1, "A2/A1"),
    "ppr": ("train", 0.1, "(A2 - A1)/N"),
    "induction": ("train", 0.1, "(mean(A6..A8) - A1)/N"),
    "recovery": ("train", 0.1, "(mean(A9..A12) - mean(A1..A4))/N"),
}
_ALIASES = {"rise_time": "rise_time_ms", "rise": "rise_time_ms", "latency": "latency_ms", "decay": "decay_tau_ms",
            "decay_tau": "decay_tau_ms", "tau_decay": "decay_tau_ms", "half_width": "half_width_ms",
            "t_peak": "t_peak_ms", "paired_pulse_ratio": "simple_ppr"}
METHODS = ("de", "least-squares", "l-bfgs-b", "slsqp", "nelder-mead")
_SCIPY_NAMES = {"nelder-mead": "Nelder-Mead", "l-bfgs-b": "L-BFGS-B", "slsqp": "SLSQP",
                "least-squares": "least-squares TRF"}
_FORMAT = "bmtool_lab.synapse_fit"
_FIT_DEFAULTS: dict[str, Any] = {"maxiter": None, "popsize": 10, "max_evals": None, "polish": True, "n_starts": None,
                                 "fd_step": 1e-2, "tol": 0.01, "error_goal": None, "target_rtol": 1e-3,
                                 "stall_batches": 10, "stall_rtol": 1e-3}
#: Default error goal: a fit with targets stops once its error is this low (an RMS relative
#: error of 0.1 %); with a custom cost only an explicit ``error_goal`` applies.
ERROR_GOAL = 1e-6
#: Why a fit ended (``FitResult.stop_reason``).
STOP_REASONS = {
    "target_met": "every targeted metric within target_rtol of its target",
    "error_goal": "the best error reached error_goal",
    "stalled": "the best error improved by less than stall_rtol over stall_batches batches",
    "converged": "the method's own convergence test (DE error spread within tol; scipy's tolerances)",
    "maxiter": "the generation / iteration limit",
    "budget": "the evaluation budget (max_evals)",
    "stopped": "Stop was pressed",
    "interrupted": "the kernel was interrupted",
}


class OptimizerError(TunerError):
    """A fit that cannot be set up or run, with a message that says what to do."""


class _Stopped(Exception):
    """Stop was pressed: the fit ends with the best so far."""


class _Finished(Exception):
    """The evaluation budget, the error goal or the targets were reached (ends the whole fit)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class _Stalled(_Finished):
    """No progress over the last batches: ends the current phase (DE goes on to its polish)."""


# --- problem description ----------------------------------------------------------------------
@dataclass(frozen=True)
class FitParam:
    """One fitted parameter: bounds ``lo``..``hi`` (the parameter's unit) searched linearly or,
    with ``log``, logarithmically, as the unit interval."""

    name: str
    lo: float
    hi: float
    log: bool = False

    def value(self, z: float) -> float:
        """Parameter value of the unit coordinate ``z`` (0 → lo, 1 → hi)."""
        if self.log:
            return float(math.exp(math.log(self.lo) + z * (math.log(self.hi) - math.log(self.lo))))
        return float(self.lo + z * (self.hi - self.lo))

    def unit(self, v: float) -> float:
        """Unit coordinate of the value ``v``."""
        if self.log:
            return (math.log(v) - math.log(self.lo)) / (math.log(self.hi) - math.log(self.lo))
        return (v - self.lo) / (self.hi - self.lo)

    def to_json(self) -> list:
        return [self.lo, self.hi, "log" if self.log else "linear"]


@dataclass(frozen=True)
class FitProtocol:
    """A protocol targets come from: ``kind`` "single" or "train" and tuner-protocol overrides."""

    name: str
    kind: str
    overrides: tuple[tuple[str, Any], ...] = ()

    def to_json(self) -> dict:
        return {"kind": self.kind, **dict(self.overrides)}


@dataclass(frozen=True)
class Target:
    """One target: ``key`` as given (``"induction@20Hz"``), the canonical ``metric`` and
    ``protocol`` name, the target ``value``, its ``weight`` and the error ``scale``."""

    key: str
    metric: str
    protocol: str
    value: float
    weight: float
    scale: float


@dataclass
class Evaluation:
    """One evaluated parameter set: ``index`` (0-based, in the fit's order), ``batch``, unit
    coordinates ``z``, fitted ``params``, targeted ``metrics`` (keys as the targets),
    ``error``, ``status`` ("ok", "failed", "infeasible"), ``message``; ``runs`` holds every
    metric of every protocol; ``trace`` (only kept for the best / the latest) {protocol:
    (t ms, x, unit)} decimated for display."""

    index: int
    batch: int
    z: np.ndarray
    params: dict[str, float]
    metrics: dict[str, float]
    error: float
    status: str = "ok"
    message: str = ""
    runs: dict[str, dict[str, float]] = field(default_factory=dict)
    trace: dict[str, tuple[np.ndarray, np.ndarray, str]] | None = None
    residuals: np.ndarray | None = None  # sqrt(w/Σw)·(x - T)/s per target: error = Σ residuals²

    def to_json(self) -> dict:
        return {"index": self.index, "batch": self.batch, "z": [float(v) for v in self.z], "params": self.params,
                "metrics": _jsonable(self.metrics), "error": _num(self.error), "status": self.status,
                "message": self.message, "runs": _jsonable(self.runs),
                "residuals": None if self.residuals is None else [float(v) for v in self.residuals]}

    @classmethod
    def from_json(cls, d: dict) -> Evaluation:
        return cls(index=int(d["index"]), batch=int(d["batch"]), z=np.asarray(d["z"], dtype=np.float64),
                   params={k: float(v) for k, v in d["params"].items()}, metrics=_unjson(d["metrics"]),
                   error=_fnum(d["error"]), status=d["status"], message=d.get("message", ""),
                   runs={k: _unjson(v) for k, v in (d.get("runs") or {}).items()},
                   residuals=None if d.get("residuals") is None else np.asarray(d["residuals"], dtype=np.float64))


def _num(v: Any) -> Any:
    return float(v) if isinstance(v, (int, float, np.floating)) and math.isfinite(float(v)) else None


def _fnum(v: Any) -> float:
    return float("nan") if v is None else float(v)


def _jsonable(d: Any) -> Any:
    if isinstance(d, Mapping):
        return {k: _jsonable(v) for k, v in d.items()}
    if isinstance(d, (list, tuple)):
        return [_jsonable(v) for v in d]
    if isinstance(d, (float, np.floating, int, np.integer)) and not isinstance(d, bool):
        return _num(d)
    return d


def _unjson(d: Any) -> Any:
    if isinstance(d, Mapping):
        return {k: _unjson(v) for k, v in d.items()}
    return float("nan") if d is None else d


# --- the worker job ---------------------------------------------------------------------------
def _display_trace(t: np.ndarray, x: np.ndarray, t0: float, t1: float, n_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Min/max decimation onto ``n_bins`` bins of [t0, t1] (2 points per bin): fast EPSC peaks
    survive, and a trace costs ~16 kB to send however long it is."""
    t0, t1 = max(t0, float(t[0])), min(t1, float(t[-1]))
    sub = 8
    grid = np.linspace(t0, t1, n_bins * sub)
    xs = np.interp(grid, t, x).reshape(n_bins, sub)
    gs = grid.reshape(n_bins, sub)
    lo, hi = xs.argmin(axis=1), xs.argmax(axis=1)
    rows = np.arange(n_bins)
    first = np.minimum(lo, hi)
    second = np.maximum(lo, hi)
    tt = np.stack([gs[rows, first], gs[rows, second]], axis=1).ravel()
    xx = np.stack([xs[rows, first], xs[rows, second]], axis=1).ravel()
    return tt.astype(np.float32), xx.astype(np.float32)


def optimizer_run_job(ctx: Any, spec: SynapseSpec, params: dict[str, Any], proto: RunProtocol,
                      measure: MeasureSettings, strict: frozenset[str] = frozenset(), trace_bins: int = 600) -> dict:
    """One evaluation of one protocol, in a worker: the tuner's own job
    (:func:`~bmtool_lab.sim.synapse_jobs.synapse_run_job`, which keeps the built cell in
    ``ctx.model`` and re-applies every parameter), returned without the full traces: the
    metrics (scalars), the pulse amplitudes and a min/max-decimated analysed trace for display."""
    out = synapse_run_job(ctx, spec, params, proto, strict, measure)
    m = out["measured"]["metrics"]
    metrics = {k: float(v) for k, v in m.items() if not isinstance(v, (list, tuple))}
    t = np.asarray(out["t"], dtype=np.float64)
    x = np.asarray(out["traces"][measure.analysed], dtype=np.float64)
    pulses = np.asarray(out["pulse_times_ms"], dtype=np.float64)
    tt, xx = _display_trace(t, x, float(pulses[0]) - 20.0, float(t[-1]), trace_bins)
    return {"metrics": metrics, "amplitudes": [float(a) for a in m.get("amplitudes", [])],
            "trace_t": tt, "trace_x": xx, "unit": out["units"][measure.analysed], "sim_ms": float(out["sim_ms"])}


# --- helpers ----------------------------------------------------------------------------------
def _canonical_metric(name: str) -> str:
    m = _ALIASES.get(name, name)
    if m not in METRICS:
        known = ", ".join(list(METRICS) + sorted(_ALIASES))
        raise OptimizerError(f"unknown metric {name!r}; targets can be: {known} (optionally '@protocol', "
                             "e.g. 'induction@20Hz')")
    return m


_HZ_RE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*hz\s*(?:[/,+]\s*(\d+(?:\.\d*)?|\.\d+)\s*ms)?\s*$", re.IGNORECASE)


def _protocol_fields() -> set[str]:
    return {f.name for f in fields(SynapseProtocol)}


def _parse_protocol(name: str, named: Mapping[str, Mapping[str, Any]]) -> FitProtocol:
    if name in named:
        d = dict(named[name])
        kind = d.pop("kind", "train")
        if kind not in ("single", "train"):
            raise OptimizerError(f"protocol {name!r}: kind must be 'single' or 'train', not {kind!r}")
        over = {}
        known = _protocol_fields()
        for k, v in d.items():
            k2 = _PROTOCOL_ALIASES.get(k, k)
            if k2 not in known:
                raise OptimizerError(f"protocol {name!r}: unknown setting {k!r}; settings are: "
                                     f"{', '.join(sorted(known))}")
            over[k2] = tuple(v) if isinstance(v, list) else v
        return FitProtocol(name, kind, tuple(sorted(over.items())))
    if name in ("single", "train"):
        return FitProtocol(name, name)
    m = _HZ_RE.match(name)
    if m:
        over = {"freq_hz": float(m.group(1))}
        if m.group(2) is not None:
            over["delay_ms"] = float(m.group(2))
        return FitProtocol(name, "train", tuple(sorted(over.items())))
    raise OptimizerError(f"unknown protocol {name!r}: use 'single', 'train', '<f>Hz', '<f>Hz/<delay>ms' or a "
                         f"name defined in protocols= ({', '.join(named) or 'none defined'})")


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


def _lhs(rng: np.random.Generator, n_points: int, n_dim: int) -> np.ndarray:
    """Latin hypercube sample of the unit cube (one point per stratum in every dimension)."""
    strata = np.stack([rng.permutation(n_points) for _ in range(n_dim)], axis=1)
    return (strata + rng.random((n_points, n_dim))) / n_points


# --- progress bar for headless fits -----------------------------------------------------------
class _TextProgress:
    """A one-line progress bar on stderr (tqdm when it is installed; nothing heavy otherwise)."""

    def __init__(self, total: int, desc: str) -> None:
        self.total, self.desc = max(1, int(total)), desc
        self._last = 0.0
        self._tqdm = None
        try:
            from tqdm.auto import tqdm  # only if the user already has it

            self._tqdm = tqdm(total=self.total, desc=desc, leave=True)
        except Exception:
            pass

    def update(self, n: int, best: float, rate: float, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self._last < 0.25:
            return
        self._last = now
        if self._tqdm is not None:
            self._tqdm.total = max(self._tqdm.total, n)
            self._tqdm.n = n
            self._tqdm.set_postfix_str(f"best {best:.3g}, {rate:.1f} eval/s", refresh=True)
            return
        frac = min(1.0, n / self.total)
        bar = "#" * int(24 * frac) + "." * (24 - int(24 * frac))
        sys.stderr.write(f"\r{self.desc} [{bar}] {n}/{self.total} evals  best error {best:.3g}  {rate:.1f} eval/s")
        sys.stderr.flush()

    def close(self) -> None:
        if self._tqdm is not None:
            self._tqdm.close()
        else:
            sys.stderr.write("\n")
            sys.stderr.flush()


# --- one fit's evaluation machinery -----------------------------------------------------------
@dataclass
class _Problem:
    """What every evaluation needs, snapshotted from the tuner when a fit starts."""

    spec: SynapseSpec
    base: dict[str, float]
    strict: frozenset[str]
    runs: dict[str, tuple[RunProtocol, MeasureSettings]]
    protocol: SynapseProtocol


class _Search:
    """Evaluates batches of unit-cube points through the executor; keeps the history, the best,
    the budget, Stop, progress and listeners of one fit."""

    def __init__(self, opt: SynapseOptimizer, problem: _Problem, executor: Any, *, max_evals: int | None,
                 error_goal: float | None, timeout_s: float, records: list[Evaluation], progress: Any,
                 target_rtol: float | None = None, stall_batches: int | None = None,
                 stall_rtol: float = 1e-3) -> None:
        self.opt, self.problem, self.executor = opt, problem, executor
        self.max_evals, self.error_goal, self.timeout_s = max_evals, error_goal, timeout_s
        self.target_rtol, self.stall_batches, self.stall_rtol = target_rtol, stall_batches, stall_rtol
        self.bests: list[float] = []  # the best error after each batch of the current phase
        self.records = records
        self.memo = {r.z.tobytes(): r for r in records}
        self.best: Evaluation | None = min(records, key=lambda r: (r.error, r.index)) if records else None
        self.batch_no = max((r.batch for r in records), default=-1) + 1
        self.start_count = len(records)
        self.t0 = time.monotonic()
        self.progress = progress
        self.latest: Evaluation | None = None

    @property
    def n(self) -> int:
        return len(self.records)

    def rate(self) -> float:
        dt = time.monotonic() - self.t0
        return (self.n - self.start_count) / dt if dt > 0 else 0.0

    def evaluate(self, Z: np.ndarray) -> np.ndarray:
        """Errors of the rows of ``Z`` (unit coordinates); raises _Stopped / _Finished."""
        return np.array([ev.error for ev in self.run(Z)])

    def run(self, Z: np.ndarray) -> list[Evaluation]:
        """Evaluations of the rows of ``Z`` (unit coordinates; already evaluated points come from
        the history without a simulation); raises _Stopped / _Finished."""
        opt = self.opt
        if opt._stop.is_set():
            raise _Stopped()
        if self.max_evals is not None and self.n >= self.max_evals:
            raise _Finished("budget", f"reached the evaluation budget ({self.max_evals})")
        Z = np.atleast_2d(np.asarray(Z, dtype=np.float64))
        batch = self.batch_no
        self.batch_no += 1
        out: list[Evaluation | None] = [None] * len(Z)
        todo: list[int] = []
        seen: dict[bytes, int] = {}
        for i, z in enumerate(Z):
            z = np.clip(z, 0.0, 1.0)  # round-off only: methods keep points inside the unit cube
            Z[i] = z
            key = z.tobytes()
            if key in self.memo:
                out[i] = self.memo[key]
            elif key in seen:
                continue
            else:
                seen[key] = i
                todo.append(i)
        new: dict[int, Evaluation] = {}
        items: list[tuple[int, str]] = []
        kwargs = []
        for i in todo:
            params = opt._values(Z[i])
            violation = opt._violation({**self.problem.base, **params})
            if violation > 0:
                new[i] = Evaluation(-1, batch, Z[i].copy(), params, {t.key: float("nan") for t in opt._targets},
                                    PENALTY * (1.0 + violation), "infeasible",
                                    "breaks " + "; ".join(opt._constraint_text()) + " (not simulated)")
                continue
            full = {**self.problem.base, **params}
            for pname, (rp, ms) in self.problem.runs.items():
                items.append((i, pname))
                kwargs.append({"spec": self.problem.spec, "params": full, "proto": rp, "measure": ms,
                               "strict": self.problem.strict})
        results: dict[int, dict[str, Any]] = {}

        def on_result(j: int, value: Any) -> None:
            i, pname = items[j]
            results.setdefault(i, {})[pname] = value
            if len(results[i]) == len(self.problem.runs):
                ev = self._make(i, Z[i], batch, results[i])
                if ev is not None:
                    new[i] = ev
                    opt._emit("evaluation", ev)
                    if self.progress is not None:
                        self.progress.update(self.n + len(new), self._best_error(new), self.rate())

        if kwargs:
            from bmtool_lab.sim.executor import get_executor

            get_executor(self.executor).map(optimizer_run_job, kwargs, on_result=on_result, timeout=self.timeout_s,
                                            stop=opt._stop)
        stopped = opt._stop.is_set()
        # history in index order (deterministic), whatever order the workers finished in
        added = []
        for i in sorted(new):
            ev = new[i]
            if ev.status == "cancelled":
                continue
            ev.index = len(self.records)
            self.records.append(ev)
            self.memo[ev.z.tobytes()] = ev
            out[i] = ev
            added.append(ev)
        for i, z in enumerate(Z):  # duplicates within the batch
            if out[i] is None and z.tobytes() in self.memo:
                out[i] = self.memo[z.tobytes()]
        if added:
            self.latest = added[-1]
            opt._emit("batch", added)
            improved = None
            for ev in added:
                if self.best is None or ev.error < self.best.error:
                    self.best = improved = ev
            # an evaluation with every metric within target_rtol ends the fit even when another
            # has a lower weighted error but one metric outside: the met one becomes the best
            met = [ev for ev in added if self.targets_met(ev)]
            if met and not self.targets_met(self.best):
                self.best = improved = min(met, key=lambda e: (e.error, e.index))
            if improved is not None:
                opt._emit("best", improved)
            for ev in added:  # keep traces only for the best and the latest
                if ev is not self.best and ev is not self.latest:
                    ev.trace = None
            if all(ev.status == "failed" for ev in added) and self.best is not None and self.best.status == "failed":
                raise OptimizerError(f"every evaluation failed; the first said: {added[0].message}")
        if self.progress is not None:
            self.progress.update(self.n, self._best_error({}), self.rate())
        if stopped:
            raise _Stopped()
        self._check_stop(bool(added))
        return out  # type: ignore[return-value]

    def new_phase(self) -> None:
        """Start counting stalled batches afresh (DE's polish is a new phase)."""
        self.bests = []

    def targets_met(self, ev: Evaluation | None) -> bool:
        """Whether every target of ``ev`` is within ``target_rtol`` of its value (|x - T| <= rtol·s)."""
        opt = self.opt
        if ev is None or self.target_rtol is None or opt.cost is not None or ev.status != "ok":
            return False
        return all(math.isfinite(ev.metrics.get(t.key, math.nan))
                   and abs(ev.metrics[t.key] - t.value) <= self.target_rtol * t.scale for t in opt._targets)

    def _check_stop(self, evaluated: bool) -> None:
        best = self.best
        if best is None:
            return
        if self.targets_met(best):
            raise _Finished("target_met", f"every target within {self.target_rtol:g} of its value "
                                          f"(evaluation {best.index + 1})")
        if self.error_goal is not None and best.status == "ok" and best.error <= self.error_goal:
            raise _Finished("error_goal", f"reached the error goal ({self.error_goal:g}) at evaluation {best.index + 1}")
        if not evaluated or not self.stall_batches:
            return
        self.bests.append(best.error)
        k = self.stall_batches
        if len(self.bests) > k:
            old, now = self.bests[-k - 1], self.bests[-1]
            if math.isfinite(old) and now >= old * (1.0 - self.stall_rtol):
                raise _Stalled("stalled", f"stalled: the best error ({now:.3g}) improved by less than "
                                          f"{self.stall_rtol:g} (relative) over {k} batches")

    def _best_error(self, new: Mapping[int, Evaluation]) -> float:
        errs = [e.error for e in new.values()] + ([self.best.error] if self.best is not None else [])
        return min(errs) if errs else float("nan")

    def _make(self, i: int, z: np.ndarray, batch: int, runs: dict[str, Any]) -> Evaluation | None:
        opt = self.opt
        params = opt._values(z)
        failures = [v for v in runs.values() if isinstance(v, BaseException)]
        if failures:
            if any(isinstance(v, SimError) and v.kind == "cancelled" for v in failures):
                return Evaluation(-1, batch, z.copy(), params, {}, float("nan"), "cancelled")
            msg = getattr(failures[0], "message", None) or str(failures[0])
            return Evaluation(-1, batch, z.copy(), params, {t.key: float("nan") for t in opt._targets}, PENALTY,
                              "failed", msg)
        measured = {p: r["metrics"] for p, r in runs.items()}
        metrics = {t.key: measured[t.protocol].get(t.metric, float("nan")) for t in opt._targets}
        error, message = opt._error(metrics, measured)
        trace = {p: (r["trace_t"], r["trace_x"], r["unit"]) for p, r in runs.items()}
        status = "ok" if message == "" else "failed"
        resid = opt._weighted_residuals(metrics) if status == "ok" and opt.cost is None else None
        return Evaluation(-1, batch, z.copy(), params, metrics, error, status, message, measured, trace, resid)


class _Lockstep:
    """Run several sequential searches (local restarts) in threads, gathering one request from
    each live thread into one parallel batch (ordered by thread index, so results do not
    depend on thread timing)."""

    def __init__(self, search: _Search, n_threads: int) -> None:
        self.search = search
        self.cv = threading.Condition()
        self.alive = n_threads
        self.pending: dict[int, np.ndarray] = {}
        self.answers: dict[int, Any] = {}
        self.round = 0

    def request(self, tid: int, Z: np.ndarray) -> list[Evaluation]:
        with self.cv:
            self.pending[tid] = np.atleast_2d(Z)
            my_round = self.round
            self._maybe_dispatch()
            while self.round == my_round:
                self.cv.wait()
            ans = self.answers.pop(tid)
        if isinstance(ans, BaseException):
            raise ans
        return ans

    def done(self) -> None:
        with self.cv:
            self.alive -= 1
            self._maybe_dispatch()

    def _maybe_dispatch(self) -> None:
        if not self.pending or len(self.pending) < self.alive:
            return
        order = sorted(self.pending)
        blocks = [self.pending[t] for t in order]
        self.pending = {}
        try:
            evs = self.search.run(np.concatenate(blocks))
            pos = 0
            for t, b in zip(order, blocks, strict=True):
                self.answers[t] = evs[pos:pos + len(b)]
                pos += len(b)
        except BaseException as exc:  # Stop / budget / failure: every thread ends with it
            for t in order:
                self.answers[t] = exc
        self.round += 1
        self.cv.notify_all()


# --- the optimizer ----------------------------------------------------------------------------
class SynapseOptimizer(ShowsDashboard):
    """Fit parameters of the tuner's selected connection to target metrics.

    Parameters
    ----------
    tuner : a :class:`~bmtool_lab.tuning.synapse.SynapseTuner`; the connection selected now is
        the one fitted, with the tuner's protocol (clamp, f, delay...) and the current values
        of the parameters that are not fitted, read when :meth:`fit` starts.
    params : {name: (lo, hi)} or (lo, hi, "log"): the fitted parameters (dynamics-JSON names and
        units: ms, µS, fractions) and their bounds.
    targets : {metric or "metric@protocol": value} (see the module docstring; units as the
        tuner's metrics: ms, nA or mV, pC; the STP indices are dimensionless).
    weights : {target key: weight >= 0} (default 1).
    scales : {target key: absolute error scale > 0} overriding ``max(|target|, floor)``.
    protocols : {name: {"kind": "single" | "train", protocol settings...}} for "metric@name".
    constraints : "auto" (tau1 < tau2 when the mechanism has both), or a list of
        ``("a", "<", "b")`` and callables ``g(params) -> float`` (feasible when <= 0).
    cost : ``fn(runs) -> float`` replacing the target error (``runs``: {protocol: metrics}).
    """

    title = "Synapse optimizer"

    def __init__(self, tuner: Any, params: Mapping[str, Sequence[Any]], targets: Mapping[str, float] | None = None,
                 weights: Mapping[str, float] | None = None, *, scales: Mapping[str, float] | None = None,
                 protocols: Mapping[str, Mapping[str, Any]] | None = None, constraints: Any = "auto",
                 cost: Callable[[dict[str, dict[str, float]]], float] | None = None) -> None:
        self.tuner = tuner
        self.connection: str | None = tuner.name
        if self.connection is None:
            raise OptimizerError("the tuner has no connection selected: tuner.select(name) first")
        self.cost = cost
        self._listeners = Listeners("SynapseOptimizer")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._widget: Any = None
        self.result: FitResult | None = None
        self._records: list[Evaluation] = []
        self._state: dict[str, Any] | None = None
        self._resume_from: dict[str, Any] | None = None  # a saved fit to continue
        self._base_override: dict[str, float] | None = None
        self._protocol_override: SynapseProtocol | None = None
        specs = {s.name: s for s in tuner.param_specs}
        self.params = self._check_params(params, specs)
        self._protocols_in = {k: dict(v) for k, v in (protocols or {}).items()}
        self.targets_in = dict(targets or {})
        self.weights_in = dict(weights or {})
        self.scales_in = dict(scales or {})
        self._targets, self.protocols = self._check_targets()
        self._constraints = self._check_constraints(constraints, specs)

    # --- validation -------------------------------------------------------------------------
    def _check_params(self, params: Mapping[str, Sequence[Any]], specs: dict) -> dict[str, FitParam]:
        if not params:
            raise OptimizerError("no parameters to fit: give params={name: (lower, upper)}, e.g. "
                                 "{'Use': (0.05, 0.9)}")
        out = {}
        for name, b in params.items():
            if name not in specs:
                raise OptimizerError(f"{self.tuner.mechanism} has no parameter {name!r} to fit; its parameters are: "
                                     f"{', '.join(specs)}")
            if isinstance(b, (str, bytes)) or not isinstance(b, Sequence) or len(b) not in (2, 3):
                raise OptimizerError(f"bounds of {name} must be (lower, upper) or (lower, upper, 'log'), got {b!r}")
            lo, hi = b[0], b[1]
            if not (_is_number(lo) and _is_number(hi) and math.isfinite(lo) and math.isfinite(hi)):
                raise OptimizerError(f"bounds of {name} must be finite numbers, got {b!r}")
            lo, hi = float(lo), float(hi)
            if lo >= hi:
                raise OptimizerError(f"bounds of {name}: lower {lo:g} must be smaller than upper {hi:g}")
            scale = b[2] if len(b) == 3 else "linear"
            if scale not in ("linear", "log"):
                raise OptimizerError(f"bounds of {name}: scale must be 'linear' or 'log', not {scale!r}")
            if scale == "log" and lo <= 0:
                raise OptimizerError(f"bounds of {name}: a log scale needs lower > 0, got {lo:g}")
            if name.lower().startswith("tau") and lo <= 0:
                raise OptimizerError(f"bounds of {name}: a time constant must stay > 0 ms, so lower must be > 0 "
                                     f"(got {lo:g})")
            out[name] = FitParam(name, lo, hi, scale == "log")
        return out

    def _check_targets(self) -> tuple[list[Target], dict[str, FitProtocol]]:
        if not self.targets_in and self.cost is None:
            raise OptimizerError("no targets: give targets={metric: value}, e.g. {'simple_ppr': 0.8}, or cost=")
        parsed = []
        for key, value in self.targets_in.items():
            if not isinstance(key, str):
                raise OptimizerError(f"target names must be strings, got {key!r}")
            metric, _, proto = key.partition("@")
            metric = _canonical_metric(metric.strip())
            if not _is_number(value) or not math.isfinite(float(value)):
                raise OptimizerError(f"target {key} must be a finite number, got {value!r}")
            parsed.append((key, metric, proto.strip() or None, float(value)))
        for k in self.weights_in:
            if k not in self.targets_in:
                raise OptimizerError(f"weight for {k!r}, which is not a target (targets: {', '.join(self.targets_in)})")
        for k in self.scales_in:
            if k not in self.targets_in:
                raise OptimizerError(f"scale for {k!r}, which is not a target (targets: {', '.join(self.targets_in)})")
        # plain targets share one run: a train when any of them needs one (its single-event kernel
        # gives the event metrics of the same simulation), else a single event
        plain_kind = "train" if any(METRICS[m][0] == "train" for _, m, p, _ in parsed if p is None) else "single"
        protocols: dict[str, FitProtocol] = {}
        targets = []
        for key, metric, pname, value in parsed:
            pname = pname or plain_kind
            if pname not in protocols:
                protocols[pname] = _parse_protocol(pname, self._protocols_in)
            fp = protocols[pname]
            if METRICS[metric][0] == "train" and fp.kind != "train":
                raise OptimizerError(f"target {key}: {metric} needs a train protocol, and {pname!r} is a single event")
            w = self.weights_in.get(key, 1.0)
            if not _is_number(w) or not math.isfinite(float(w)) or float(w) < 0:
                raise OptimizerError(f"weight of {key} must be a finite number >= 0, got {w!r}")
            if key in self.scales_in:
                s = self.scales_in[key]
                if not _is_number(s) or not float(s) > 0:
                    raise OptimizerError(f"scale of {key} must be a number > 0, got {s!r}")
                scale = float(s)
            else:
                scale = max(abs(value), METRICS[metric][1])
                if scale == 0:
                    raise OptimizerError(f"target {key} = 0: a relative error needs a nonzero target; give "
                                         f"scales={{{key!r}: <absolute scale>}}")
            targets.append(Target(key, metric, pname, value, float(w), scale))
        for pname in self._protocols_in:  # protocols named only for a cost function still run
            if pname not in protocols:
                protocols[pname] = _parse_protocol(pname, self._protocols_in)
        if targets and self.cost is None and sum(t.weight for t in targets) <= 0:
            raise OptimizerError("all target weights are 0: nothing to fit")
        if not protocols:
            raise OptimizerError("a cost function needs protocols= (which runs to measure) or targets")
        return targets, protocols

    def _check_constraints(self, constraints: Any, specs: dict) -> list[Any]:
        out: list[Any] = []
        if constraints == "auto":
            if "tau1" in specs and "tau2" in specs and ({"tau1", "tau2"} & set(self.params)):
                out.append(("tau1", "<", "tau2"))
        elif constraints:
            for c in constraints:
                if callable(c):
                    out.append(c)
                    continue
                if not (isinstance(c, (tuple, list)) and len(c) == 3 and c[1] in ("<", ">")):
                    raise OptimizerError(f"a constraint is ('a', '<', 'b') or a function g(params) <= 0, got {c!r}")
                a, op, b = c
                for n in (a, b):
                    if n not in specs:
                        raise OptimizerError(f"constraint {c!r}: no parameter {n!r}")
                out.append((a, "<", b) if op == "<" else (b, "<", a))
        base = {s.name: s.value for s in specs.values()}
        for c in out:  # a box with no feasible point at all is a setup error, not a long failed fit
            if callable(c):
                continue
            a, _, b = c
            lo_a = self.params[a].lo if a in self.params else base[a]
            hi_b = self.params[b].hi if b in self.params else base[b]
            if lo_a >= hi_b:
                raise OptimizerError(f"no parameter set in the bounds satisfies {a} < {b} ({a} >= {lo_a:g}, "
                                     f"{b} <= {hi_b:g}): widen the bounds")
        return out

    def _constraint_text(self) -> list[str]:
        return [f"{c[0]} < {c[2]}" if not callable(c) else getattr(c, "__name__", "constraint")
                for c in self._constraints]

    def _margins(self, full: dict[str, float]) -> list[float]:
        """One smooth margin per constraint, >= 0 when it holds: ``(0.9999·b - a)/|b|`` for
        a < b (NEURON's Exp2Syn changes tau1 itself once tau1/tau2 > 0.9999), ``-g`` for a
        function ``g(params) <= 0``."""
        out = []
        for c in self._constraints:
            if callable(c):
                out.append(-float(c(dict(full))))
            else:
                a, _, b = c
                out.append((0.9999 * full[b] - full[a]) / max(abs(full[b]), 1e-12))
        return out

    def _violation(self, full: dict[str, float]) -> float:
        """0 when every constraint holds, else the size of the worst violation (> 0)."""
        margins = self._margins(full)
        worst = -min(margins) if margins else 0.0
        return worst if worst > 0 else 0.0

    # --- coordinates ------------------------------------------------------------------------
    def _values(self, z: np.ndarray) -> dict[str, float]:
        return {p.name: p.value(float(zi)) for p, zi in zip(self.params.values(), z, strict=True)}

    def _unit(self, values: Mapping[str, float]) -> np.ndarray | None:
        """Unit coordinates of ``values`` (None when one is outside its bounds)."""
        z = []
        for p in self.params.values():
            v = float(values[p.name])
            if not p.lo <= v <= p.hi:
                return None
            z.append(p.unit(v))
        return np.array(z)

    @property
    def targets(self) -> dict[str, float]:
        return {t.key: t.value for t in self._targets}

    @property
    def weights(self) -> dict[str, float]:
        return {t.key: t.weight for t in self._targets}

    # --- objective --------------------------------------------------------------------------
    def _error(self, metrics: dict[str, float], runs: dict[str, dict[str, float]]) -> tuple[float, str]:
        """(error, "" or why it could not be computed)."""
        if self.cost is not None:
            try:
                e = float(self.cost(copy.deepcopy(runs)))
            except Exception as exc:
                return PENALTY, f"cost function failed: {exc!r}"
            return (e, "") if math.isfinite(e) else (PENALTY, f"cost function returned {e}")
        total = wsum = 0.0
        for t in self._targets:
            v = float(metrics.get(t.key, math.nan))
            if not math.isfinite(v):
                return PENALTY, f"{t.key} is undefined for these parameters (no measurable response?)"
            total += t.weight * ((v - t.value) / t.scale) ** 2
            wsum += t.weight
        return total / wsum, ""

    def _weighted_residuals(self, metrics: Mapping[str, float]) -> np.ndarray:
        wsum = sum(t.weight for t in self._targets)
        return np.array([math.sqrt(t.weight / wsum) * (metrics[t.key] - t.value) / t.scale for t in self._targets])

    def residuals(self, metrics: Mapping[str, float]) -> dict[str, float]:
        """Signed scaled residual ``(x - T)/s`` of every target (dimensionless)."""
        return {t.key: (float(metrics.get(t.key, float("nan"))) - t.value) / t.scale for t in self._targets}

    # --- listeners --------------------------------------------------------------------------
    def add_listener(self, fn: Callable[[str, Any], None]) -> None:
        """Call ``fn(event, payload)`` on every event (see the module docstring)."""
        self._listeners.add(fn)

    def remove_listener(self, fn: Callable[[str, Any], None]) -> None:
        self._listeners.remove(fn)

    def _emit(self, event: str, payload: Any) -> None:
        self._listeners.emit(event, payload)

    # --- the problem snapshot ---------------------------------------------------------------
    def _conn_state(self) -> Any:
        t = self.tuner
        if t.config is not None and t.name != self.connection:
            return t._state_for(t._find(self.connection))
        return t._st()

    def _problem(self) -> _Problem:
        t = self.tuner
        st = self._conn_state()
        proto = copy.copy(self._protocol_override or t.protocol)
        base = dict(self._base_override if self._base_override is not None else st.params)
        for name in self.params:  # a fitted parameter the JSON lacks starts from the mechanism default
            base.setdefault(name, next(s.value for s in t.param_specs if s.name == name)
                            if t.name == self.connection else 0.0)
        runs = {}
        kw: dict[str, Any] = {}
        for name, fp in self.protocols.items():
            p = replace(proto, **dict(fp.overrides)).validated()
            kw = t._job_kwargs(st, p, fp.kind, stream=False)
            runs[name] = (kw["proto"], kw["measure"])
        strict = frozenset(kw["strict"]) | frozenset(k for k in self.params if k not in st.params)
        return _Problem(spec=kw["spec"], base=base, strict=strict, runs=runs, protocol=proto)

    # --- evaluating outside a fit -----------------------------------------------------------
    def evaluate(self, param_sets: Sequence[Mapping[str, float]], executor: Any = None) -> list[Evaluation]:
        """Evaluate parameter sets ({fitted name: value}, inside the bounds) in parallel, outside
        any fit's history: the objective as a function, for checks and benchmarks."""
        if self.running:
            raise OptimizerError("a fit is running: evaluate() after it ends")
        Z = []
        for ps in param_sets:
            missing = [k for k in self.params if k not in ps]
            if missing:
                raise OptimizerError(f"give a value for every fitted parameter; missing: {', '.join(missing)}")
            z = self._unit(ps)
            if z is None:
                raise OptimizerError(f"{dict(ps)} is outside the bounds {self.bounds}")
            Z.append(z)
        search = _Search(self, self._problem(), executor if executor is not None else self.tuner.executor,
                         max_evals=None, error_goal=None, timeout_s=120.0, records=[], progress=None)
        self._stop.clear()
        search.evaluate(np.array(Z))
        by_key = search.memo
        return [by_key[np.clip(z, 0, 1).tobytes()] for z in Z]

    @property
    def bounds(self) -> dict[str, tuple]:
        return {p.name: tuple(p.to_json()) for p in self.params.values()}

    # --- fitting ----------------------------------------------------------------------------
    def fit(self, method: str | None = None, seed: int | None = None, executor: Any = None, *,
            maxiter: int | None = None, popsize: int | None = None, max_evals: int | None = None,
            polish: bool | None = None, n_starts: int | None = None, fd_step: float | None = None,
            tol: float | None = None, error_goal: float | None = None, target_rtol: float | None = None,
            stall_batches: int | None = None, stall_rtol: float | None = None, progress: bool | None = None,
            timeout_s: float = 120.0, resume: bool | None = None) -> FitResult:
        """Run the fit (blocking) and return a :class:`FitResult` (also kept as ``.result``).

        ``method``: "de" (default), "least-squares", "l-bfgs-b", "slsqp", "nelder-mead".
        ``seed``: the RNG seed (default 0: every fit is seeded). ``executor``: None (the tuner's
        executor, else the shared local pool), a dask ``Client`` or a SweepExecutor.
        ``maxiter``: DE generations, counted from the start of the fit (default 30), or local
        iterations (default 100). ``popsize``: DE population = popsize × number of parameters
        (at least 5; default 10). ``max_evals``: budget of new evaluations (checked at batch
        boundaries). ``polish``: least-squares (L-BFGS-B with a cost function) after DE, ≤ 10
        iterations (default True). ``n_starts``: local restarts in parallel (default: the
        executor's workers for Nelder–Mead, else 1). ``fd_step``: finite-difference step in unit
        coordinates (default 0.01). ``tol``: DE stops when the population's error spread
        ``std <= tol·|mean|`` (default 0.01).

        Stopping (checked after every batch; the reason is ``result.stop_reason``, see
        :data:`STOP_REASONS`): ``target_rtol``: stop once every targeted metric of the best
        evaluation is within this fraction of its target's scale, ``|x - T| <= target_rtol·s``
        (default 1e-3: 0.1 %; 0 or None: off); ``error_goal``: stop once the best error is this
        low (default 1e-6 with targets, an RMS relative error of 0.1 %; none with a custom cost);
        ``stall_batches`` / ``stall_rtol``: a phase (DE, then its polish; a local method) ends
        when the best error improved by less than ``stall_rtol`` (relative, default 1e-3) over
        the last ``stall_batches`` batches (default 10; 0: off). ``progress``: a text progress bar on stderr (default: on when no listener displays
        the fit). ``timeout_s``: per evaluation (s). ``resume``: continue the previous / loaded
        fit (default: True after :meth:`resume`, else False); options not given are the
        resumed fit's. Stop (:meth:`stop`, the panel's button, or interrupting the kernel) ends
        the fit with the best so far.
        """
        from bmtool_lab.sim.executor import get_executor

        saved = self._resume_from if resume is None or resume else None
        if resume and saved is None:
            saved = self._snapshot_state()
            if saved is None:
                raise OptimizerError("nothing to resume: run fit() first or load one with SynapseOptimizer.resume()")
        if saved is not None:
            if method is not None and method != saved["method"]:
                raise OptimizerError(f"this fit was run with method={saved['method']!r}; resume it with the same "
                                     "method, or call fit(resume=False) to start a new one")
            if seed is not None and seed != saved["seed"]:
                raise OptimizerError(f"this fit was seeded with {saved['seed']}; resume it with the same seed")
            method, seed = saved["method"], saved["seed"]
        given = {"maxiter": maxiter, "popsize": popsize, "max_evals": max_evals, "polish": polish,
                 "n_starts": n_starts, "fd_step": fd_step, "tol": tol, "error_goal": error_goal,
                 "target_rtol": target_rtol, "stall_batches": stall_batches, "stall_rtol": stall_rtol}
        options = {**_FIT_DEFAULTS, **((saved or {}).get("options") or {}),
                   **{k: v for k, v in given.items() if v is not None}}
        maxiter, popsize, max_evals = options["maxiter"], int(options["popsize"]), options["max_evals"]
        polish, n_starts, fd_step = bool(options["polish"]), options["n_starts"], float(options["fd_step"])
        tol, error_goal = float(options["tol"]), options["error_goal"]
        if error_goal is None and self.cost is None:
            error_goal = ERROR_GOAL
        target_rtol = options["target_rtol"] or None
        stall_batches, stall_rtol = int(options["stall_batches"] or 0), float(options["stall_rtol"])
        if (target_rtol is not None and target_rtol < 0) or stall_batches < 0 or stall_rtol < 0:
            raise OptimizerError("target_rtol, stall_batches and stall_rtol must be >= 0")
        method = (method or "de").lower()
        if method not in METHODS:
            raise OptimizerError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
        seed = 0 if seed is None else int(seed)
        if popsize < 1 or (maxiter is not None and maxiter < 0) or (max_evals is not None and max_evals < 1):
            raise OptimizerError("popsize must be >= 1, maxiter >= 0 and max_evals >= 1")
        if not 0 < fd_step < 0.5:
            raise OptimizerError(f"fd_step is in unit coordinates and must be in (0, 0.5), got {fd_step}")
        if self.running:
            raise OptimizerError("a fit is already running: stop() it first")
        ex = get_executor(executor if executor is not None else self.tuner.executor)
        n = len(self.params)
        if method == "de":
            n_pop = max(5, popsize * n)
            budget = n_pop * ((30 if maxiter is None else maxiter) + 1) + (10 * (n + 1) if polish else 0)
        else:
            starts = n_starts or (max(2, ex.n_workers) if method == "nelder-mead" else 1)
            per = (n + 1) if method != "nelder-mead" else 1
            budget = starts * per * (100 if maxiter is None else maxiter)
        if max_evals is not None:
            budget = min(budget, max_evals)
        records = [copy.copy(r) for r in (saved["history"] if saved is not None else [])]
        if progress is None:
            progress = not self._listeners
        bar = _TextProgress(budget + len(records), f"fit {self.connection}") if progress else None
        self._stop.clear()
        t_wall = time.monotonic()
        problem = self._problem()
        search = _Search(self, problem, ex, max_evals=None if max_evals is None else max_evals + len(records),
                         error_goal=error_goal, timeout_s=timeout_s, records=records, progress=bar,
                         target_rtol=target_rtol, stall_batches=stall_batches, stall_rtol=stall_rtol)
        self._records = records
        self._emit("start", {"method": method, "seed": seed, "budget": budget, "n_params": n,
                             "connection": self.connection, "resumed": saved is not None,
                             "n_done": len(records)})
        rng = np.random.default_rng(seed)
        state: dict[str, Any] = {"method": method, "seed": seed, "options": options}
        message, stopped, reason = "", False, ""
        x0 = self._unit({k: problem.base[k] for k in self.params})

        def phase(fn: Callable[[], tuple[str, str]]) -> tuple[str, str]:
            search.new_phase()
            try:
                return fn()
            except _Stalled as st:
                return st.reason, str(st)

        try:
            if saved is not None:  # a resumed fit may already meet its targets: nothing to run
                search._check_stop(False)
            if method == "de":
                reason, message = phase(lambda: self._run_de(search, rng, state, saved, x0, popsize,
                                                             30 if maxiter is None else maxiter, tol))
                if polish and search.best is not None:
                    how = "l-bfgs-b" if self.cost is not None else "least-squares"
                    reason, msg = phase(lambda: self._run_local(search, how, [search.best.z.copy()], 10, fd_step))
                    message += "; polish: " + msg
            else:
                starts_z = self._starts(rng, method, ex, n_starts, search, x0)
                reason, message = phase(lambda: self._run_local(search, method, starts_z,
                                                                100 if maxiter is None else maxiter, fd_step))
        except _Stopped:
            stopped, reason, message = True, "stopped", "stopped: kept the best so far"
        except KeyboardInterrupt:  # a headless user's Stop: the kernel's interrupt
            self._stop.set()
            stopped, reason, message = True, "interrupted", "interrupted: kept the best so far"
        except _Finished as fin:
            reason, message = fin.reason, (message + "; " if message else "") + str(fin)
        except Exception as exc:
            if bar is not None:
                bar.close()
            self._emit("error", exc)
            raise
        finally:
            if search.best is not None:
                state["best_z"] = [float(v) for v in search.best.z]
            self._state = state
            self._resume_from = None
        if bar is not None:
            bar.update(search.n, search.best.error if search.best else float("nan"), search.rate(), final=True)
            bar.close()
        result = self._result(search, problem, method, seed, options, message, stopped,
                              time.monotonic() - t_wall + (saved or {}).get("wall_s", 0.0), state)
        result.stop_reason = reason
        self.result = result
        self._emit("done", result)
        return result

    def fit_async(self, **kwargs: Any) -> Future:
        """:meth:`fit` in a background thread (the dashboard's Start): a Future of the FitResult."""
        if self.running:
            raise OptimizerError("a fit is already running: stop() it first")
        fut: Future = Future()
        kwargs.setdefault("progress", False)

        def run() -> None:
            fut.set_running_or_notify_cancel()
            try:
                fut.set_result(self.fit(**kwargs))
            except BaseException as exc:
                fut.set_exception(exc)

        self._stop.clear()
        self._thread = threading.Thread(target=run, name="bmtool_lab-fit", daemon=True)
        self._thread.start()
        return fut

    def stop(self) -> None:
        """Stop a running fit: running evaluations are cancelled, the best so far is kept."""
        self._stop.set()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and self._thread is not threading.current_thread()

    def _snapshot_state(self) -> dict[str, Any] | None:
        if self._state is None:
            return None
        return {**self._state, "history": self._records,
                "wall_s": self.result.wall_s if self.result is not None else 0.0}

    def _starts(self, rng: np.random.Generator, method: str, ex: Any, n_starts: int | None, search: _Search,
                x0: np.ndarray | None) -> list[np.ndarray]:
        n = len(self.params)
        k = n_starts or (max(2, ex.n_workers) if method == "nelder-mead" else 1)
        starts: list[np.ndarray] = []
        if search.best is not None:  # resuming: from the best so far
            starts.append(search.best.z.copy())
        elif x0 is not None:  # the tuner's current values
            starts.append(x0)
        if k > len(starts):
            starts.extend(_lhs(rng, k - len(starts), n))
        return [np.asarray(s, dtype=np.float64) for s in starts[:k]]

    # --- differential evolution -------------------------------------------------------------
    def _run_de(self, search: _Search, rng: np.random.Generator, state: dict, saved: dict | None,
                x0: np.ndarray | None, popsize: int, maxiter: int, tol: float) -> tuple[str, str]:
        n = len(self.params)
        n_pop = max(5, popsize * n)
        de = (saved or {}).get("de")
        if de is not None:
            pop = np.asarray(de["population"], dtype=np.float64)
            energies = np.asarray(de["energies"], dtype=np.float64)
            gen = int(de["generation"])
            rng.bit_generator.state = de["rng"]
        else:
            pop = _lhs(rng, n_pop, n)
            if x0 is not None:
                pop[0] = x0  # the tuner's current values compete from the start
            energies = search.evaluate(pop)
            gen = 0
        state["de"] = self._de_state(pop, energies, gen, rng)
        while gen < maxiter:
            if np.all(np.isfinite(energies)) and np.std(energies) <= tol * abs(np.mean(energies)):
                return "converged", f"converged after {gen} generations (error spread within tol={tol:g})"
            trials = self._de_trials(pop, energies, rng)
            e = search.evaluate(trials)
            better = e <= energies
            pop[better], energies[better] = trials[better], e[better]
            gen += 1
            state["de"] = self._de_state(pop, energies, gen, rng)  # a boundary Stop/resume continues from
        return "maxiter", f"{gen} generations"

    @staticmethod
    def _de_state(pop: np.ndarray, energies: np.ndarray, gen: int, rng: np.random.Generator) -> dict:
        return {"population": pop.tolist(), "energies": [float(e) for e in energies], "generation": gen,
                "rng": copy.deepcopy(rng.bit_generator.state)}

    @staticmethod
    def _de_trials(pop: np.ndarray, energies: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """best1bin trial vectors with a dithered F in [0.5, 1] and CR = 0.7; a component that
        leaves the unit cube is redrawn uniformly (as scipy does; bounds, not constraints)."""
        n_pop, n = pop.shape
        f = rng.uniform(0.5, 1.0)
        best = pop[int(np.argmin(energies))]
        trials = np.empty_like(pop)
        for i in range(n_pop):
            r1, r2 = rng.choice(np.delete(np.arange(n_pop), i), 2, replace=False)
            mutant = best + f * (pop[r1] - pop[r2])
            cross = rng.random(n) < 0.7
            cross[rng.integers(n)] = True
            trial = np.where(cross, mutant, pop[i])
            out = (trial < 0.0) | (trial > 1.0)
            if out.any():
                trial[out] = rng.random(int(out.sum()))
            trials[i] = trial
        return trials

    # --- local methods ----------------------------------------------------------------------
    def _run_local(self, search: _Search, method: str, starts: list[np.ndarray], maxiter: int,
                   fd_step: float) -> tuple[str, str]:
        from scipy.optimize import least_squares, minimize

        if method == "least-squares" and self.cost is not None:
            raise OptimizerError("least-squares needs targets (a custom cost has no residuals): use l-bfgs-b")
        n = len(self.params)
        lock = _Lockstep(search, len(starts))
        outcomes: list[Any] = [None] * len(starts)
        bounds = [(0.0, 1.0)] * n
        constraints = []
        if method == "slsqp":  # SLSQP takes tau1 < tau2 itself (no simulation needed to check it)
            def margins(z: np.ndarray) -> np.ndarray:
                return np.array(self._margins({**search.problem.base, **self._values(np.clip(z, 0, 1))}))
            if self._constraints:
                constraints = [{"type": "ineq", "fun": margins}]

        def fd_batch(tid: int, z: np.ndarray) -> tuple[np.ndarray, list[Evaluation]]:
            # the point and its n forward (backward at the upper bound) steps: one parallel batch
            z = np.clip(z, 0, 1)
            steps = np.where(z + fd_step <= 1.0, fd_step, -fd_step)
            return steps, lock.request(tid, np.vstack([z, z + np.diag(steps)]))

        def resid(ev: Evaluation) -> np.ndarray:
            if ev.residuals is not None:
                return ev.residuals
            return np.full(len(self._targets), math.sqrt(ev.error / len(self._targets)))  # the penalty, spread

        def run(tid: int, z0: np.ndarray) -> None:
            def f(z: np.ndarray) -> float:
                return float(lock.request(tid, np.clip(z, 0, 1)[None])[0].error)

            def f_and_grad(z: np.ndarray) -> tuple[float, np.ndarray]:
                steps, evs = fd_batch(tid, z)
                e = np.array([ev.error for ev in evs])
                return float(e[0]), (e[1:] - e[0]) / steps

            def r(z: np.ndarray) -> np.ndarray:
                # the steps of the Jacobian go in the same batch: workers stay busy, and jac() then
                # finds them in the history (a rejected trial step wastes them)
                return resid(fd_batch(tid, z)[1][0])

            def jac(z: np.ndarray) -> np.ndarray:
                steps, evs = fd_batch(tid, z)
                r0 = resid(evs[0])
                return np.stack([(resid(ev) - r0) / h for ev, h in zip(evs[1:], steps, strict=True)], axis=1)

            try:
                if method == "nelder-mead":
                    res = minimize(f, z0, method="Nelder-Mead", bounds=bounds,
                                   options={"maxiter": maxiter, "maxfev": maxiter * 2, "xatol": 1e-4,
                                            "fatol": 1e-9})
                elif method == "least-squares":
                    res = least_squares(r, np.clip(z0, 0, 1), jac=jac, bounds=(0.0, 1.0), method="trf",
                                        max_nfev=maxiter, x_scale=1.0, ftol=1e-10, xtol=1e-10, gtol=1e-10)
                else:
                    opts = {"maxiter": maxiter}
                    if method == "slsqp":
                        opts["ftol"] = 1e-12
                    res = minimize(f_and_grad, z0, jac=True, method=_SCIPY_NAMES[method], bounds=bounds,
                                   constraints=constraints, options=opts)
                msg = res.message if isinstance(res.message, str) else str(res.message)
                outcomes[tid] = ("converged" if res.success else "maxiter", msg)
            except BaseException as exc:
                outcomes[tid] = exc
            finally:
                lock.done()

        if len(starts) == 1:
            run(0, starts[0])
        else:
            threads = [threading.Thread(target=run, args=(i, z), name=f"bmtool_lab-fit-start{i}", daemon=True)
                       for i, z in enumerate(starts)]
            for th in threads:
                th.start()
            try:
                for th in threads:
                    th.join()
            except KeyboardInterrupt:
                self._stop.set()  # the restarts end at their next request
                for th in threads:
                    th.join()
                raise _Stopped() from None
        for o in outcomes:  # Stop / budget / errors end the whole fit
            if isinstance(o, BaseException):
                raise o
        msgs = sorted({str(o[1]) for o in outcomes})
        reason = "converged" if all(o[0] == "converged" for o in outcomes) else "maxiter"
        return reason, f"{_SCIPY_NAMES[method]} from {len(starts)} start(s): " + "; ".join(msgs)

    # --- results ----------------------------------------------------------------------------
    def _result(self, search: _Search, problem: _Problem, method: str, seed: int, options: dict, message: str,
                stopped: bool, wall_s: float, state: dict) -> FitResult:
        best = search.best
        return FitResult(
            connection=self.connection or "", config=str(self.tuner.config.path) if self.tuner.config else None,
            mechanism=problem.spec.mechanism, bounds=self.bounds, targets=self.targets, weights=self.weights,
            scales={t.key: t.scale for t in self._targets},
            protocols={k: v.to_json() for k, v in self.protocols.items()},
            target_protocols={t.key: t.protocol for t in self._targets},
            base_params=dict(problem.base), protocol=asdict(problem.protocol), method=method, seed=seed,
            options=options, best_params=dict(best.params) if best else {},
            best_metrics=dict(best.metrics) if best else {}, error=best.error if best else float("nan"),
            best_index=best.index if best else -1, evaluations=list(search.records), message=message,
            stopped=stopped, wall_s=wall_s, state=copy.deepcopy(state),
            best_trace=best.trace if best is not None else None, custom_cost=self.cost is not None,
        )

    # --- saving / resuming ------------------------------------------------------------------
    @classmethod
    def resume(cls, path: str | Path, tuner: Any = None, *, cost: Callable | None = None) -> SynapseOptimizer:
        """An optimizer that continues the fit saved at ``path`` (:meth:`FitResult.save`).

        Without ``tuner`` one is opened from the saved config and connection. The saved base
        parameters and protocol are used (not the tuner's current sliders), so the continued
        fit is the same problem. The next :meth:`fit` continues: DE exactly where it was
        (population, energies, RNG), local methods from the best point. A custom cost
        function is not saved: pass it again as ``cost``.
        """
        data = FitResult._read(path)
        if tuner is None:
            if not data.get("config"):
                raise OptimizerError(f"{path} was fitted without a BMTK config: resume(path, tuner=...)")
            from bmtool_lab.tuning.synapse import SynapseTuner

            tuner = SynapseTuner(data["config"], connection=data["connection"])
        elif tuner.name != data["connection"]:
            if tuner.config is None:
                raise OptimizerError(f"{path} fits {data['connection']!r}, the tuner has {tuner.name!r}")
            tuner.select(data["connection"])
        if data.get("custom_cost") and cost is None:
            raise OptimizerError(f"{path} was fitted with a custom cost function: pass it again, resume(..., cost=fn)")
        opt = cls(tuner, params={k: tuple(v) for k, v in data["bounds"].items()}, targets=data["targets"],
                  weights=data["weights"], scales=data["scales"],
                  protocols={k: v for k, v in data["protocols"].items() if k not in ("single", "train")
                             and not _HZ_RE.match(k)},
                  cost=cost)
        opt._base_override = {k: float(v) for k, v in data["base_params"].items()}
        proto = dict(data["protocol"])
        proto["rise_levels"] = tuple(proto.get("rise_levels", (0.1, 0.9)))
        opt._protocol_override = SynapseProtocol(**proto).validated()
        history = [Evaluation.from_json(e) for e in data["history"]]
        opt._resume_from = {**data["state"], "method": data["method"], "seed": data["seed"], "history": history,
                            "wall_s": float(data.get("wall_s", 0.0))}
        opt._records = history
        return opt

    # the Fit panel (``.widget``, display in a cell): ShowsDashboard, built by bmtool_lab.widgets.registry
    def __repr__(self) -> str:
        return (f"SynapseOptimizer({self.connection!r}, params={list(self.params)}, "
                f"targets={self.targets})")


# --- the result -------------------------------------------------------------------------------
@dataclass
class FitResult:
    """A finished (or stopped) fit.

    ``best_params`` (fitted names, dynamics-JSON units), ``best_metrics`` (keys as the
    targets), ``error`` (the objective, dimensionless; see the module docstring),
    ``evaluations`` (every one, in order) and ``history`` (a DataFrame of them: eval, batch,
    error, best_error, status, one column per parameter and per target), ``message``,
    ``stopped``, ``stop_reason`` (why it ended: one of :data:`STOP_REASONS`), ``wall_s`` (s,
    resumed parts included), ``n_evaluations``.
    """

    connection: str
    config: str | None
    mechanism: str
    bounds: dict[str, tuple]
    targets: dict[str, float]
    weights: dict[str, float]
    scales: dict[str, float]
    protocols: dict[str, dict]
    target_protocols: dict[str, str]
    base_params: dict[str, float]
    protocol: dict[str, Any]
    method: str
    seed: int
    options: dict[str, Any]
    best_params: dict[str, float]
    best_metrics: dict[str, float]
    error: float
    best_index: int
    evaluations: list[Evaluation]
    message: str = ""
    stopped: bool = False
    wall_s: float = 0.0
    state: dict[str, Any] = field(default_factory=dict)
    best_trace: dict[str, tuple] | None = None
    custom_cost: bool = False
    stop_reason: str = ""

    @property
    def n_evaluations(self) -> int:
        return len(self.evaluations)

    @property
    def params(self) -> dict[str, float]:
        """Every parameter of the connection with the best fitted values (what apply() gives)."""
        return {**self.base_params, **self.best_params}

    @property
    def history(self) -> Any:
        """Every evaluation as a DataFrame (eval, batch, error, best_error, status, message,
        parameters, targeted metrics)."""
        import pandas as pd

        rows = []
        best = math.inf
        for ev in self.evaluations:
            best = min(best, ev.error) if math.isfinite(ev.error) else best
            rows.append({"eval": ev.index, "batch": ev.batch, "error": ev.error, "best_error": best,
                         "status": ev.status, **ev.params, **ev.metrics, "message": ev.message})
        return pd.DataFrame(rows)

    def relative_errors(self) -> dict[str, float]:
        """(best − target)/scale for every target (a relative error where the target is not near 0)."""
        return {k: (self.best_metrics.get(k, float("nan")) - v) / self.scales[k] for k, v in self.targets.items()}

    def apply(self, tuner: Any) -> dict[str, float]:
        """Set the best parameters on ``tuner`` (selecting the fitted connection if it has another
        one selected): one validated, undoable change, exactly like moving the sliders."""
        if not self.best_params:
            raise OptimizerError("this fit has no evaluated parameters to apply")
        if tuner.name != self.connection:
            if tuner.config is None:
                raise OptimizerError(f"this fit is of {self.connection!r}, the tuner has {tuner.name!r}")
            tuner.select(self.connection)
        return tuner.set_params(**self.best_params)

    # --- plotting ---------------------------------------------------------------------------
    def plot(self, backend: str = "matplotlib") -> Any:
        """Error vs evaluation (every evaluation and the best so far, log scale) and the best
        metrics against their targets. ``backend``: "matplotlib" (a Figure) or "bqplot"."""
        hist = [(ev.index, ev.error) for ev in self.evaluations if math.isfinite(ev.error) and ev.error < PENALTY]
        x = np.array([h[0] for h in hist], dtype=float)
        y = np.maximum(np.array([h[1] for h in hist], dtype=float), 1e-12)
        best = np.minimum.accumulate(y) if y.size else y
        rel = self.relative_errors()
        if backend == "bqplot":
            import bqplot as bq

            sx, sy = bq.LinearScale(), bq.LogScale()
            dots = bq.Scatter(x=x, y=y, scales={"x": sx, "y": sy}, colors=["#9bb7d4"], default_size=12)
            line = bq.Lines(x=x, y=best, scales={"x": sx, "y": sy}, colors=["#d62728"])
            return bq.Figure(marks=[dots, line], axes=[bq.Axis(scale=sx, label="evaluation"),
                                                        bq.Axis(scale=sy, label="error", side="left")],
                             title=f"{self.connection}: {self.method}, best {self.error:.3g}")
        if backend != "matplotlib":
            raise OptimizerError(f"backend must be 'matplotlib' or 'bqplot', not {backend!r}")
        import matplotlib

        if "matplotlib.pyplot" not in sys.modules:
            matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9.0, 3.4))
        ax1.scatter(x, y, s=6, color="#9bb7d4", label="evaluation")
        ax1.plot(x, best, color="#d62728", label="best so far")
        ax1.set_yscale("log")
        ax1.set_xlabel("evaluation")
        ax1.set_ylabel("error (weighted mean sq. rel. error)")
        ax1.legend(fontsize=8)
        keys = list(rel)
        ax2.barh(keys, [100 * rel[k] for k in keys], color="#4c72b0")
        ax2.axvline(0, color="k", lw=0.8)
        ax2.set_xlabel("best − target (% of scale)")
        fig.suptitle(f"{self.connection}: {self.method}, best error {self.error:.3g} after {self.n_evaluations} evals")
        fig.tight_layout()
        return fig

    # --- saving -----------------------------------------------------------------------------
    def to_json(self) -> dict:
        return {
            "format": _FORMAT, "version": 1, "connection": self.connection, "config": self.config,
            "mechanism": self.mechanism, "bounds": {k: list(v) for k, v in self.bounds.items()},
            "targets": self.targets, "weights": self.weights, "scales": self.scales, "protocols": self.protocols,
            "target_protocols": self.target_protocols, "base_params": _jsonable(self.base_params),
            "protocol": _jsonable(self.protocol), "method": self.method, "seed": self.seed,
            "options": _jsonable(self.options),
            "best": {"params": self.best_params, "metrics": _jsonable(self.best_metrics), "error": _num(self.error),
                     "index": self.best_index},
            "message": self.message, "stopped": self.stopped, "stop_reason": self.stop_reason, "wall_s": self.wall_s,
            "n_evaluations": self.n_evaluations, "custom_cost": self.custom_cost, "state": self.state,
            "history": [ev.to_json() for ev in self.evaluations],
        }

    def save(self, path: str | Path) -> Path:
        """Write the whole fit (problem, best, every evaluation, method state) as JSON
        (atomically); :meth:`SynapseOptimizer.resume` continues it."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=1, allow_nan=False))
        tmp.replace(path)
        return path

    @staticmethod
    def _read(path: str | Path) -> dict:
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, ValueError) as err:
            raise OptimizerError(f"cannot read the fit file {path}: {err}") from None
        if not isinstance(data, dict) or data.get("format") != _FORMAT:
            raise OptimizerError(f"{path} is not a saved synapse fit (format {_FORMAT!r})")
        return data

    @classmethod
    def load(cls, path: str | Path) -> FitResult:
        """A saved fit (without its traces)."""
        d = cls._read(path)
        evs = [Evaluation.from_json(e) for e in d["history"]]
        return cls(connection=d["connection"], config=d.get("config"), mechanism=d["mechanism"],
                   bounds={k: tuple(v) for k, v in d["bounds"].items()}, targets=d["targets"], weights=d["weights"],
                   scales=d["scales"], protocols=d["protocols"], target_protocols=d["target_protocols"],
                   base_params=d["base_params"], protocol=d["protocol"], method=d["method"], seed=d["seed"],
                   options=d["options"], best_params=d["best"]["params"], best_metrics=_unjson(d["best"]["metrics"]),
                   error=_fnum(d["best"]["error"]), best_index=d["best"]["index"], evaluations=evs,
                   message=d.get("message", ""), stopped=d.get("stopped", False),
                   stop_reason=d.get("stop_reason", ""), wall_s=d.get("wall_s", 0.0),
                   state=d.get("state", {}), custom_cost=d.get("custom_cost", False))

    def __repr__(self) -> str:
        ps = ", ".join(f"{k}={v:.4g}" for k, v in self.best_params.items())
        return (f"FitResult({self.connection!r}, {self.method}, error={self.error:.3g}, "
                f"{self.n_evaluations} evals{', stopped' if self.stopped else ''}: {ps})")


# --- batch ------------------------------------------------------------------------------------
_ENTRY_KEYS = {"params", "targets", "weights", "scales", "protocols", "protocol", "fit", "connection"}


def _read_targets_file(path: Path) -> dict:
    text = path.read_text()
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml

        data = yaml.safe_load(text)
    else:
        data = json.loads(text)
    if not isinstance(data, dict) or "connections" not in data:
        raise OptimizerError(f"{path}: a targets file holds 'connections' (and optional 'fit' defaults and "
                             "'protocol' settings)")
    return data


def fit_many(config: str | Path, targets_file: str | Path, *, out_dir: str | Path | None = None,
             save: bool = False, shared: str | None = None, executor: Any = None, progress: bool = True,
             **fit_defaults: Any) -> Any:
    """Fit several connections of one network from a JSON or YAML targets file, headless.

    File layout::

        fit: {method: de, seed: 1, maxiter: 20}     # defaults for every connection (optional)
        protocol: {freq_hz: 50, delay_ms: 250}       # tuner protocol settings (optional)
        connections:
          Exc2SST:
            params: {Use: [0.05, 0.5], Dep: [1, 300], Fac: [50, 1000]}
            targets: {induction: 0.5, simple_ppr: 1.7, recovery: 0.4}
            weights: {simple_ppr: 2}                 # also scales, protocols, fit, protocol

    (``connections`` may also be a list of such entries with a ``connection`` name.) Each
    result is written to ``out_dir/<connection>.fit.json`` (default: a ``<file stem>_fits``
    folder beside the targets file); ``save=True`` also applies the best parameters and writes
    them into the connection's dynamics JSON (``shared="ok"`` to allow files shared by several
    edge types). Keyword arguments are fit defaults. Returns a DataFrame, one row per
    connection (error "" when it worked).
    """
    import pandas as pd

    from bmtool_lab.tuning.synapse import SynapseTuner

    targets_file = Path(targets_file)
    data = _read_targets_file(targets_file)
    unknown = set(data) - {"fit", "protocol", "connections"}
    if unknown:
        raise OptimizerError(f"{targets_file}: unknown top-level keys {sorted(unknown)} (use fit, protocol, "
                             "connections)")
    entries = data["connections"]
    if isinstance(entries, Mapping):
        entries = [{"connection": k, **(v or {})} for k, v in entries.items()]
    out = Path(out_dir) if out_dir is not None else targets_file.with_name(f"{targets_file.stem}_fits")
    out.mkdir(parents=True, exist_ok=True)
    defaults = {**(data.get("fit") or {}), **fit_defaults}
    rows = []
    with SynapseTuner(config, executor=executor) as tuner:
        for entry in entries:
            name = entry.get("connection")
            row: dict[str, Any] = {"connection": name, "error": "", "fit_error": float("nan"), "n_evaluations": 0,
                                   "best_params": {}, "stop_reason": "", "result_path": "", "saved_to": ""}
            rows.append(row)
            try:
                bad = set(entry) - _ENTRY_KEYS
                if bad:
                    raise OptimizerError(f"unknown keys {sorted(bad)} (use {', '.join(sorted(_ENTRY_KEYS))})")
                tuner.select(name)
                tuner.set_protocol(**{**(data.get("protocol") or {}), **(entry.get("protocol") or {})})
                opt = SynapseOptimizer(tuner, params={k: tuple(v) for k, v in (entry.get("params") or {}).items()},
                                       targets=entry.get("targets") or {}, weights=entry.get("weights"),
                                       scales=entry.get("scales"), protocols=entry.get("protocols"))
                kw = {**defaults, **(entry.get("fit") or {})}
                kw.setdefault("progress", progress)
                kw.setdefault("executor", executor)
                res = opt.fit(**kw)
                row.update(fit_error=res.error, n_evaluations=res.n_evaluations, best_params=res.best_params,
                           stop_reason=res.stop_reason,
                           result_path=str(res.save(out / f"{name}.fit.json")))
                if save:
                    res.apply(tuner)
                    saved = tuner.save(shared=shared)
                    row["saved_to"] = str(saved.path)
            except Exception as err:
                row["error"] = getattr(err, "message", None) or str(err)
    return pd.DataFrame(rows)
