"""Measuring a synapse run (pure numpy; runs in the worker, single-threaded BLAS): the PSP/PSC
metrics of one event, a train or a Poisson drive (docs/metrics.md), holding drift, why a run
has no response, the noise floor. ``out`` is the run job's output dict
(:func:`bmtool_lab.sim.synapse_jobs.synapse_run_job`), ``proto`` its run protocol."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from .event import event_metrics
from .metric_catalog import units_of
from .stability import unstable_reason
from .stp import pulse_amplitudes, stp_indices
from .traces import window_mean


class MeasuredProtocol(Protocol):
    """What measuring reads of a run's protocol (:class:`bmtool_lab.sim.synapse_jobs.RunProtocol`)."""

    kind: str
    clamp: str
    hold_mV: float
    dt: float
    weight_uS: float



@dataclass(frozen=True)
class MeasureSettings:
    """How to measure a run (docs/metrics.md §1–2): the analysed trace ("i_clamp" nA or
    "v_soma" mV), response window (ms), rise levels, per-pulse amplitude method, normaliser,
    convention ("bmtool_lab" | "bmtool"), the run's dt (ms) and the train's pulse counts."""

    analysed: str = "i_clamp"
    window_ms: float = 100.0
    rise_levels: tuple[float, float] = (0.1, 0.9)
    amplitude_method: str = "deconvolve"
    normaliser: str = "p90"
    convention: str = "bmtool_lab"
    dt: float = 0.025
    n_train: int = 8
    n_rec: int = 4


def _uniform(t: np.ndarray, x: np.ndarray, dt: float, irregular: bool, t0: float, t1: float
             ) -> tuple[np.ndarray, np.ndarray]:
    """(t, x) on a uniform grid of step dt (ms) over [t0, t1] (clipped to the trace)."""
    t0, t1 = max(t0, float(t[0])), min(t1, float(t[-1]))
    if not irregular:
        sel = (t >= t0 - dt / 2) & (t <= t1 + dt / 2)
        return t[sel], x[sel]
    # CVODE records an event twice (before/after it); np.interp takes the later value there
    grid = t0 + dt * np.arange(int(math.floor((t1 - t0) / dt + 1e-9)) + 1)
    return grid, np.interp(grid, t, x)


def _pre_event(out: dict, key: str) -> tuple[np.ndarray, np.ndarray, float, np.ndarray] | None:
    """(t ms, trace, first event ms, mask of the baseline before it: up to 50 ms) of a run's
    ``key`` trace; None without the trace, an event or three baseline samples."""
    pulses = np.asarray(out["pulse_times_ms"], dtype=np.float64)
    if key not in out["traces"] or not pulses.size:
        return None
    t = np.asarray(out["t"], dtype=np.float64)
    x = np.asarray(out["traces"][key], dtype=np.float64)
    t0 = float(pulses[0])
    base = (t >= t0 - min(50.0, t0 / 2.0)) & (t < t0)
    if int(base.sum()) < 3 or np.ptp(t[base]) <= 0:
        return None
    return t, x, t0, base


#: holding-current drift (a fraction of the response) above which a voltage-clamp run is flagged
DRIFT_WARN_FRACTION = 0.02


def holding_drift(out: dict, proto: MeasuredProtocol) -> dict[str, float] | None:
    """The clamp current's drift before the first event, extrapolated over the measured span:
    {"drift_nA", "span_ms", "response_nA", "fraction"}; None under current clamp or without a
    baseline. A cell not at rest at the hold relaxes under the clamp, and that relaxation adds to
    the synaptic current (a 8 ms decay read as 16 ms)."""
    pre = _pre_event(out, "i_clamp") if proto.clamp == "voltage" else None
    if pre is None:
        return None
    t, x, t0, base = pre
    slope = float(np.polyfit(t[base], x[base], 1)[0])  # nA/ms at the end of the baseline
    after = t >= t0
    span = float(t[after][-1] - t0) if after.any() else 0.0
    if proto.kind == "single":
        span = min(span, 100.0)
    response = float(np.max(np.abs(x[after] - x[base][-1]))) if after.any() else 0.0
    drift = slope * span
    frac = abs(drift) / response if response > 0 else 0.0
    return {"drift_nA": drift, "span_ms": span, "response_nA": response, "fraction": frac}


#: driving force (mV, |i_syn| / |g_syn| at their peaks) below which a synapse passes no current
NO_DRIVE_MV = 0.01


def no_response_reason(out: dict, proto: MeasuredProtocol, has_ig: bool) -> str | None:
    """Why a run has no synaptic response to measure (None: it has one). Metrics of such a run
    would be fits to numerical noise (a PPR of -0.8, a latency of 28 ms), so none are given."""
    tr = out["traces"]
    for key in ("v_soma", "v_syn"):
        if key in tr:
            why = unstable_reason(out["t"], tr[key], None if out.get("solver_steps") else proto.dt, what=key)
            if why:
                return why
    if any(not np.all(np.isfinite(v)) for v in tr.values()):
        return "numerically unstable run: a recorded trace is NaN or infinite; nothing is measured from it"
    if float(proto.weight_uS) == 0.0:
        return "zero weight: the connection's NetCon weight (syn_weight) is 0 µS"
    if has_ig and "g_syn" in tr and "i_syn" in tr:
        g = float(np.max(np.abs(np.asarray(tr["g_syn"], dtype=np.float64))))
        i = float(np.max(np.abs(np.asarray(tr["i_syn"], dtype=np.float64))))
        if g > 0 and i / g < NO_DRIVE_MV:
            where = f"the hold ({proto.hold_mV:g} mV)" if proto.clamp == "voltage" else "the membrane potential"
            e = out.get("e_rev_mV")
            return (f"no driving force: {where} is at the synapse's reversal potential"
                    + (f" ({e:g} mV)" if e is not None else "") + "; hold at another potential")
        if g == 0:
            return "the synapse's conductance stayed 0: no event reached it (check the weight and the delay)"
    return _below_noise_floor(out, proto)


#: a response must exceed this many times the baseline's own fluctuation to be measured
NOISE_FLOOR_FACTOR = 3.0


def _below_noise_floor(out: dict, proto: MeasuredProtocol) -> str | None:
    """A response no larger than the analysed trace's own fluctuation before the first event
    (a cell that fires or oscillates by itself; float rounding of a huge baseline) cannot be
    told from it. The baseline's linear trend is drift (flagged apart), not noise."""
    key = "i_clamp" if proto.clamp == "voltage" else "v_soma"
    pre = _pre_event(out, key)
    if pre is None:
        return None
    t, x, t0, base = pre
    tb, xb = t[base], x[base]
    trend = np.polyval(np.polyfit(tb, xb, 1), tb)
    noise = float(np.ptp(xb - trend))
    after = t >= t0
    response = float(np.max(np.abs(x[after] - xb[-1]))) if after.any() else 0.0
    floor = max(NOISE_FLOOR_FACTOR * noise, 1e-6 * float(np.max(np.abs(xb))))
    if response > floor:
        return None
    unit = "nA" if key == "i_clamp" else "mV"
    why = "the baseline fluctuates by itself (a cell that fires or oscillates)" if noise > 0 else "rounding"
    return (f"response below the noise floor: at most {response:.3g} {unit} against a baseline that varies by "
            f"{noise:.3g} {unit} before the event ({why}); make the cell quiescent or the synapse larger")


def measure_run(out: dict, m: MeasureSettings, kind: str) -> dict:
    """Metrics of one run: {"metrics", "units", "kernel": (t_k, k) or None}.

    Single event: :func:`~bmtool_lab.analysis.event.event_metrics` of the analysed trace at
    the first pulse. Train: per-pulse amplitudes (:func:`~bmtool_lab.analysis.stp.pulse_amplitudes`,
    deconvolved with the run's single-event kernel) and :func:`~bmtool_lab.analysis.stp.stp_indices`,
    plus the event metrics of that kernel. CVODE traces are resampled first: at 0.005 ms
    around single events (crossing times of fast rises), at the run's dt for trains; at dt
    everywhere under ``convention="bmtool"`` (its numbers are quantised to dt).
    """
    if out.get("no_response"):
        return {"metrics": {"amplitudes": []} if kind != "single" else {}, "units": {}, "kernel": None,
                "no_response": out["no_response"]}
    key = m.analysed
    t = np.asarray(out["t"], dtype=np.float64)
    x = np.asarray(out["traces"][key], dtype=np.float64)
    unit = out["units"][key]
    pulses = np.asarray(out["pulse_times_ms"], dtype=np.float64)
    irregular = bool(out.get("solver_steps", False))
    fine = m.dt if m.convention == "bmtool" else min(m.dt, 0.005)
    metrics: dict[str, Any] = {}
    units: dict[str, str] = {}
    kernel = None
    if kind == "single":
        tu, xu = _uniform(t, x, fine, irregular, pulses[0] - 10.0, pulses[0] + m.window_ms + 1.0)
        em = event_metrics(tu, xu, pulses[0], m.window_ms, tuple(m.rise_levels), convention=m.convention, unit=unit)
        metrics.update(em.to_dict())
        units.update(em.units())
        return {"metrics": metrics, "units": units, "kernel": None}
    k = out.get("kernel")
    if kind == "poisson":
        return _measure_poisson(out, m, t, x, unit, pulses, irregular, fine, k)
    kernel, kern = _measure_kernel(k, key, m, unit, fine, irregular, metrics, units)
    tu, xu = _uniform(t, x, m.dt, irregular, float(t[0]), float(t[-1]))
    method = m.amplitude_method
    if method == "deconvolve" and kern is None:
        method = "prepulse"
    amps = pulse_amplitudes(tu, xu, pulses, method=method, kernel=kern, netcon_delay_ms=float(out.get("netcon_delay_ms", 0.0)))
    idx = stp_indices(amps, m.n_train, m.n_rec, normaliser=m.normaliser)
    metrics.update(idx)
    metrics["amplitudes"] = [float(a) for a in amps]
    units.update(units_of([*idx, "amplitudes"], unit))
    return {"metrics": metrics, "units": units, "kernel": kernel}


def _measure_kernel(k: dict | None, key: str, m: MeasureSettings, unit: str, fine: float, irregular: bool,
                    metrics: dict, units: dict) -> tuple:
    """Event metrics of the single-event kernel (added to ``metrics``/``units``); returns the raw
    kernel (t, x) and the kernel on the analysis grid for deconvolution, or (None, None)."""
    if k is None:
        return None, None
    tk = np.asarray(k["t"], dtype=np.float64)
    xk = np.asarray(k["traces"][key], dtype=np.float64)
    tku, xku = _uniform(tk, xk, fine, irregular, -10.0, m.window_ms + 1.0)
    em = event_metrics(tku, xku, 0.0, m.window_ms, tuple(m.rise_levels), convention=m.convention, unit=unit)
    metrics.update(em.to_dict())
    units.update(em.units())
    return (tk, xk), _uniform(tk, xk, m.dt, irregular, float(tk[0]), float(tk[-1]))


def _measure_poisson(out: dict, m: MeasureSettings, t: np.ndarray, x: np.ndarray, unit: str, pulses: np.ndarray,
                     irregular: bool, fine: float, k: dict | None) -> dict:
    """Metrics of a Poisson run over its window [t0, t1) (ms): ``n_events``, ``mean_rate_hz``
    (events / duration), ``mean_response`` and ``peak`` (mean and max |·| of the analysed trace
    minus its mean over the 5 ms before t0), per-event ``amplitudes`` deconvolved with the
    single-event kernel as for trains (:func:`~bmtool_lab.analysis.stp.pulse_amplitudes`),
    ``amplitude_mean``, ``amplitude_cv`` (std/mean) and ``steady_state_ratio`` (mean amplitude
    of the last 20 % of events / the first one), plus the kernel's event metrics."""
    t0, t1 = out["stim_window_ms"]
    metrics: dict[str, Any] = {}
    units: dict[str, str] = {}
    kernel, kern = _measure_kernel(k, m.analysed, m, unit, fine, irregular, metrics, units)
    tu, xu = _uniform(t, x, m.dt, irregular, float(t[0]), float(t[-1]))
    base = window_mean(tu, xu, t0 - 5.0, t0)
    sel = (tu >= t0) & (tu < t1)
    dev = xu[sel] - base
    n = int(pulses.size)
    metrics["n_events"] = n
    metrics["mean_rate_hz"] = n / ((t1 - t0) / 1000.0)
    metrics["mean_response"] = float(dev.mean()) if dev.size else float("nan")
    metrics["peak"] = float(np.max(np.abs(dev))) if dev.size else float("nan")
    amps = np.empty(0)
    if n:
        method = m.amplitude_method
        if method == "deconvolve" and kern is None:
            method = "prepulse"
        amps = pulse_amplitudes(tu, xu, pulses, method=method, kernel=kern,
                                netcon_delay_ms=float(out.get("netcon_delay_ms", 0.0)))
    nan = float("nan")
    mean = float(amps.mean()) if n else nan
    metrics["amplitude_mean"] = mean
    metrics["amplitude_cv"] = float(amps.std() / mean) if n and mean != 0 else nan
    n_last = max(1, math.ceil(0.2 * n))
    metrics["steady_state_ratio"] = float(amps[-n_last:].mean() / amps[0]) if n and amps[0] != 0 else nan
    metrics["amplitudes"] = [float(a) for a in amps]
    units.update(units_of([k for k in metrics if k not in units], unit))
    return {"metrics": metrics, "units": units, "kernel": kernel}
