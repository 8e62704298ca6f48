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
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from bmtool_lab.sim.optimizer_jobs import (
    optimizer_run_job,
)
from bmtool_lab.tuning._events import Listeners
from bmtool_lab.tuning.fit_problem import (
    _FIT_DEFAULTS,
    ERROR_GOAL,
    METHODS,
    METRICS,
    PENALTY,
    STOP_REASONS,
    Evaluation,
    FitParam,
    FitProtocol,
    OptimizerError,
    Target,
    _canonical_metric,
    _Finished,
    _is_number,
    _parse_protocol,
    _Stalled,
    _Stopped,
)
from bmtool_lab.tuning.fit_result import (
    FitResult,
    ResumableFit,
)
from bmtool_lab.tuning.fit_search import (
    FitEngines,
    _Problem,
    _Search,
    _TextProgress,
)
from bmtool_lab.tuning.kinds import ShowsDashboard
from bmtool_lab.tuning.synapse import SynapseProtocol, SynapseTuner

__all__ = ["SynapseOptimizer", "FitResult", "Evaluation", "OptimizerError", "METRICS", "PENALTY", "fit_many",
           "optimizer_run_job", "STOP_REASONS", "ERROR_GOAL"]

# --- the optimizer ----------------------------------------------------------------------------
class SynapseOptimizer(FitEngines, ResumableFit, ShowsDashboard):
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
        # local: import-time cost: multiprocessing (the executor), on the first sweep
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

    # the Fit panel (``.widget``, display in a cell): ShowsDashboard, built by bmtool_lab.widgets.registry
    def __repr__(self) -> str:
        return (f"SynapseOptimizer({self.connection!r}, params={list(self.params)}, "
                f"targets={self.targets})")


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
