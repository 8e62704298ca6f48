"""How a synapse fit searches: the headless progress bar, one fit's evaluation machinery (the
problem, the search's records and stop rules, Nelder–Mead in lockstep over the workers) and the
engines (start points, differential evolution, the local methods) of
:class:`~bmtool_lab.tuning.optimizer.SynapseOptimizer`, which mixes :class:`FitEngines` in."""

from __future__ import annotations

import copy
import math
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from bmtool_lab.sim.errors import SimError
from bmtool_lab.sim.optimizer_jobs import optimizer_run_job
from bmtool_lab.sim.synapse_jobs import MeasureSettings, RunProtocol, SynapseSpec
from bmtool_lab.tuning.fit_problem import (
    _SCIPY_NAMES,
    PENALTY,
    Evaluation,
    OptimizerError,
    _Finished,
    _lhs,
    _Stalled,
    _Stopped,
)
from bmtool_lab.tuning.synapse import SynapseProtocol


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

    def __init__(self, opt: Any, problem: _Problem, executor: Any, *, max_evals: int | None,
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
            # local: import-time cost: multiprocessing (the executor), on the first sweep
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


class FitEngines:
    """The search engines of :class:`~bmtool_lab.tuning.optimizer.SynapseOptimizer` (a mixin:
    they use its parameters, targets, listeners and stop flag)."""

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
