"""What a synapse fit is (:mod:`bmtool_lab.tuning.optimizer`): the metrics it can target and their
units (docs/metrics.md), the free parameters, protocols and targets, one evaluation, the errors,
and the protocol names ("train", "induction@20Hz/1000ms")."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from bmtool_lab.analysis.metric_catalog import METRICS as METRIC_CATALOG
from bmtool_lab.tuning.synapse import _PROTOCOL_ALIASES, SynapseProtocol, TunerError

#: Error of a candidate that could not be measured (failed run, undefined metric); infeasible
#: candidates score PENALTY · (1 + relative violation).
PENALTY = 1e6

#: Targetable metrics: name -> (protocol kind that yields it, absolute scale floor, description);
#: a view of the metric registry (:data:`bmtool_lab.analysis.metric_catalog.METRICS`, the metrics
#: with a ``fit_scale``).
METRICS: dict[str, tuple[str, float, str]] = {m.key: (m.protocol, m.fit_scale, m.definition)
                                              for m in METRIC_CATALOG.values() if m.fit_scale is not None}
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
