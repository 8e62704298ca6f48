"""Trace utilities: uniform resampling and threshold crossings by linear interpolation.

Every measurement in :mod:`bmtool_lab.analysis` works on a uniform time grid. NEURON's
variable-step solver (CVODE) records at irregular times, so such traces are resampled with
:func:`resample_uniform` first (the measuring functions do it themselves when they see an
irregular grid, at :data:`DEFAULT_DT_MS`).

Crossing times are interpolated linearly between the two samples that straddle the level,
so a metric built from them (rise time, latency, half-width) moves continuously with the
model parameters instead of in steps of ``dt``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "DEFAULT_DT_MS",
    "crossing_times",
    "ensure_uniform",
    "first_crossing",
    "integrate",
    "is_uniform",
    "resample_uniform",
    "trapezoid",
    "window_mean",
]

#: Grid step (ms) used when an irregular (CVODE) trace has to be resampled; NEURON's default dt.
DEFAULT_DT_MS = 0.025

Direction = Literal["up", "down", "both"]


def resample_uniform(t: ArrayLike, x: ArrayLike, dt: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Resample a trace recorded at irregular times onto a uniform grid.

    ``t_u = t[0] + k·dt`` for ``k = 0..floor((t[-1] - t[0]) / dt)``, and ``x_u`` is ``x``
    linearly interpolated at ``t_u``. Repeated times (CVODE records an event twice, before
    and after the discontinuity) are allowed.

    Parameters
    ----------
    t : array_like
        Sample times (ms), non-decreasing.
    x : array_like
        Samples, same length as ``t`` (any unit).
    dt : float
        Step of the new grid (ms), > 0.

    Returns
    -------
    t_u, x_u : ndarray
        Uniform times (ms) and resampled values (unit of ``x``), float64.
    """
    t = np.asarray(t, dtype=float)
    x = np.asarray(x, dtype=float)
    if t.ndim != 1 or t.shape != x.shape:
        raise ValueError(f"t and x must be 1-D arrays of one length, got {t.shape} and {x.shape}")
    if not dt > 0:
        raise ValueError(f"dt must be > 0, got {dt}")
    if t.size == 0:
        return t.copy(), x.copy()
    # the small tolerance keeps the last sample when (t[-1]-t[0])/dt is an integer up to rounding
    n = int(np.floor((t[-1] - t[0]) / dt + 1e-9)) + 1
    t_u = t[0] + dt * np.arange(n)
    return t_u, np.interp(t_u, t, x)


def is_uniform(t: ArrayLike, rtol: float = 1e-3) -> bool:
    """True when the steps of ``t`` are all equal within ``rtol`` of the median step."""
    t = np.asarray(t, dtype=float)
    if t.size < 3:
        return True
    d = np.diff(t)
    step = np.median(d)
    return bool(step > 0 and np.all(np.abs(d - step) <= rtol * step))


def ensure_uniform(
    t: ArrayLike, x: ArrayLike, dt: float = DEFAULT_DT_MS
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Return ``(t, x)`` as float64, resampled at ``dt`` (ms) only if the grid is irregular."""
    t = np.asarray(t, dtype=float)
    x = np.asarray(x, dtype=float)
    if t.shape != x.shape or t.ndim != 1:
        raise ValueError(f"t and x must be 1-D arrays of one length, got {t.shape} and {x.shape}")
    if is_uniform(t):
        return t, x
    return resample_uniform(t, x, dt)


def crossing_times(t: ArrayLike, y: ArrayLike, level: float, direction: Direction = "up") -> NDArray[np.float64]:
    """All times where ``y`` crosses ``level``, linearly interpolated between samples.

    An upward crossing lies between samples ``i`` and ``i+1`` with ``y[i] < level <= y[i+1]``
    and is placed at ``t[i] + (level - y[i]) / (y[i+1] - y[i]) · (t[i+1] - t[i])``; a downward
    crossing mirrors it (``y[i] > level >= y[i+1]``).

    Parameters
    ----------
    t : array_like
        Sample times (ms).
    y : array_like
        Samples.
    level : float
        Threshold, unit of ``y``.
    direction : {"up", "down", "both"}
        Which crossings to return.

    Returns
    -------
    ndarray
        Crossing times (ms), increasing.
    """
    t = np.asarray(t, dtype=float)
    y = np.asarray(y, dtype=float)
    if y.size < 2:
        return np.empty(0)
    y0, y1 = y[:-1], y[1:]
    if direction == "up":
        idx = np.flatnonzero((y0 < level) & (y1 >= level))
    elif direction == "down":
        idx = np.flatnonzero((y0 > level) & (y1 <= level))
    elif direction == "both":
        idx = np.flatnonzero(((y0 < level) & (y1 >= level)) | ((y0 > level) & (y1 <= level)))
    else:
        raise ValueError(f"direction must be 'up', 'down' or 'both', got {direction!r}")
    frac = (level - y0[idx]) / (y1[idx] - y0[idx])
    return t[idx] + frac * (t[idx + 1] - t[idx])


def first_crossing(
    t: ArrayLike, y: ArrayLike, level: float, direction: Direction = "up", t_from: float | None = None
) -> float:
    """First interpolated crossing of ``level`` at or after ``t_from`` (ms); NaN if none.

    If ``y`` is already past the level at the first sample considered, that sample's time is
    returned (the crossing happened at or before it).
    """
    t = np.asarray(t, dtype=float)
    y = np.asarray(y, dtype=float)
    if t_from is not None:
        # keep the sample just before t_from so a crossing straddling it can be interpolated
        i0 = max(int(np.searchsorted(t, t_from, side="right")) - 1, 0)
        t, y = t[i0:], y[i0:]
    if y.size == 0:
        return float("nan")
    past = y[0] >= level if direction == "up" else y[0] <= level if direction == "down" else False
    if past:
        return float(t[0] if t_from is None else max(t[0], t_from))
    times = crossing_times(t, y, level, direction)
    if t_from is not None:
        times = times[times >= t_from]
    return float(times[0]) if times.size else float("nan")


def window_mean(t: ArrayLike, x: ArrayLike, t0: float, t1: float) -> float:
    """Mean of the samples with ``t0 <= t < t1``; if there are none, the sample nearest ``t0``."""
    t = np.asarray(t, dtype=float)
    x = np.asarray(x, dtype=float)
    mask = (t >= t0) & (t < t1)
    if mask.any():
        return float(x[mask].mean())
    i = int(np.clip(np.searchsorted(t, t0), 0, t.size - 1))
    return float(x[i])


def integrate(t: ArrayLike, y: ArrayLike, t0: float, t1: float) -> float:
    """Trapezoidal integral of ``y`` over ``[t0, t1]`` (unit of ``y`` × ms).

    The end points are interpolated linearly, so the result does not depend on whether
    ``t0`` and ``t1`` fall on samples. Limits are clipped to the trace.
    """
    t = np.asarray(t, dtype=float)
    y = np.asarray(y, dtype=float)
    t0, t1 = max(t0, t[0]), min(t1, t[-1])
    if t1 <= t0:
        return 0.0
    inner = (t > t0) & (t < t1)
    tt = np.concatenate(([t0], t[inner], [t1]))
    yy = np.concatenate(([np.interp(t0, t, y)], y[inner], [np.interp(t1, t, y)]))
    return trapezoid(yy, tt)


def trapezoid(y: ArrayLike, x: ArrayLike | None = None, dx: float = 1.0) -> float:
    """Trapezoidal integral (``np.trapezoid`` on numpy 2, ``np.trapz`` before it)."""
    rule = getattr(np, "trapezoid", None) or np.trapz
    return float(rule(y, x) if x is not None else rule(y, dx=dx))
