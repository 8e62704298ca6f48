"""Trains and STP against the Tsodyks–Markram recursion (metrics.md §2)."""

from __future__ import annotations

import numpy as np
import pytest

from bmtool_lab.analysis.stp import (
    pulse_amplitudes,
    stp_indices,
    train_pulse_times,
    tsodyks_markram_release,
)

pytestmark = pytest.mark.unit

DT = 0.025
TAU1, TAU2 = 0.5, 9.0
HOLDING, SCALE = -0.03, -0.2  # voltage-clamp holding current and inward EPSC scale (nA)


def exp2syn(t: np.ndarray, tau1: float = TAU1, tau2: float = TAU2) -> np.ndarray:
    tc = np.clip(t, 0.0, None)
    return np.where(t >= 0, np.exp(-tc / tau2) - np.exp(-tc / tau1), 0.0)


G_MAX = float(exp2syn(np.array(TAU1 * TAU2 / (TAU2 - TAU1) * np.log(TAU2 / TAU1))))


def kernel(latency: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Single-event clamp current with its event at t_k = 0 and 10 ms of baseline before it."""
    t_k = np.arange(-10.0, 200.0, DT)
    return t_k, HOLDING + SCALE * exp2syn(t_k - latency)


def linear_train(pulses: np.ndarray, release: np.ndarray, latency: float = 0.0):
    """Voltage-clamp train: responses sum linearly, increment of pulse n ∝ P_n."""
    t = np.arange(0.0, pulses[-1] + 250.0, DT)
    x = HOLDING + SCALE * sum(p * exp2syn(t - ti - latency) for p, ti in zip(release, pulses, strict=True))
    return t, x


SYNAPSES = {
    "depression": (0.5, 300.0, 0.0),
    "facilitation": (0.1, 0.0, 500.0),
    "mixed": (0.42, 125.0, 800.0),
}


def test_train_pulse_times() -> None:
    pts = train_pulse_times(50.0, delay_ms=250.0, t_start_ms=100.0)
    assert pts.size == 12
    np.testing.assert_allclose(pts[:8], 100.0 + 20.0 * np.arange(8))
    assert pts[8] - pts[7] == pytest.approx(250.0)
    np.testing.assert_allclose(np.diff(pts[8:]), 20.0)
    assert train_pulse_times(10.0, n_train=5, n_rec=0).size == 5


def test_release_recursion_closed_forms() -> None:
    pts = np.array([0.0, 20.0, 45.0])
    U, D, F = 0.3, 200.0, 400.0
    p = tsodyks_markram_release(pts, U, D, F)
    # by hand: pulse 1 u = U, R = 1
    u1, r1 = U, 1.0
    u2 = u1 * np.exp(-20 / F) + U * (1 - u1 * np.exp(-20 / F))
    r2 = 1 - (1 - (r1 - u1 * r1)) * np.exp(-20 / D)
    u3 = u2 * np.exp(-25 / F) + U * (1 - u2 * np.exp(-25 / F))
    r3 = 1 - (1 - (r2 - u2 * r2)) * np.exp(-25 / D)
    np.testing.assert_allclose(p, [u1 * r1, u2 * r2, u3 * r3], rtol=1e-12)
    # F = 0: u = U always; D = 0: R = 1 always
    dep = tsodyks_markram_release(pts, 0.5, 100.0, 0.0)
    assert dep[1] == pytest.approx(0.5 * (1 - 0.5 * np.exp(-20 / 100)))
    fac = tsodyks_markram_release(pts, 0.2, 0.0, 100.0)
    assert fac[1] == pytest.approx(0.2 * np.exp(-0.2) + 0.2 * (1 - 0.2 * np.exp(-0.2)))
    np.testing.assert_allclose(tsodyks_markram_release(pts, 0.7, 0.0, 0.0), 0.7)


@pytest.mark.parametrize("synapse", list(SYNAPSES))
@pytest.mark.parametrize("delay_ms", [125.0, 250.0, 1000.0])
@pytest.mark.parametrize("freq_hz", [30.0, 100.0])  # 30 Hz puts the pulses between samples
def test_deconvolve_amplitudes_follow_release(synapse: str, delay_ms: float, freq_hz: float) -> None:
    U, D, F = SYNAPSES[synapse]
    pts = train_pulse_times(freq_hz, delay_ms=delay_ms)
    release = tsodyks_markram_release(pts, U, D, F)
    t, x = linear_train(pts, release)

    amps = pulse_amplitudes(t, x, pts, method="deconvolve", kernel=kernel())

    ratio = amps / release
    np.testing.assert_allclose(ratio / ratio[0], 1.0, rtol=5e-3)
    # and on the absolute scale: A_n = |scale|·P_n·max(g)
    np.testing.assert_allclose(amps, -SCALE * release * G_MAX, rtol=5e-3)
    expected = stp_indices(release)
    for key, value in stp_indices(amps).items():
        assert value == pytest.approx(expected[key], rel=5e-3, abs=1e-4), key


def test_indices_from_the_recursion_mean_what_they_say() -> None:
    pts = train_pulse_times(50.0)
    dep = stp_indices(tsodyks_markram_release(pts, 0.5, 300.0, 0.0))
    fac = stp_indices(tsodyks_markram_release(pts, 0.1, 0.0, 500.0))
    assert dep["simple_ppr"] < 1 and dep["ppr"] < 0 and dep["induction"] < 0
    assert fac["simple_ppr"] > 1 and fac["ppr"] > 0 and fac["induction"] > 0
    # depressed synapse partly recovers after 250 ms: later pulses still below the first ones
    assert dep["recovery"] < 0


def test_stp_indices_formulas() -> None:
    a = np.arange(1.0, 13.0)
    n = np.percentile(a, 90)  # 10.9 with numpy's linear interpolation
    assert n == pytest.approx(10.9)
    got = stp_indices(a)
    assert got["simple_ppr"] == pytest.approx(2.0)
    assert got["ppr"] == pytest.approx(1.0 / 10.9)
    assert got["induction"] == pytest.approx((7.0 - 1.0) / 10.9)
    assert got["recovery"] == pytest.approx((10.5 - 2.5) / 10.9)
    first = stp_indices(a, normaliser="first")
    assert first["ppr"] == pytest.approx(1.0)
    assert first["induction"] == pytest.approx(6.0)
    with pytest.raises(ValueError):
        stp_indices(a[:11])


def test_methods_agree_when_responses_do_not_overlap() -> None:
    pts = train_pulse_times(5.0)  # 200 ms apart: each response has decayed (exp(-200/9))
    release = tsodyks_markram_release(pts, 0.42, 125.0, 800.0)
    t, x = linear_train(pts, release)
    expected = -SCALE * release * G_MAX
    for method in ("raw", "prepulse"):
        np.testing.assert_allclose(pulse_amplitudes(t, x, pts, method=method), expected, rtol=1e-3)
    np.testing.assert_allclose(pulse_amplitudes(t, x, pts, kernel=kernel()), expected, rtol=1e-3)


def test_raw_counts_summation_as_amplitude() -> None:
    pts = train_pulse_times(100.0)
    release = tsodyks_markram_release(pts, 0.5, 300.0, 0.0)
    t, x = linear_train(pts, release)
    raw = pulse_amplitudes(t, x, pts, method="raw")
    pre = pulse_amplitudes(t, x, pts, method="prepulse")
    dec = pulse_amplitudes(t, x, pts, kernel=kernel())
    assert raw[0] == pytest.approx(dec[0], rel=1e-3)  # nothing to sum onto yet
    # pulse 2 sits on pulse 1's tail (g(10 ms) is about a third of the peak)
    assert raw[1] > 1.3 * dec[1]
    # prepulse removes the offset but the earlier response keeps decaying under the new one
    assert pre[1] < 0.95 * dec[1]


def test_netcon_delay_shifts_the_windows() -> None:
    pts = train_pulse_times(20.0)
    release = tsodyks_markram_release(pts, 0.42, 125.0, 800.0)
    t, x = linear_train(pts, release, latency=3.0)
    expected = -SCALE * release * G_MAX
    shifted = pulse_amplitudes(t, x, pts, method="prepulse", netcon_delay_ms=3.0)
    np.testing.assert_allclose(shifted, expected, rtol=2e-3)
    # the kernel carries the delay for deconvolution
    dec = pulse_amplitudes(t, x, pts, kernel=kernel(latency=3.0))
    np.testing.assert_allclose(dec, expected, rtol=1e-3)


def test_deconvolve_needs_a_kernel() -> None:
    pts = train_pulse_times(20.0)
    t, x = linear_train(pts, np.ones(pts.size))
    with pytest.raises(ValueError, match="kernel"):
        pulse_amplitudes(t, x, pts)
