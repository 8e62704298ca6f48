"""The synapse fit's worker job: one evaluation of one protocol, returned small (metrics, the
pulse amplitudes and a min/max-decimated trace) for :class:`~bmtool_lab.tuning.optimizer.SynapseOptimizer`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .synapse_jobs import MeasureSettings, RunProtocol, SynapseSpec, synapse_run_job

if TYPE_CHECKING:  # the type only
    from .context import WorkerContext

__all__ = ["optimizer_run_job"]


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


def optimizer_run_job(ctx: WorkerContext, spec: SynapseSpec, params: dict[str, Any], proto: RunProtocol,
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
