"""Passive membrane properties from a current step (docs/metrics.md §3).

Definitions (``convention="bmtool_lab"``), for a step of ``I`` nA from ``t_on`` to ``t_off``:

- ``V_rest`` = mean ``v`` over the 50 ms before ``t_on`` (or what exists of it);
- ``V_ss`` = mean ``v`` over the last 10 % of the step;
- ``R_in = (V_ss - V_rest) / I`` (mV/nA = MΩ), either polarity;
- ``V_peak`` = extreme of ``v`` during the step in the direction of ``I``;
  sag ratio = ``(V_peak - V_ss) / (V_peak - V_rest)`` (0 without sag);
- ``tau`` = fit of ``V_rest + ΔV·(1 - exp(-(t - t_on)/tau))`` (``ΔV``, ``tau`` free) to the
  charging phase: from ``t_on`` to ``V_peak`` when the response sags (sag ratio above
  :data:`SAG_FIT_THRESHOLD`), else to ``t_off``. ``tau_method="exp2"`` fits
  ``V_rest + a1·(1 - exp(-τ/tau1)) + a2·(1 - exp(-τ/tau2))`` to the same stretch and reports
  the slower tau; ``"simple"`` is the time to ``V_rest + (1 - 1/e)·(V_ss - V_rest)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._fitting import curve_fit_small, decimate, r_squared, single_threaded_blas
from .traces import ensure_uniform, first_crossing, window_mean

__all__ = ["PassiveResult", "passive_properties"]

#: Pre-step interval for V_rest (ms) and fraction of the step for V_ss.
REST_WINDOW_MS = 50.0
STEADY_STATE_FRACTION = 0.1
#: Above this sag ratio the charging phase ends at V_peak instead of at the end of the step.
SAG_FIT_THRESHOLD = 0.01
#: exp2: a component smaller than this fraction of the total amplitude has no meaningful tau.
EXP2_MIN_WEIGHT = 0.01

TauMethod = Literal["single", "exp2", "simple"]
Convention = Literal["bmtool_lab", "bmtool"]


@dataclass(frozen=True)
class PassiveResult:
    """Passive properties of one current step; NaN where a quantity could not be computed.

    Attributes
    ----------
    v_rest_mV, v_ss_mV, v_peak_mV : float
        Resting, steady-state and extreme potential (mV).
    t_peak_ms : float
        Time of ``V_peak`` (ms, absolute).
    r_in_MOhm : float
        Input resistance (MΩ).
    tau_ms : float
        Membrane time constant (ms); for ``exp2`` the slower component.
    tau_fast_ms : float
        ``exp2`` only: the faster component (ms); NaN otherwise.
    sag_ratio : float
        ``(V_peak - V_ss) / (V_peak - V_rest)`` (dimensionless).
    fit_r2 : float
        R² of the tau fit over the fitted stretch (NaN for ``simple``).
    fit_t_ms, fit_v_mV : ndarray
        The fitted curve for drawing (at most 2000 points, absolute ms, mV).
    """

    v_rest_mV: float
    v_ss_mV: float
    v_peak_mV: float
    t_peak_ms: float
    r_in_MOhm: float
    tau_ms: float
    tau_fast_ms: float
    sag_ratio: float
    fit_r2: float
    amp_nA: float
    tau_method: str
    convention: str
    fit_t_ms: NDArray[np.float64] = field(repr=False)
    fit_v_mV: NDArray[np.float64] = field(repr=False)
    #: why the numbers cannot be trusted as passive properties (a cell that fires or drifts on
    #: its own, a tau fit that did not converge); empty when they can
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, float]:
        """Scalar results as plain floats; the units are in the key names."""
        skip = {"tau_method", "convention", "fit_t_ms", "fit_v_mV", "warnings"}
        return {f.name: float(getattr(self, f.name)) for f in fields(self) if f.name not in skip}


def passive_properties(
    t_ms: ArrayLike,
    v_mV: ArrayLike,
    t_on_ms: float,
    t_off_ms: float,
    amp_nA: float,
    tau_method: TauMethod = "single",
    convention: Convention = "bmtool_lab",
) -> PassiveResult:
    """V_rest, R_in, tau and sag of the response to a current step.

    Parameters
    ----------
    t_ms, v_mV : array_like
        Times (ms) and membrane potential (mV); an irregular (CVODE) grid is resampled at
        0.025 ms. The trace must cover the step.
    t_on_ms, t_off_ms : float
        Step onset and end (ms).
    amp_nA : float
        Step amplitude (nA), non-zero, either sign.
    tau_method : {"single", "exp2", "simple"}
        Tau estimate, see the module docstring.
    convention : {"bmtool_lab", "bmtool"}
        ``"bmtool"`` reproduces bmtool 0.8.7's ``Passive``: ``V_rest`` and ``V_ss`` are the
        single samples at ``int(t_on/dt)`` and ``int(t_off/dt)``; fits cover the whole step;
        ``"simple"`` takes the first sample with ``v <= V_ss - ΔV/e`` (bmtool's default,
        0 ms for a depolarising step); ``"single"`` fits ``a0 + a·exp(-τ/tau)`` with
        ``a0 = V_rest - a`` and ``"exp2"`` ``a0 + a1·exp(-τ/tau1) + a2·exp(-τ/tau2)``, both
        started from bmtool's initial guesses, which are infeasible after a 0 ms ``simple``
        tau: bmtool raises there, this returns NaN.

    Returns
    -------
    PassiveResult
    """
    if amp_nA == 0:
        raise ValueError("amp_nA must be non-zero")
    if not t_off_ms > t_on_ms:
        raise ValueError(f"need t_off_ms > t_on_ms, got {t_on_ms}, {t_off_ms}")
    if tau_method not in ("single", "exp2", "simple"):
        raise ValueError(f"tau_method must be 'single', 'exp2' or 'simple', got {tau_method!r}")
    t, v = ensure_uniform(t_ms, v_mV)
    if convention == "bmtool":
        return _bmtool_passive(t, v, float(t_on_ms), float(t_off_ms), float(amp_nA), tau_method)
    if convention != "bmtool_lab":
        raise ValueError(f"convention must be 'bmtool_lab' or 'bmtool', got {convention!r}")

    t_on, t_off, amp = float(t_on_ms), float(t_off_ms), float(amp_nA)
    v_rest = window_mean(t, v, t_on - REST_WINDOW_MS, t_on)
    v_ss = window_mean(t, v, t_off - STEADY_STATE_FRACTION * (t_off - t_on), t_off)
    step = (t >= t_on) & (t <= t_off)
    t_step, v_step = t[step], v[step]
    if t_step.size < 4:
        raise ValueError("the trace has fewer than 4 samples inside the step")
    direction = np.sign(amp)
    i_pk = int(np.argmax(direction * (v_step - v_rest)))
    v_peak, t_peak = float(v_step[i_pk]), float(t_step[i_pk])
    sag = _sag_ratio(v_rest, v_ss, v_peak)

    t_end = t_peak if sag > SAG_FIT_THRESHOLD else t_off
    charging = t_step <= t_end
    tc, vc = t_step[charging] - t_on, v_step[charging]
    dv_ss = v_ss - v_rest
    tau_simple = first_crossing(t_step, direction * (v_step - v_rest), abs(dv_ss) * (1 - np.exp(-1.0)), "up") - t_on

    tau = tau_fast = r2 = float("nan")
    curve_t, curve_v = decimate(tc, vc)
    if tau_method == "simple":
        tau = tau_simple
        curve_v = _charge1(curve_t, dv_ss, tau) + v_rest if tau > 0 else np.full(curve_t.size, np.nan)
    else:
        dv0 = float(vc[-1] - v_rest)
        tau0 = tau_simple if tau_simple > 0 else max(tc[-1] / 5.0, 1e-2)
        p1 = curve_fit_small(
            lambda tt, dv, tau_: v_rest + _charge1(tt, dv, tau_), tc, vc, p0=(dv0, tau0),
            bounds=((-np.inf, 1e-4), (np.inf, np.inf)),
        )
        if p1 is not None:
            tau = float(p1[1])
            model = v_rest + _charge1(tc, *p1)
            if tau_method == "exp2":
                tau, tau_fast, model = _fit_exp2(tc, vc, v_rest, p1, model)
            r2 = r_squared(vc, model)
            curve_v = decimate(tc, model)[1]
        else:
            curve_v = np.full(curve_t.size, np.nan)

    warnings = quiescence_warnings(t, v, t_on)
    if tau_method != "simple" and math.isfinite(tau) and tau > TAU_MAX_FACTOR * (t_off - t_on):
        warnings.append(f"the tau fit did not converge (tau {tau:.3g} ms, far beyond the {t_off - t_on:g} ms step): "
                        "tau not given")
        tau = tau_fast = float("nan")
        curve_v = np.full(curve_t.size, np.nan)
    elif tau_method != "simple" and not math.isfinite(tau):
        warnings.append("the tau fit did not converge: tau not given")
    return PassiveResult(
        v_rest_mV=v_rest, v_ss_mV=v_ss, v_peak_mV=v_peak, t_peak_ms=t_peak,
        r_in_MOhm=dv_ss / amp, tau_ms=tau, tau_fast_ms=tau_fast, sag_ratio=sag, fit_r2=r2,
        amp_nA=amp, tau_method=tau_method, convention="bmtool_lab",
        fit_t_ms=curve_t + t_on, fit_v_mV=curve_v, warnings=tuple(warnings),
    )


#: a fitted tau beyond this many step durations is not determined by the step
TAU_MAX_FACTOR = 10.0
#: spike detection (mV, upward crossings) and the baseline excursion (mV) that make a cell
#: not quiescent before the step
SPIKE_THRESHOLD_MV = -20.0
BASELINE_RANGE_MV = 1.0


def quiescence_warnings(t: NDArray[np.float64], v: NDArray[np.float64], t_on: float) -> list[str]:
    """Why the cell is not at rest for a passive measurement: spikes anywhere in the trace, or a
    baseline (the REST_WINDOW_MS before the step) that moves by more than BASELINE_RANGE_MV."""
    out = []
    above = v >= SPIKE_THRESHOLD_MV
    n_spikes = int(np.count_nonzero(above[1:] & ~above[:-1]))
    if n_spikes:
        out.append(f"the cell is not quiescent: it fires ({n_spikes} spikes above {SPIKE_THRESHOLD_MV:g} mV in the "
                   "trace); passive properties assume a cell at rest (hold it below threshold or block its spikes)")
    base = (t >= t_on - REST_WINDOW_MS) & (t < t_on)
    if base.any():
        swing = float(np.ptp(v[base]))
        if swing > BASELINE_RANGE_MV and not n_spikes:
            out.append(f"the cell is not at rest before the step: its potential moves {swing:.3g} mV in the "
                       f"{REST_WINDOW_MS:g} ms before it (let it settle longer, or check v_init)")
    return out


def _sag_ratio(v_rest: float, v_ss: float, v_peak: float) -> float:
    denom = v_peak - v_rest
    return float((v_peak - v_ss) / denom) if denom != 0 else float("nan")


def _charge1(tt: NDArray[np.float64], dv: float, tau: float) -> NDArray[np.float64]:
    return dv * -np.expm1(-tt / tau)


def _fit_exp2(
    tc: NDArray[np.float64], vc: NDArray[np.float64], v_rest: float,
    p1: NDArray[np.float64], model1: NDArray[np.float64],
) -> tuple[float, float, NDArray[np.float64]]:
    """Two-exponential charging fit; returns (slow tau, fast tau, model on ``tc``).

    Variable projection: for given taus the amplitudes are a linear least-squares problem,
    so the optimizer only searches the two log-taus (a 4-parameter search needed ~100× more
    function evaluations). Two starts around the single fit's tau, keeping the better:
    a fast phase before it (dendritic charging) and a slow one after it (a sag current).
    """
    from scipy.optimize import least_squares

    td, yd = decimate(tc, vc - v_rest)

    def basis(log_tau: NDArray[np.float64], tt: NDArray[np.float64]) -> NDArray[np.float64]:
        return -np.expm1(-tt[:, None] / np.exp(log_tau)[None, :])

    def residual(log_tau: NDArray[np.float64]) -> NDArray[np.float64]:
        b = basis(log_tau, td)
        return b @ np.linalg.lstsq(b, yd, rcond=None)[0] - yd

    tau1 = float(p1[1])
    best, best_cost = None, np.inf
    with single_threaded_blas(), np.errstate(over="ignore", invalid="ignore"):
        for start in ((tau1 / 10.0, tau1), (tau1, 5.0 * tau1)):
            sol = least_squares(residual, np.log(start), x_scale=1.0)
            if np.all(np.isfinite(sol.x)) and sol.cost < best_cost:
                best, best_cost = sol.x, sol.cost
    if best is None:
        return tau1, float("nan"), model1
    amps = np.linalg.lstsq(basis(best, td), yd, rcond=None)[0]
    (a_f, t_f), (a_s, t_s) = sorted(zip(amps, np.exp(best), strict=True), key=lambda c: c[1])
    model = v_rest + basis(best, tc) @ amps
    # a vanishing slow component has an arbitrary tau: fall back to the other one
    if abs(a_s) < EXP2_MIN_WEIGHT * (abs(a_f) + abs(a_s)):
        return float(t_f), float("nan"), model
    return float(t_s), float(t_f), model


def _bmtool_passive(
    t: NDArray[np.float64], v: NDArray[np.float64], t_on: float, t_off: float, amp: float, tau_method: str
) -> PassiveResult:
    """bmtool 0.8.7 ``Passive.run`` and its ``tau_*`` methods (see :func:`passive_properties`)."""
    nan = float("nan")
    dt = float(t[1] - t[0])
    i_rest = int((t_on - t[0]) / dt)
    i_final = min(int((t_off - t[0]) / dt), t.size - 1)
    v_rest, v_final = float(v[i_rest]), float(v[i_final])
    t_inj = t[i_rest : i_final + 1] - t[i_rest]
    v_inj = v[i_rest : i_final + 1]
    v_diff = v_final - v_rest
    i_pk = int(np.argmax(np.sign(amp) * v_inj))
    v_peak, t_peak = float(v_inj[i_pk]), float(t_inj[i_pk])
    sag = _sag_ratio(v_rest, v_final, v_peak)

    below = np.flatnonzero(v_inj <= v_final - v_diff / np.e)
    tau_simple = float(t_inj[below[0]]) if below.size else nan
    tau, tau_fast, r2 = tau_simple, nan, nan
    model = v_rest + _charge1(t_inj, v_diff, tau_simple) if tau_simple > 0 else np.full(t_inj.size, np.nan)
    feasible = tau_simple >= 1e-3  # bmtool's lower bound; its curve_fit raises below it
    if tau_method == "single":
        p = curve_fit_small(
            lambda tt, a, tau_: v_rest - a + a * np.exp(-tt / tau_), t_inj, v_inj, p0=(v_diff, tau_simple),
            bounds=((-np.inf, 1e-3), (np.inf, np.inf)),
        ) if feasible else None
        tau = float(p[1]) if p is not None else nan
        model = v_rest - p[0] + p[0] * np.exp(-t_inj / p[1]) if p is not None else np.full(t_inj.size, np.nan)
    elif tau_method == "exp2":
        def f2(tt, a1, a2, t1, t2):
            return v_rest - a1 - a2 + a1 * np.exp(-tt / t1) + a2 * np.exp(-tt / t2)

        p0 = (v_peak - v_final, -(v_diff + v_peak - v_final), t_peak, tau_simple)
        p = curve_fit_small(
            f2, t_inj, v_inj, p0=p0, bounds=((-np.inf, -np.inf, 1e-3, 1e-3), (np.inf,) * 4)
        ) if feasible and t_peak >= 1e-3 else None
        tau = float(max(p[2], p[3])) if p is not None else nan
        tau_fast = float(min(p[2], p[3])) if p is not None else nan
        model = f2(t_inj, *p) if p is not None else np.full(t_inj.size, np.nan)
    if tau_method != "simple" and np.all(np.isfinite(model)):
        r2 = r_squared(v_inj, model)
    curve_t, curve_v = decimate(t_inj, model)
    return PassiveResult(
        v_rest_mV=v_rest, v_ss_mV=v_final, v_peak_mV=v_peak, t_peak_ms=t_peak + t[i_rest],
        r_in_MOhm=v_diff / amp, tau_ms=tau, tau_fast_ms=tau_fast, sag_ratio=sag, fit_r2=r2,
        amp_nA=amp, tau_method=tau_method, convention="bmtool",
        fit_t_ms=curve_t + t[i_rest], fit_v_mV=curve_v,
    )
