"""F–I curve helpers: step currents, spike detection, firing rate, rheobase by bisection
(:func:`bisect_rheobase`, serial) or on a grid (:class:`RheobaseSearch`, serial or parallel).

As docs/metrics.md §3 defines: currents ``I_k = i_start + k·Δi`` for ``k = 0..K`` with
``K = round((i_stop - i_start)/Δi)`` (inclusive: bmtool's float floor division drops the last
step); the rate counts upward threshold crossings inside the step window only.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .traces import crossing_times

__all__ = ["RheobaseSearch", "bisect_rheobase", "fi_currents", "firing_rate_hz", "spike_times"]


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


class RheobaseSearch:
    """Rheobase in a bracket, by bisection on a grid, serial or in parallel.

    ``lo`` is known silent and ``hi`` known spiking (the sweep's adjacent steps). The bracket is
    cut into ``n = ceil((hi - lo)/resolution)`` equal intervals (spacing <= resolution); the
    answer is the smallest grid current that spikes, next to a silent one, so it overestimates
    the threshold by less than ``resolution``, as :func:`bisect_rheobase` does. Because the
    grid is fixed, the answer does not depend on the order in which grid points are tested:
    one probe at a time (binary search, ``ceil(log2 n)`` probes) or several at once (one per
    worker; ``k`` probes cut the bracket into ``k + 1``) give the same value.

    Protocol: :meth:`next` (a grid index to test, given the ones in flight), :meth:`current`
    (its current), :meth:`report` (whether it spiked), until :attr:`done`; :attr:`value`.
    """

    def __init__(self, lo_nA: float, hi_nA: float, resolution_nA: float):
        if not hi_nA > lo_nA:
            raise ValueError(f"need lo_nA < hi_nA, got {lo_nA}, {hi_nA}")
        if not resolution_nA > 0:
            raise ValueError(f"resolution_nA must be > 0, got {resolution_nA}")
        self.lo_nA, self.hi_nA = float(lo_nA), float(hi_nA)
        self.n = max(1, math.ceil((self.hi_nA - self.lo_nA) / resolution_nA - 1e-9))
        self.lo_k, self.hi_k = 0, self.n  # grid indices: silent, spiking
        self.tested: list[tuple[float, bool]] = []

    def current(self, k: int) -> float:
        """The current (nA) of grid index ``k`` (0: lo, n: hi)."""
        return self.hi_nA if k == self.n else self.lo_nA + (self.hi_nA - self.lo_nA) * k / self.n

    @property
    def done(self) -> bool:
        return self.hi_k - self.lo_k <= 1

    @property
    def value(self) -> float:
        """The smallest spiking grid current found so far (the rheobase once :attr:`done`)."""
        return self.current(self.hi_k)

    def next(self, in_flight: Collection[int] = ()) -> int | None:
        """A grid index to test: the middle of the widest untested gap of the bracket, the
        indices in flight counting as tested; None when every gap is closed."""
        pts = sorted({self.lo_k, self.hi_k, *(k for k in in_flight if self.lo_k < k < self.hi_k)})
        a, b = max(zip(pts, pts[1:], strict=False), key=lambda ab: (ab[1] - ab[0], -ab[0]))
        return (a + b) // 2 if b - a >= 2 else None

    def report(self, k: int, spiking: bool) -> None:
        """Grid index ``k`` spiked (at least one spike in the step) or not."""
        self.tested.append((self.current(k), bool(spiking)))
        if spiking:
            self.hi_k = min(self.hi_k, k)
        else:
            self.lo_k = max(self.lo_k, k)

    def obsolete(self, in_flight: Collection[int]) -> list[int]:
        """Indices in flight outside the bracket: their answer no longer matters."""
        return [k for k in in_flight if not self.lo_k < k < self.hi_k]
