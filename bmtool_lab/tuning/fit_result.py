"""A synapse fit's result (:class:`FitResult`: best parameters, every evaluation, save/load/apply)
and how an optimizer writes one and resumes from a saved one (:class:`ResumableFit`)."""

from __future__ import annotations

import copy
import json
import math
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bmtool_lab.tuning.fit_problem import (
    _FORMAT,
    _HZ_RE,
    PENALTY,
    Evaluation,
    OptimizerError,
    _fnum,
    _jsonable,
    _num,
    _unjson,
)
from bmtool_lab.tuning.fit_search import (
    _Problem,
    _Search,
)
from bmtool_lab.tuning.synapse import SynapseProtocol, SynapseTuner
from bmtool_lab.tuning.tuner_like import TunerLike


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

    def apply(self, tuner: TunerLike) -> dict[str, float]:
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


class ResumableFit:
    """Results and resuming of :class:`~bmtool_lab.tuning.optimizer.SynapseOptimizer` (a mixin)."""

    def _snapshot_state(self) -> dict[str, Any] | None:
        if self._state is None:
            return None
        return {**self._state, "history": self._records,
                "wall_s": self.result.wall_s if self.result is not None else 0.0}

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
    def resume(cls, path: str | Path, tuner: TunerLike | None = None, *, cost: Callable | None = None) -> Any:
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
