"""The synapse tuner's Poisson protocol with real NEURON: reproducible seeded event times, the
requested rate, Tsodyks–Markram release fractions recovered by deconvolution at irregular
times, and the dashboard's "poisson" kind."""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest

from bmtool_lab.analysis.stp import poisson_pulse_times, tsodyks_markram_release
from bmtool_lab.tuning.synapse import PoissonResult, SynapseTuner, TunerError

pytestmark = pytest.mark.sim


@pytest.fixture(scope="module")
def exc2pv(tmp_path_factory):
    """The example network's Exc2PV (Exp2SynSTP, depressing: Use 0.5, Dep 300 ms, Fac 0)."""
    from bmtool_lab.examples import build_example

    cfg = build_example(tmp_path_factory.mktemp("poisson") / "example_network")
    tn = SynapseTuner(cfg, connection="Exc2PV")
    yield tn
    tn.close()


def test_poisson_times_are_seeded_and_at_the_requested_rate():
    a = poisson_pulse_times(20.0, 2000.0, seed=1, t_start_ms=300.0)
    np.testing.assert_array_equal(a, poisson_pulse_times(20.0, 2000.0, seed=1, t_start_ms=300.0))
    assert not np.array_equal(a, poisson_pulse_times(20.0, 2000.0, seed=2, t_start_ms=300.0))
    assert np.all(np.diff(a) > 0) and a[0] >= 300.0 and a[-1] < 2300.0
    n = poisson_pulse_times(20.0, 100_000.0, seed=7).size  # expected 2000 events, sd ≈ 45
    assert abs(n - 2000) < 4 * math.sqrt(2000)
    with pytest.raises(ValueError, match="rate_hz"):
        poisson_pulse_times(0.0, 100.0)


def test_same_seed_gives_identical_times_and_metrics(exc2pv):
    a = exc2pv.run_poisson(rate_hz=20, duration_ms=2000, seed=1)
    b = exc2pv.run_poisson(rate_hz=20, duration_ms=2000, seed=1)
    assert isinstance(a, PoissonResult) and a.kind == "poisson"
    np.testing.assert_array_equal(a.pulse_times_ms, b.pulse_times_ms)
    assert a.metrics.keys() == b.metrics.keys()
    for key, value in a.metrics.items():
        np.testing.assert_allclose(b.metrics[key], value, rtol=1e-9, err_msg=key)
    c = exc2pv.run_poisson(rate_hz=20, duration_ms=2000, seed=2)
    assert not np.array_equal(a.pulse_times_ms, c.pulse_times_ms)

    m, p = a.metrics, a.protocol
    n = m["n_events"]
    assert n == a.pulse_times_ms.size == len(a.amplitudes) == len(m["amplitudes"])
    assert np.all((a.pulse_times_ms >= p.t_start_ms) & (a.pulse_times_ms < p.t_start_ms + 2000.0))
    assert m["mean_rate_hz"] == pytest.approx(n / 2.0)
    assert abs(m["mean_rate_hz"] - 20.0) < 4 * math.sqrt(20.0 / 2.0)  # Poisson sd of the rate: sqrt(r/T)
    assert a.units["mean_response"] == a.units["peak"] == a.units["amplitude_mean"] == "nA"
    assert m["mean_response"] < 0 < m["peak"]  # inward EPSCs under voltage clamp
    assert m["peak"] >= abs(m["mean_response"])
    amps = np.asarray(m["amplitudes"])
    assert m["amplitude_mean"] == pytest.approx(amps.mean())
    assert m["amplitude_cv"] == pytest.approx(amps.std() / amps.mean())
    k = math.ceil(0.2 * n)
    assert m["steady_state_ratio"] == pytest.approx(amps[-k:].mean() / amps[0])
    assert a.info["n_netcons_to_synapse"] == 1  # the train's single NetCon path


def test_deconvolved_amplitudes_follow_tsodyks_markram(exc2pv):
    params = exc2pv.params
    U, D, F = params["Use"], params["Dep"], params["Fac"]
    assert F == 0 and D > 0  # depressing
    for seed in (1, 3):
        res = exc2pv.run_poisson(rate_hz=20, duration_ms=2000, seed=seed, clamp="voltage")
        P = tsodyks_markram_release(res.pulse_times_ms, U, D, F)
        np.testing.assert_allclose(res.amplitudes / res.amplitudes[0], P / P[0], rtol=0.01)
        n_last = math.ceil(0.2 * P.size)
        assert res.metrics["steady_state_ratio"] == pytest.approx(P[-n_last:].mean() / P[0], rel=0.01)
        assert res.metrics["steady_state_ratio"] < 0.6  # depression at 20 Hz


def test_poisson_protocol_validation(exc2pv):
    with pytest.raises(TunerError, match="poisson_rate_hz"):
        exc2pv.run_poisson(rate_hz=0)
    with pytest.raises(TunerError, match="seed"):
        exc2pv.run_poisson(seed=-1)
    with pytest.raises(TunerError, match="'poisson'"):
        exc2pv.submit("burst")


def test_dashboard_runs_the_poisson_kind(exc2pv):
    pytest.importorskip("ipywidgets")
    got = threading.Event()
    seen: list = []

    def listener(event, payload):
        if event == "result" and getattr(payload, "kind", None) == "poisson":
            seen.append(payload)
            got.set()

    exc2pv.add_listener(listener)
    try:
        box = exc2pv.widget  # headless ipywidgets
        dash = exc2pv._widget
        assert box is dash.box
        assert "poisson" in [v for _, v in dash.kind.options]
        dash.kind.value = "poisson"
        assert got.wait(60), "no Poisson result event"
    finally:
        exc2pv.remove_listener(listener)
    res = seen[-1]
    assert res.metrics["n_events"] == res.pulse_times_ms.size > 0
    deadline = threading.Event()
    for _ in range(100):  # the dashboard's own listener draws the same result
        if "n_events" in dash.metrics.value:
            break
        deadline.wait(0.05)
    assert "data-metric='n_events'" in dash.metrics.value and "bmtl-err" not in dash.message.value
