"""ZAP (chirp) current and the impedance profile it measures (docs/metrics.md §3).

``Z(f) = FFT(v - mean v) / FFT(I - mean I)`` over the chirp window, in mV/nA = MΩ, with the
FFT length padded to a fast size (``scipy.fft.next_fast_len``: an awkward length such as
bmtool's 600 001 points, with a prime factor 1373, costs 20× more). Resonance is the argmax
of ``|Z|`` in ``(f0, f1]``; ``Q = |Z(f_res)| / |Z(lowest f in the band)|``.

A cell "has no resonance" (:func:`is_resonant` false) when ``|Z|`` peaks at the lowest frequency
of the band or ``Q < RESONANCE_MIN_Q``: a low-pass membrane gives Q = 1 exactly, and the
bin-to-bin ripple of an FFT estimate (about 0.5 % on the example cells) makes a falling curve's
largest value land a little above the first bin (Q 1.005) without any real peak.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .traces import ensure_uniform

__all__ = ["RESONANCE_MIN_Q", "ImpedanceResult", "chirp_current", "impedance_profile", "is_resonant"]

#: Smallest Q that counts as a resonance (see the module docstring): 1 % above a flat response.
RESONANCE_MIN_Q = 1.01


def is_resonant(resonance_hz: float, q_factor: float, lowest_hz: float) -> bool:
    """True when the impedance peak is a resonance: above the band's lowest frequency and
    ``q_factor >= RESONANCE_MIN_Q``."""
    return bool(resonance_hz > lowest_hz and q_factor >= RESONANCE_MIN_Q)


def chirp_current(
    t_ms: ArrayLike,
    f0_hz: float,
    f1_hz: float,
    duration_ms: float,
    amp_nA: float,
    kind: Literal["linear", "exponential"] = "linear",
    t_start_ms: float = 0.0,
) -> NDArray[np.float64]:
    """Sinusoid whose frequency sweeps from ``f0`` to ``f1`` over ``duration`` (nA).

    With ``τ = (t - t_start)/1000`` s and ``T = duration/1000`` s, inside
    ``[t_start, t_start + duration]`` (0 elsewhere):

    - linear: ``I = amp·sin(2π(f0·τ + (f1 - f0)·τ²/(2T)))``, instantaneous frequency
      ``f0 + (f1 - f0)·τ/T``;
    - exponential: ``I = amp·sin(2π·f0·T/L·(exp(L·τ/T) - 1))`` with ``L = ln(f1/f0)``,
      instantaneous frequency ``f0·(f1/f0)^(τ/T)`` (needs ``f0, f1 > 0``).

    Parameters
    ----------
    t_ms : array_like
        Times (ms).
    f0_hz, f1_hz : float
        Start and end frequency (Hz).
    duration_ms : float
        Sweep duration (ms), > 0.
    amp_nA : float
        Amplitude (nA).
    kind : {"linear", "exponential"}
    t_start_ms : float
        Sweep onset (ms).

    Returns
    -------
    ndarray
        Current (nA) at ``t_ms``.
    """
    if not duration_ms > 0:
        raise ValueError(f"duration_ms must be > 0, got {duration_ms}")
    t = np.asarray(t_ms, dtype=float)
    tau = (t - t_start_ms) / 1000.0
    T = duration_ms / 1000.0
    if kind == "linear":
        phase = 2 * np.pi * (f0_hz * tau + (f1_hz - f0_hz) * tau**2 / (2 * T))
    elif kind == "exponential":
        if not (f0_hz > 0 and f1_hz > 0):
            raise ValueError("an exponential chirp needs f0_hz > 0 and f1_hz > 0")
        if f0_hz == f1_hz:
            phase = 2 * np.pi * f0_hz * tau
        else:
            L = np.log(f1_hz / f0_hz)
            phase = 2 * np.pi * f0_hz * T / L * np.expm1(L * tau / T)
    else:
        raise ValueError(f"kind must be 'linear' or 'exponential', got {kind!r}")
    inside = (tau >= 0) & (tau <= T)
    return np.where(inside, amp_nA * np.sin(phase), 0.0)


@dataclass(frozen=True)
class ImpedanceResult:
    """Impedance profile in the band ``(f0, f1]``.

    Attributes
    ----------
    freq_hz : ndarray
        Frequencies (Hz), spacing ``1000/(n_fft·dt)``.
    z_mag_MOhm : ndarray
        ``|Z|`` (MΩ).
    phase_rad : ndarray
        Phase of ``Z`` (rad); negative = voltage lags the current.
    resonance_hz : float
        Frequency of the largest ``|Z|`` in the band (Hz).
    q_factor : float
        ``|Z(f_res)| / |Z(lowest f in the band)|`` (1 for a low-pass cell).
    """

    freq_hz: NDArray[np.float64] = field(repr=False)
    z_mag_MOhm: NDArray[np.float64] = field(repr=False)
    phase_rad: NDArray[np.float64] = field(repr=False)
    resonance_hz: float
    q_factor: float

    def to_dict(self) -> dict[str, float]:
        """The scalar results (units in the key names)."""
        return {"resonance_hz": float(self.resonance_hz), "q_factor": float(self.q_factor)}

    @property
    def resonant(self) -> bool:
        """Whether the peak is a resonance (:func:`is_resonant`)."""
        return is_resonant(self.resonance_hz, self.q_factor, float(self.freq_hz[0]))


def impedance_profile(
    t_ms: ArrayLike,
    v_mV: ArrayLike,
    i_nA: ArrayLike,
    f0_hz: float,
    f1_hz: float,
    t_start_ms: float,
    t_stop_ms: float,
    smooth: int | None = None,
) -> ImpedanceResult:
    """Impedance ``Z(f) = V(f)/I(f)`` of a chirp response (MΩ).

    Both signals are cut to ``[t_start, t_stop]`` (``n`` samples), padded to
    ``n_fft = next_fast_len(n)`` samples, their means removed, and transformed with ``rfft``;
    ``Z`` is kept for ``f0 < f <= f1``. The padding takes the recorded samples after
    ``t_stop`` when the trace has them (a few ms more of the same recording) and zeros only
    beyond the end of the trace: zero padding after removing the mean leaks the mean into
    every frequency bin. Choose ``t_stop`` a few membrane time constants after the chirp ends
    so the voltage response is not cut off.

    Parameters
    ----------
    t_ms, v_mV, i_nA : array_like
        Times (ms), membrane potential (mV) and injected current (nA); an irregular (CVODE)
        grid is resampled at 0.025 ms.
    f0_hz, f1_hz : float
        Band of interest (Hz), usually the chirp's start and end frequencies (either order).
    t_start_ms, t_stop_ms : float
        Analysis window (ms).
    smooth : int, optional
        Width (in frequency bins) of a centred moving average applied to complex ``Z``
        before the band is cut (DC bin excluded); edges use the bins available (``None`` or
        1: no smoothing).

    Returns
    -------
    ImpedanceResult
    """
    from scipy.fft import next_fast_len, rfft, rfftfreq

    t, v = ensure_uniform(t_ms, v_mV)
    _, i = ensure_uniform(t_ms, i_nA)
    i0 = int(np.searchsorted(t, t_start_ms, side="left"))
    n = int(np.searchsorted(t, t_stop_ms, side="right")) - i0
    if n < 8:
        raise ValueError("the analysis window holds fewer than 8 samples")
    n_fft = next_fast_len(n, real=True)
    # Fill the padding with the recorded samples that follow t_stop when there are any: with
    # zeros, the removed mean leaks into every bin (3-6 % error on |Z| for an exponential chirp).
    n_data = min(n_fft, t.size - i0)
    vw, iw = v[i0 : i0 + n_data], i[i0 : i0 + n_data]
    dt_s = float(t[1] - t[0]) / 1000.0
    z = rfft(vw - vw.mean(), n_fft) / rfft(iw - iw.mean(), n_fft)
    freq = rfftfreq(n_fft, dt_s)
    if smooth is not None and smooth > 1:
        # not the DC bin: after removing the means it is 0/0
        z[1:] = _moving_average(z[1:], int(smooth))
    lo, hi = min(f0_hz, f1_hz), max(f0_hz, f1_hz)
    band = (freq > lo) & (freq <= hi)
    if not band.any():
        raise ValueError(f"no frequency bin in ({lo}, {hi}] Hz; the window is too short")
    freq, z = freq[band], z[band]
    mag = np.abs(z)
    k = int(np.argmax(mag))
    return ImpedanceResult(
        freq_hz=freq,
        z_mag_MOhm=mag,
        phase_rad=np.angle(z),
        resonance_hz=float(freq[k]),
        q_factor=float(mag[k] / mag[0]),
    )


def _moving_average(z: NDArray[np.complex128], width: int) -> NDArray[np.complex128]:
    """Centred moving average; near the edges the mean of the bins that exist (no droop)."""
    kernel = np.ones(width)
    total = np.convolve(z, kernel, mode="same")
    count = np.convolve(np.ones(z.size), kernel, mode="same")
    return total / count
