"""Trains and short-term plasticity (docs/metrics.md §2).

Protocol: ``n_train`` pulses at ``freq_hz``, then ``n_rec`` recovery pulses at the same
frequency, the first one ``delay_ms`` after the last train pulse, all from one stimulus
source. Per-pulse amplitudes come from :func:`pulse_amplitudes`; the plasticity indices
from :func:`stp_indices`; :func:`tsodyks_markram_release` gives the closed-form release
fractions that voltage-clamp amplitudes must be proportional to.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .traces import ensure_uniform, window_mean

__all__ = ["poisson_pulse_times", "pulse_amplitudes", "stp_indices", "train_pulse_times", "tsodyks_markram_release"]


def train_pulse_times(
    freq_hz: float,
    n_train: int = 8,
    n_rec: int = 4,
    delay_ms: float = 250.0,
    t_start_ms: float = 100.0,
) -> NDArray[np.float64]:
    """Pulse times of a train plus recovery protocol.

    ``t_k = t_start + k·T`` for ``k < n_train`` and
    ``t_{n_train + j} = t_start + (n_train - 1)·T + delay + j·T`` for ``j < n_rec``,
    with ``T = 1000 / freq_hz`` ms.

    Parameters
    ----------
    freq_hz : float
        Pulse frequency (Hz), > 0.
    n_train, n_rec : int
        Number of train and recovery pulses.
    delay_ms : float
        Interval between the last train pulse and the first recovery pulse (ms).
    t_start_ms : float
        Time of the first pulse (ms).

    Returns
    -------
    ndarray
        ``n_train + n_rec`` increasing times (ms).
    """
    if not freq_hz > 0:
        raise ValueError(f"freq_hz must be > 0, got {freq_hz}")
    if n_train < 1 or n_rec < 0:
        raise ValueError(f"need n_train >= 1 and n_rec >= 0, got {n_train}, {n_rec}")
    period = 1000.0 / freq_hz
    train = t_start_ms + period * np.arange(n_train)
    rec = train[-1] + delay_ms + period * np.arange(n_rec)
    return np.concatenate([train, rec])


def poisson_pulse_times(rate_hz: float, duration_ms: float, seed: int = 0, t_start_ms: float = 0.0
                        ) -> NDArray[np.float64]:
    """Event times (ms) of a homogeneous Poisson process of ``rate_hz`` Hz on
    ``[t_start_ms, t_start_ms + duration_ms)``, reproducible: ``numpy.random.default_rng(seed)``
    draws the count (Poisson, mean ``rate·duration``) and then the times (uniform, sorted).
    Events may be arbitrarily close; exact duplicates (probability 0) are dropped.
    """
    if not (rate_hz > 0 and np.isfinite(rate_hz)):
        raise ValueError(f"rate_hz must be a finite value > 0 Hz, got {rate_hz}")
    if not (duration_ms > 0 and np.isfinite(duration_ms)):
        raise ValueError(f"duration_ms must be a finite value > 0 ms, got {duration_ms}")
    rng = np.random.default_rng(int(seed))
    n = int(rng.poisson(rate_hz * duration_ms / 1000.0))
    times = np.unique(rng.uniform(0.0, duration_ms, n))  # sorted
    return t_start_ms + times


def tsodyks_markram_release(
    pulse_times_ms: ArrayLike, U: float, D_ms: float, F_ms: float
) -> NDArray[np.float64]:
    """Release fractions ``P_n`` of the Tsodyks–Markram model with facilitation and depression.

    Starting from ``u = 0``, ``R = 1``, for each pulse (``Δ`` = interval to the previous one):

    - ``u ← u·exp(-Δ/F)`` then ``u ← u + U·(1 - u)``  (``F = 0``: ``u = U``);
    - ``R ← 1 - (1 - R)·exp(-Δ/D)``  (``D = 0``: ``R = 1``);
    - ``P_n = u·R``, then ``R ← R - P_n``.

    The conductance increment of pulse n is proportional to ``P_n``.

    Parameters
    ----------
    pulse_times_ms : array_like
        Increasing pulse times (ms).
    U : float
        Utilisation of synaptic efficacy (Use), in (0, 1].
    D_ms, F_ms : float
        Recovery-from-depression (Dep) and facilitation (Fac) time constants (ms), >= 0.

    Returns
    -------
    ndarray
        ``P_n`` for every pulse (dimensionless).
    """
    times = np.asarray(pulse_times_ms, dtype=float)
    if D_ms < 0 or F_ms < 0:
        raise ValueError("D_ms and F_ms must be >= 0")
    u, R = 0.0, 1.0
    out = np.empty(times.size)
    for n, tn in enumerate(times):
        gap = tn - times[n - 1] if n > 0 else np.inf  # state starts at rest
        u = U if F_ms == 0 else u * np.exp(-gap / F_ms) + U * (1.0 - u * np.exp(-gap / F_ms))
        R = 1.0 if D_ms == 0 else 1.0 - (1.0 - R) * np.exp(-gap / D_ms)
        out[n] = u * R
        R -= u * R
    return out


AmplitudeMethod = Literal["deconvolve", "prepulse", "raw"]


def pulse_amplitudes(
    t: ArrayLike,
    x: ArrayLike,
    pulse_times: ArrayLike,
    method: AmplitudeMethod = "deconvolve",
    kernel: tuple[ArrayLike, ArrayLike] | None = None,
    baseline_ms: float = 5.0,
    *,
    netcon_delay_ms: float = 0.0,
) -> NDArray[np.float64]:
    """Amplitude of the response to every pulse of a train, in the unit of ``x`` (>= 0).

    ``b`` = mean of ``x`` over ``baseline_ms`` before the first pulse; ``s`` = sign of the
    largest ``x - b`` after it; ``y = s·(x - b)``.

    - ``"deconvolve"`` (default): with the single-event kernel ``k`` (its baseline removed),
      solve ``x(t) - b ≈ Σ_i a_i·k(t - t_i)`` by linear least squares and return
      ``A_i = a_i·max(s_k·k)``, ``s_k`` the kernel's sign (so ``A_i = a_i·max(k)`` for an
      upward kernel and ``A_i > 0`` whenever pulse i has the kernel's sign). Exact when
      responses sum linearly (voltage clamp); a good approximation otherwise.
    - ``"prepulse"``: ``max y`` over ``[t_i, t_{i+1})`` minus ``y`` at the last sample at or
      before ``t_i`` (the value just before pulse i arrives).
    - ``"raw"`` (bmtool): ``max y`` over ``[t_i, t_{i+1})``; the tails of earlier responses
      count as amplitude.

    For ``"prepulse"``/``"raw"`` the windows are shifted by ``netcon_delay_ms`` (as bmtool
    does) and the last one is as long as the previous interval, clipped to the trace.

    Parameters
    ----------
    t, x : array_like
        Times (ms) and trace (nA, mV, ...). An irregular (CVODE) grid is resampled at 0.025 ms.
    pulse_times : array_like
        Times the stimulus delivers each pulse (ms), increasing.
    method : {"deconvolve", "prepulse", "raw"}
    kernel : (t_k, k), required for ``"deconvolve"``
        Single-event response simulated with the same parameters, its event delivered at
        ``t_k = 0`` (ms); samples at ``t_k < 0`` serve as its baseline (else ``k[0]``). It
        should last until the response has decayed (it is taken as 0 afterwards).
    baseline_ms : float
        Length of the baselines before the first pulse and before ``t_k = 0`` (ms).
    netcon_delay_ms : float
        Stimulus-to-synapse delay for the ``"prepulse"``/``"raw"`` windows (ms, keyword only).

    Returns
    -------
    ndarray
        One amplitude per pulse (unit of ``x``).
    """
    tt, xx = ensure_uniform(t, x)
    pts = np.asarray(pulse_times, dtype=float)
    if pts.ndim != 1 or pts.size == 0 or np.any(np.diff(pts) <= 0):
        raise ValueError("pulse_times must be a non-empty increasing 1-D array")
    b = window_mean(tt, xx, pts[0] - baseline_ms, pts[0])
    after = tt >= pts[0]
    dev = xx[after] - b
    if method == "deconvolve":
        if kernel is None:
            raise ValueError("method='deconvolve' needs kernel=(t_k, k), the single-event response")
        return _deconvolve(tt, xx - b, pts, kernel, baseline_ms)
    if method not in ("prepulse", "raw"):
        raise ValueError(f"method must be 'deconvolve', 'prepulse' or 'raw', got {method!r}")
    s = 1.0 if dev.size == 0 or dev[np.argmax(np.abs(dev))] >= 0 else -1.0
    y = s * (xx - b)
    starts = pts + netcon_delay_ms
    last = starts[-1] + (starts[-1] - starts[-2] if starts.size > 1 else tt[-1] - starts[-1])
    ends = np.append(starts[1:], min(last, tt[-1] + 0.5 * (tt[1] - tt[0])))
    amps = np.empty(pts.size)
    for i, (t0, t1) in enumerate(zip(starts, ends, strict=True)):
        seg = y[(tt >= t0) & (tt < t1)]
        peak = float(seg.max()) if seg.size else float("nan")
        if method == "prepulse":
            # last sample at or before the arrival: interpolating to t0 would mix in the response
            peak -= float(y[max(int(np.searchsorted(tt, t0, side="right")) - 1, 0)])
        amps[i] = peak
    return amps


def _deconvolve(
    t: NDArray[np.float64],
    dev: NDArray[np.float64],
    pulse_times: NDArray[np.float64],
    kernel: tuple[ArrayLike, ArrayLike],
    baseline_ms: float,
) -> NDArray[np.float64]:
    """Least-squares weights of shifted kernels fitted to ``dev = x - b``, times ``max(s_k·k)``.

    Each shifted kernel is non-zero only on ``[t_i, t_i + kernel length]``, so the Gram matrix
    is built from the overlapping stretches only: no dense (samples × pulses) matrix, and the
    12×12 solve is negligible even for a 10 s train at dt = 0.025 ms.
    """
    t_k = np.asarray(kernel[0], dtype=float)
    k = np.asarray(kernel[1], dtype=float)
    if t_k.ndim != 1 or t_k.shape != k.shape or t_k.size < 2:
        raise ValueError("kernel must be (t_k, k): two 1-D arrays of one length")
    pre = t_k < 0
    k_base = window_mean(t_k, k, -baseline_ms, 0.0) if pre.any() else float(k[0])
    post = t_k >= 0
    t_k, k = t_k[post], k[post] - k_base
    s_k = 1.0 if k[np.argmax(np.abs(k))] >= 0 else -1.0
    k_peak = float(np.max(s_k * k))
    if not k_peak > 0:
        raise ValueError("the kernel has no response")
    k_len = t_k[-1]

    n = pulse_times.size
    spans, cols = [], []
    for ti in pulse_times:
        i0 = int(np.searchsorted(t, ti, side="left"))
        i1 = int(np.searchsorted(t, ti + k_len, side="right"))
        spans.append((i0, i1))
        cols.append(np.interp(t[i0:i1] - ti, t_k, k))
    gram = np.zeros((n, n))
    rhs = np.empty(n)
    for i in range(n):
        a0, a1 = spans[i]
        rhs[i] = cols[i] @ dev[a0:a1]
        for j in range(i, n):
            b0, b1 = spans[j]
            lo, hi = max(a0, b0), min(a1, b1)
            if hi > lo:
                gram[i, j] = gram[j, i] = cols[i][lo - a0 : hi - a0] @ cols[j][lo - b0 : hi - b0]
    # lstsq rather than solve: a pulse outside the trace leaves a zero row
    weights = np.linalg.lstsq(gram, rhs, rcond=None)[0]
    # dev = x - b is fitted unflipped, so a train of the kernel's sign gives weights > 0
    return weights * k_peak


Normaliser = Literal["p90", "first"]


def stp_indices(
    amplitudes: ArrayLike, n_train: int = 8, n_rec: int = 4, normaliser: Normaliser = "p90"
) -> dict[str, float]:
    """Paired-pulse ratio, induction and recovery of a train + recovery protocol.

    With amplitudes ``A_1..A_{n_train+n_rec}`` and normaliser ``N`` (``"p90"``: the 90th
    percentile of all amplitudes, numpy's linear interpolation, as bmtool; ``"first"``: A_1):

    - ``simple_ppr = A_2 / A_1``
    - ``ppr = (A_2 - A_1) / N``
    - ``induction = (mean(A_{n_train-2} .. A_{n_train}) - A_1) / N`` (A_6..A_8 by default)
    - ``recovery = (mean(recovery pulses) - mean(A_1 .. A_{n_rec})) / N``

    Positive ppr / induction (simple_ppr > 1) means facilitation.

    Parameters
    ----------
    amplitudes : array_like
        Per-pulse amplitudes (any unit; the indices are dimensionless).
    n_train, n_rec : int
        Number of train and recovery pulses (``n_train >= 3``).
    normaliser : {"p90", "first"}

    Returns
    -------
    dict
        Keys ``simple_ppr``, ``ppr``, ``induction``, ``recovery`` (floats; ``recovery`` is NaN
        when ``n_rec == 0``).
    """
    a = np.asarray(amplitudes, dtype=float)
    if n_train < 3 or a.size != n_train + n_rec:
        raise ValueError(f"need n_train >= 3 and {n_train}+{n_rec} amplitudes, got {a.size}")
    if normaliser == "p90":
        norm = float(np.percentile(a, 90))
    elif normaliser == "first":
        norm = float(a[0])
    else:
        raise ValueError(f"normaliser must be 'p90' or 'first', got {normaliser!r}")
    with np.errstate(divide="ignore", invalid="ignore"):
        recovery = (a[n_train:].mean() - a[:n_rec].mean()) / norm if n_rec > 0 else float("nan")
        return {
            "simple_ppr": float(a[1] / a[0]),
            "ppr": float((a[1] - a[0]) / norm),
            "induction": float((a[n_train - 3 : n_train].mean() - a[0]) / norm),
            "recovery": float(recovery),
        }
