"""Chirp current and impedance profile against linear systems with known Z(f) (metrics.md §3)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.fft import next_fast_len
from scipy.signal import bilinear, lfilter

from bmtool_lab.analysis.impedance import chirp_current, impedance_profile

pytestmark = pytest.mark.unit

DT = 0.025  # ms
FS = 1000.0 / DT  # Hz
T_ON, DUR = 100.0, 5000.0
F0, F1 = 0.5, 100.0


def respond(b_s: list[float], a_s: list[float], i_na: np.ndarray) -> np.ndarray:
    """Voltage (mV) of a linear membrane Z(s) = b(s)/a(s) (MΩ, s in rad/s) at rest -65 mV."""
    b_z, a_z = bilinear(b_s, a_s, fs=FS)
    return lfilter(b_z, a_z, i_na) - 65.0


def zap(kind: str) -> tuple[np.ndarray, np.ndarray]:
    t = np.arange(0.0, T_ON + DUR + 200.0, DT)
    return t, chirp_current(t, F0, F1, DUR, 0.02, kind, T_ON)


def test_chirp_current_sweeps_the_band() -> None:
    t, lin = zap("linear")
    _, expo = zap("exponential")
    assert np.all(lin[t < T_ON] == 0) and np.all(lin[t > T_ON + DUR] == 0)
    assert np.abs(lin).max() == pytest.approx(0.02, rel=1e-3)
    # number of cycles = total phase / 2π: (f0 + f1)/2·T for linear, f0·T·(f1/f0 - 1)/ln(f1/f0)
    cycles_lin = (F0 + F1) / 2 * DUR / 1000
    cycles_exp = F0 * DUR / 1000 * (F1 / F0 - 1) / np.log(F1 / F0)
    for current, cycles in ((lin, cycles_lin), (expo, cycles_exp)):
        ups = np.count_nonzero((current[:-1] < 0) & (current[1:] >= 0))
        assert abs(ups - cycles) <= 1
    with pytest.raises(ValueError):
        chirp_current(t, 0.0, F1, DUR, 0.02, "exponential", T_ON)


@pytest.mark.parametrize("kind", ["linear", "exponential"])
@pytest.mark.parametrize("smooth", [None, 9])
def test_low_pass_membrane(kind: str, smooth: int | None) -> None:
    R, tau = 120.0, 0.015  # MΩ, s
    t, i = zap(kind)
    v = respond([R], [tau, 1.0], i)
    res = impedance_profile(t, v, i, F0, F1, T_ON, T_ON + DUR + 100.0, smooth=smooth)
    z = R / np.sqrt(1 + (2 * np.pi * res.freq_hz * tau) ** 2)
    np.testing.assert_allclose(res.z_mag_MOhm, z, rtol=0.02)
    np.testing.assert_allclose(res.phase_rad, -np.arctan(2 * np.pi * res.freq_hz * tau), atol=0.02)
    assert res.freq_hz[0] > F0 and res.freq_hz[-1] <= F1
    assert res.resonance_hz == res.freq_hz[0]  # a low-pass cell peaks at the lowest frequency
    assert res.q_factor == pytest.approx(1.0)


def test_fft_length_is_padded_to_a_fast_size() -> None:
    t, i = zap("linear")
    v = respond([100.0], [0.01, 1.0], i)
    res = impedance_profile(t, v, i, F0, F1, T_ON, T_ON + DUR)
    n = int(round(DUR / DT)) + 1
    assert res.freq_hz[1] - res.freq_hz[0] == pytest.approx(FS / next_fast_len(n, real=True))


def test_resonant_membrane() -> None:
    # τ dv/dt = -v - g·w + R·I,  τw dw/dt = v - w  (an h-like restoring current)
    R, tau, tau_w, g = 100.0, 0.010, 0.100, 2.0
    b_s = [R * tau_w, R]
    a_s = [tau * tau_w, tau + tau_w, 1.0 + g]
    f = np.linspace(F0, F1, 200_001)
    s = 2j * np.pi * f
    z_exact = np.abs(np.polyval(b_s, s) / np.polyval(a_s, s))
    f_res, q = f[z_exact.argmax()], z_exact.max()
    t, i = zap("exponential")
    v = respond(b_s, a_s, i)
    res = impedance_profile(t, v, i, F0, F1, T_ON, T_ON + DUR + 100.0)
    bin_hz = res.freq_hz[1] - res.freq_hz[0]
    assert res.resonance_hz == pytest.approx(f_res, abs=bin_hz)
    assert 2.0 < res.resonance_hz < 20.0
    z_low = np.abs(np.polyval(b_s, 2j * np.pi * res.freq_hz[0]) / np.polyval(a_s, 2j * np.pi * res.freq_hz[0]))
    assert res.q_factor == pytest.approx(q / z_low, rel=0.02)
    assert res.q_factor > 1.1
    assert res.to_dict() == {"resonance_hz": res.resonance_hz, "q_factor": res.q_factor}
