"""F–I curve helpers: step currents, spike detection, firing rate, rheobase by bisection.

Reference/metrics.md §3: currents ``I_k = i_start + k·Δi`` for ``k = 0..K`` with
``K = round((i_stop - i_start)/Δi)`` (inclusive: bmtool's float floor division drops the last
step); the rate counts upward threshold crossings inside the step window only.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .traces import crossing_times

__all__ = ["bisect_rheobase", "fi_currents", "firing_rate_hz", "spike_times"]


def fi_currents(i_start_nA: float, i_stop_nA: float, i_step_nA: float) -> NDArray[np.float64]:
    """Step amplitudes from ``i_start`` to ``i_stop`` inclusive (nA).

    ``I_k = i_start + k·Δi``, ``k = 0..K``, ``K = round((i_stop - i_start)/Δi)``; e.g.
    0 → 0.5 by 0.05 gives 11 currents. ``Δi`` may be negative for a descending sweep.

    Parameters
    ----------
    i_start_nA, i_stop_nA : float
        First and last current (nA).
    i_step_nA : float
        Increment (nA), non-zero, pointing from start to stop.

    Returns
    -------
    ndarray
        ``K + 1`` currents (nA).
    """
    if i_step_nA == 0:
        raise ValueError("i_step_nA must be non-zero")
    k = round((i_stop_nA - i_start_nA) / i_step_nA)
    if k < 0:
        raise ValueError(f"i_step_nA={i_step_nA} points away from i_stop_nA={i_stop_nA}")
    return i_start_nA + i_step_nA * np.arange(k + 1)


def spike_times(t_ms: ArrayLike, v_mV: ArrayLike, threshold_mV: float = 0.0) -> NDArray[np.float64]:
    """Times of upward crossings of ``threshold_mV`` (ms), linearly interpolated.

    A crossing lies between samples with ``v[i] < threshold <= v[i+1]``; a trace that starts
    above threshold does not count a spike at its first sample.
    """
    return crossing_times(t_ms, v_mV, threshold_mV, "up")


def firing_rate_hz(spike_times_ms: ArrayLike, t_on_ms: float, t_off_ms: float) -> float:
    """Mean firing rate during a step (Hz): ``#{t_on <= t_spike < t_off} / (t_off - t_on)``.

    Spikes outside the step window (rebound spikes, spontaneous firing before it) do not count.
    """
    if not t_off_ms > t_on_ms:
        raise ValueError(f"need t_off_ms > t_on_ms, got {t_on_ms}, {t_off_ms}")
    st = np.asarray(spike_times_ms, dtype=float)
    n = int(np.count_nonzero((st >= t_on_ms) & (st < t_off_ms)))
    return 1000.0 * n / (t_off_ms - t_on_ms)


def bisect_rheobase(
    spikes_at: Callable[[float], int], lo_nA: float, hi_nA: float, resolution_nA: float
) -> float:
    """Smallest step current that elicits at least one spike, by bisection (nA).

    ``spikes_at(i)`` returns the number of spikes during a step of ``i`` nA (typically a
    simulation). The bracket is checked first: NaN if ``hi`` gives no spike, ``lo`` if it
    already spikes. Then the bracket is halved until ``hi - lo <= resolution`` and ``hi``
    (a current known to spike) is returned, so the answer overestimates the true threshold
    by less than ``resolution``. Cost: ``2 + ceil(log2((hi - lo)/resolution))`` calls.

    Parameters
    ----------
    spikes_at : callable
        Current (nA) → spike count during the step.
    lo_nA, hi_nA : float
        Bracket (nA), ``lo < hi``.
    resolution_nA : float
        Requested resolution (nA), > 0.
    """
    if not hi_nA > lo_nA:
        raise ValueError(f"need lo_nA < hi_nA, got {lo_nA}, {hi_nA}")
    if not resolution_nA > 0:
        raise ValueError(f"resolution_nA must be > 0, got {resolution_nA}")
    lo, hi = float(lo_nA), float(hi_nA)
    if spikes_at(hi) < 1:
        return float("nan")
    if spikes_at(lo) >= 1:
        return lo
    while hi - lo > resolution_nA:
        mid = 0.5 * (lo + hi)
        if spikes_at(mid) >= 1:
            hi = mid
        else:
            lo = mid
    return hi
