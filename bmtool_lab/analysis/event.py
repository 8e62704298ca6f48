"""Metrics of a single synaptic event (docs/metrics.md §1).

The analysed trace ``x(t)`` is a clamp current, a membrane potential or the synapse's own
current; the metrics are returned in the unit of ``x`` (times in ms). ``t_pre`` is the time
the stimulus delivers the presynaptic event, so a NetCon delay counts as latency.

Definitions (``convention="bmtool_lab"``, the default):

- baseline ``b`` = mean of ``x`` over ``[t_pre - baseline_ms, t_pre)``;
- sign ``s`` = sign of the largest ``|x - b|`` in ``[t_pre, t_pre + window]``; the
  analysis works on ``y = s·(x - b) >= 0``;
- amplitude ``A`` = global maximum of ``y`` in the window, at ``t_peak``;
- latency = ``t(r1·A) - t_pre``; rise time = ``t(r2·A) - t(r1·A)``; half-width =
  ``t_down(A/2) - t_up(A/2)``; all crossings linearly interpolated (not quantised to dt);
- decay tau = least-squares fit of ``a·exp(-(t - t0)/tau)`` to ``y`` from the first time
  after the peak where ``y <= 0.8·A`` until ``y < 0.05·A`` or the window ends, with R²;
- charge = ``∫ (x - b) dt`` over the window only, i.e. ``s·∫ y dt``.

``convention="bmtool"`` reproduces bmtool 0.8.7's ``SynapseTuner._get_syn_prop`` and
``SingleEvent`` so old and new numbers can be compared side by side; see
:func:`event_metrics` for the exact differences.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._fitting import curve_fit_small, r_squared
from .metric_catalog import units_of
from .traces import ensure_uniform, first_crossing, integrate, trapezoid, window_mean

__all__ = ["EventMetrics", "event_metrics"]

Convention = Literal["bmtool_lab", "bmtool"]

# Fraction of the amplitude where the decay fit starts and stops (docs/metrics.md §1).
DECAY_FIT_START = 0.8
DECAY_FIT_STOP = 0.05

@dataclass(frozen=True)
class EventMetrics:
    """Metrics of one synaptic event; NaN where a metric is undefined (e.g. no decay in window).

    Attributes
    ----------
    amplitude : float
        Peak deviation from baseline, ``A >= 0`` (unit of x). Signed peak = ``sign · amplitude``.
    sign : float
        +1 for an outward/depolarising response, -1 for inward/hyperpolarising, 0 if flat.
    baseline : float
        Baseline ``b`` (unit of x).
    t_peak_ms : float
        Absolute time of the peak (ms).
    latency_ms, rise_time_ms, half_width_ms, decay_tau_ms : float
        Times (ms), see the module docstring.
    decay_r2 : float
        R² of the decay fit (dimensionless).
    charge : float
        Signed integral of ``x - b`` (unit of x × ms; nA·ms = pC, pA·ms = fC, mV·ms).
    unit : str
        Unit of x, as given to :func:`event_metrics` (only used by :meth:`units`).
    convention : str
        ``"bmtool_lab"`` or ``"bmtool"``.
    """

    amplitude: float
    sign: float
    baseline: float
    t_peak_ms: float
    latency_ms: float
    rise_time_ms: float
    decay_tau_ms: float
    decay_r2: float
    half_width_ms: float
    charge: float
    unit: str = "nA"
    convention: str = "bmtool_lab"

    @property
    def signed_amplitude(self) -> float:
        """``sign · amplitude`` (unit of x)."""
        return self.sign * self.amplitude

    def to_dict(self) -> dict[str, float]:
        """The ten metrics as plain floats; keys are the field names (times end in ``_ms``).

        Units of the keys without a suffix are given by :meth:`units`.
        """
        return {f.name: float(getattr(self, f.name)) for f in fields(self) if f.name not in ("unit", "convention")}

    def units(self) -> dict[str, str]:
        """Unit of every key of :meth:`to_dict` (``"1"`` for dimensionless), from the metric
        registry (:mod:`bmtool_lab.analysis.metric_catalog`)."""
        return units_of(self.to_dict(), self.unit)


def event_metrics(
    t_ms: ArrayLike,
    x: ArrayLike,
    t_pre_ms: float,
    window_ms: float = 100.0,
    rise_levels: tuple[float, float] = (0.1, 0.9),
    baseline_ms: float = 5.0,
    convention: Convention = "bmtool_lab",
    *,
    unit: str = "nA",
) -> EventMetrics:
    """Amplitude, latency, rise, decay, half-width and charge of a single synaptic event.

    Parameters
    ----------
    t_ms : array_like
        Sample times (ms). An irregular (CVODE) grid is resampled at 0.025 ms first.
    x : array_like
        The analysed trace (clamp current in nA, membrane potential in mV, ...).
    t_pre_ms : float
        Time the presynaptic event is delivered by the stimulus (ms).
    window_ms : float
        Length of the response window ``[t_pre, t_pre + window]`` (ms).
    rise_levels : (float, float)
        Fractions ``(r1, r2)`` of the amplitude for the rise time, ``0 < r1 < r2 < 1``.
        The latency is measured to ``r1·A``.
    baseline_ms : float
        Length of the baseline interval before ``t_pre`` (ms); ignored by ``"bmtool"``.
    convention : {"bmtool_lab", "bmtool"}
        ``"bmtool_lab"``: the definitions of the module docstring.
        ``"bmtool"``: bmtool 0.8.7's formulas, on ``x`` from the sample
        ``floor((t_pre - t0)/dt)`` to the window end:

        - baseline = that single sample; sign from the largest deviation after it;
        - amplitude = first *local* maximum (``scipy.signal.find_peaks``; the global maximum
          if there is none, where bmtool raises);
        - onset ``i0`` = first sample where ``y`` increases; latency = ``dt·(i0 + 1)``;
        - rise time = ``dt·`` (number of samples between the first samples above ``r1·A`` and
          above ``r2·A``), a multiple of dt;
        - half-width = ``dt·(i_down - i_up)`` where ``i_up`` counts from the onset ``i0`` but
          ``i_down`` from ``t_pre``, so it is too long by about the latency;
        - decay tau = fit of ``a·exp(-t/tau)`` from the peak sample until ``y`` first rises
          again (or the window ends); ``decay_r2`` is that fit's R² (bmtool reports none);
        - charge = ``∫ (x - b) dt`` from the first sample of the trace (t = 0 in a NEURON run)
          to the window end, so anything before the event counts.
    unit : str
        Unit of ``x``, recorded for :meth:`EventMetrics.units` (keyword only).

    Returns
    -------
    EventMetrics
    """
    r1, r2 = (float(v) for v in rise_levels)
    if not 0.0 < r1 < r2 < 1.0:
        raise ValueError(f"rise_levels must satisfy 0 < r1 < r2 < 1, got {rise_levels}")
    if not window_ms > 0:
        raise ValueError(f"window_ms must be > 0, got {window_ms}")
    t, xv = ensure_uniform(t_ms, x)
    if t.size < 3:
        raise ValueError("the trace needs at least 3 samples")
    if convention == "bmtool":
        return _bmtool_event(t, xv, float(t_pre_ms), float(window_ms), r1, r2, unit)
    if convention != "bmtool_lab":
        raise ValueError(f"convention must be 'bmtool_lab' or 'bmtool', got {convention!r}")
    return _event(t, xv, float(t_pre_ms), float(window_ms), r1, r2, float(baseline_ms), unit)


def _no_event(baseline: float, unit: str, convention: str) -> EventMetrics:
    nan = float("nan")
    return EventMetrics(0.0, 0.0, baseline, nan, nan, nan, nan, nan, nan, 0.0, unit, convention)


def _event(
    t: NDArray[np.float64], x: NDArray[np.float64], t_pre: float, window: float,
    r1: float, r2: float, baseline_ms: float, unit: str,
) -> EventMetrics:
    b = window_mean(t, x, t_pre - baseline_ms, t_pre)
    t_end = t_pre + window
    # start one sample before t_pre so the first crossing can be interpolated
    i0 = max(int(np.searchsorted(t, t_pre, side="right")) - 1, 0)
    i1 = int(np.searchsorted(t, t_end, side="right"))
    tw, dev = t[i0:i1], x[i0:i1] - b
    inside = tw >= t_pre
    if not inside.any() or not np.any(dev[inside]):
        return _no_event(b, unit, "bmtool_lab")
    dev_in = np.where(inside, dev, 0.0)
    s = 1.0 if dev_in[np.argmax(np.abs(dev_in))] > 0 else -1.0
    y = s * dev
    ipk = int(np.argmax(np.where(inside, y, -np.inf)))
    amp = float(y[ipk])
    t_peak = float(tw[ipk])

    t_rise, y_rise = tw[: ipk + 1], y[: ipk + 1]
    t_r1 = first_crossing(t_rise, y_rise, r1 * amp, "up", t_from=t_pre)
    t_r2 = first_crossing(t_rise, y_rise, r2 * amp, "up", t_from=t_r1)
    t_up = first_crossing(t_rise, y_rise, 0.5 * amp, "up", t_from=t_pre)
    t_fall, y_fall = tw[ipk:], y[ipk:]
    t_down = first_crossing(t_fall, y_fall, 0.5 * amp, "down")
    tau, r2_fit = _decay_fit(t_fall, y_fall, amp)
    charge = integrate(t, x - b, t_pre, t_end)
    return EventMetrics(
        amplitude=amp,
        sign=s,
        baseline=b,
        t_peak_ms=t_peak,
        latency_ms=t_r1 - t_pre,
        rise_time_ms=t_r2 - t_r1,
        decay_tau_ms=tau,
        decay_r2=r2_fit,
        half_width_ms=t_down - t_up,
        charge=charge,
        unit=unit,
        convention="bmtool_lab",
    )


def _exp_decay(t: NDArray[np.float64], a: float, tau: float) -> NDArray[np.float64]:
    return a * np.exp(-t / tau)


def _fit_exp_decay(t: NDArray[np.float64], y: NDArray[np.float64], p0: tuple[float, float]) -> tuple[float, float]:
    """Fit ``a·exp(-t/tau)`` (t from 0) and return ``(tau, R²)``; NaNs if it fails."""
    popt = curve_fit_small(_exp_decay, t, y, p0=p0)
    if popt is None or popt[1] <= 0:
        return float("nan"), float("nan")
    return float(popt[1]), r_squared(y, _exp_decay(t, *popt))


def _decay_fit(t_fall: NDArray[np.float64], y_fall: NDArray[np.float64], amp: float) -> tuple[float, float]:
    """Decay tau and R² from ``y <= 0.8·A`` after the peak to ``y < 0.05·A`` (or window end)."""
    below = np.flatnonzero(y_fall <= DECAY_FIT_START * amp)
    if below.size == 0:
        return float("nan"), float("nan")
    i_start = int(below[0])
    gone = np.flatnonzero(y_fall[i_start:] < DECAY_FIT_STOP * amp)
    i_stop = i_start + int(gone[0]) if gone.size else y_fall.size
    tt = t_fall[i_start:i_stop] - t_fall[i_start]
    yy = y_fall[i_start:i_stop]
    if yy.size < 3:
        return float("nan"), float("nan")
    # initial guess from a log-linear fit of the positive samples: close to the answer already
    pos = yy > 0
    tau0 = tt[-1] / 2 if tt[-1] > 0 else 1.0
    if pos.sum() >= 2:
        slope = np.polyfit(tt[pos], np.log(yy[pos]), 1)[0]
        if slope < 0:
            tau0 = -1.0 / slope
    return _fit_exp_decay(tt, yy, (float(yy[0]), float(tau0)))


def _first_true(mask: NDArray[np.bool_]) -> int | None:
    idx = np.flatnonzero(mask)
    return int(idx[0]) if idx.size else None


def _bmtool_event(
    t: NDArray[np.float64], x: NDArray[np.float64], t_pre: float, window: float,
    r1: float, r2: float, unit: str,
) -> EventMetrics:
    """bmtool 0.8.7's single-event formulas (see :func:`event_metrics`)."""
    from scipy.signal import find_peaks

    nan = float("nan")
    dt = float(t[1] - t[0])
    ispk = int(np.clip(np.floor((t_pre - t[0]) / dt), 0, t.size - 1))
    i_end = int(np.searchsorted(t, t_pre + window, side="right"))
    b = float(x[ispk])
    dev = x[ispk:i_end] - b
    if dev.size < 3 or not np.any(dev):
        return _no_event(b, unit, "bmtool")
    s = float(np.sign(dev[np.argmax(np.abs(dev))]))
    y = s * dev
    peaks, _ = find_peaks(y)
    ipk = int(peaks[0]) if peaks.size else int(np.argmax(y))
    amp = float(y[ipk])

    onset = _first_true(np.diff(y[: ipk + 1]) > 0)
    onset = 0 if onset is None else onset
    latency = dt * (onset + 1)
    rt1 = _first_true(y[onset : ipk + 1] > r1 * amp)
    rt2 = _first_true(y[onset : ipk + 1] > r2 * amp)
    rise = dt * (rt2 - rt1) if rt1 is not None and rt2 is not None else nan

    i_rise_again = _first_true(np.diff(y[ipk:]) > 0)
    i_dec_end = y.size - 1 if i_rise_again is None else i_rise_again + ipk
    n_dec = i_dec_end - ipk + 1
    if n_dec >= 3:
        tau, r2_fit = _fit_exp_decay(dt * np.arange(n_dec), y[ipk : i_dec_end + 1], (amp, dt * n_dec / 2))
    else:
        tau, r2_fit = nan, nan

    hw_up = _first_true(y[onset : ipk + 1] > 0.5 * amp)  # relative to the onset ...
    hw_down = _first_true(y[ipk:] < 0.5 * amp)
    hw_down = y.size if hw_down is None else hw_down + ipk  # ... but this one to t_pre
    half_width = dt * (hw_down - hw_up) if hw_up is not None else nan

    charge = trapezoid(x[:i_end] - b, dx=dt)
    return EventMetrics(
        amplitude=amp,
        sign=s,
        baseline=b,
        t_peak_ms=float(t[ispk + ipk]),
        latency_ms=latency,
        rise_time_ms=rise,
        decay_tau_ms=tau,
        decay_r2=r2_fit,
        half_width_ms=half_width,
        charge=charge,
        unit=unit,
        convention="bmtool",
    )
