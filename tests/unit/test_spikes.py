"""eFEL spike features on a synthetic spike train with known spikes."""

from __future__ import annotations

import numpy as np
import pytest

from bmtool_lab.analysis.spikes import SPIKE_FEATURES, spike_features

pytestmark = pytest.mark.unit

DT = 0.025
T_ON, T_OFF = 200.0, 800.0
V_BASE = -70.0
# ten spikes in the step with ISIs growing 30, 35, ..., 70 ms (adapting), one rebound after it
PEAKS = np.array([220.0, 250.0, 285.0, 325.0, 370.0, 420.0, 475.0, 535.0, 600.0, 670.0])
REBOUND = 900.0
AHP_MV = 12.0


def spike_train(peaks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """-70 mV baseline, 100 mV Gaussian APs (sigma 0.25 ms), a 12 mV alpha-shaped AHP 4 ms later."""
    t = np.arange(0.0, 1000.0, DT)
    v = np.full(t.size, V_BASE)
    for p in peaks:
        v += 100.0 * np.exp(-0.5 * ((t - p) / 0.25) ** 2)
        s = np.clip(t - p - 1.0, 0.0, None)
        v -= AHP_MV * (s / 3.0) * np.exp(1.0 - s / 3.0)
    return t, v


def test_features_of_a_known_train() -> None:
    t, v = spike_train(np.append(PEAKS, REBOUND))
    f = spike_features(t, v, T_ON, T_OFF)
    assert set(f) == set(SPIKE_FEATURES)
    assert all(isinstance(x, float) for x in f.values())
    isi = np.diff(PEAKS)
    assert f["spike_count"] == 10.0  # the rebound spike after t_off does not count
    assert f["first_spike_latency_ms"] == pytest.approx(PEAKS[0] - T_ON, abs=0.1)
    assert f["isi_mean_ms"] == pytest.approx(isi.mean(), abs=0.1)
    assert f["isi_cv"] == pytest.approx(isi.std(ddof=1) / isi.mean(), rel=1e-2)
    later = isi[1:]  # eFEL's adaptation_index2 skips the first ISI
    adaptation = np.mean(np.diff(later) / (later[1:] + later[:-1]))
    assert f["adaptation_index"] == pytest.approx(adaptation, rel=1e-2)
    assert f["mean_frequency_hz"] == pytest.approx(1000.0 * 10 / (PEAKS[-1] - T_ON), rel=1e-2)
    assert f["ahp_depth_mV"] == pytest.approx(-AHP_MV, abs=0.1)
    # amplitude from eFEL's AP onset (derivative threshold), a little above the baseline
    assert 95.0 < f["ap_amplitude_mV"] < 100.0
    # full width at half height of the Gaussian, within eFEL's 0.1 ms interpolation step
    assert f["ap_half_width_ms"] == pytest.approx(2 * np.sqrt(2 * np.log(2)) * 0.25, abs=0.1)


def test_no_spikes_gives_zero_count_and_nan() -> None:
    t = np.arange(0.0, 1000.0, DT)
    f = spike_features(t, np.full(t.size, V_BASE), T_ON, T_OFF)
    assert f["spike_count"] == 0.0
    assert np.isnan(f["isi_mean_ms"]) and np.isnan(f["ap_amplitude_mV"])


def test_feature_selection_threshold_and_raw_efel_names() -> None:
    t, v = spike_train(PEAKS)
    f = spike_features(t, v, T_ON, T_OFF, ["spike_count", "AP_begin_voltage"])
    assert list(f) == ["spike_count", "AP_begin_voltage"]
    assert f["spike_count"] == 10.0
    assert V_BASE < f["AP_begin_voltage"] < V_BASE + 5.0
    # peaks reach +30 mV: a threshold above them detects nothing
    assert spike_features(t, v, T_ON, T_OFF, ["spike_count"], threshold_mV=40.0)["spike_count"] == 0.0
    with pytest.raises(ValueError, match="unknown feature"):
        spike_features(t, v, T_ON, T_OFF, ["not_a_feature"])
