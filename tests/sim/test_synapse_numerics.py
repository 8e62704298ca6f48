"""Numbers that must be right on synapses unlike the example's (issue 13): tiny and huge
weights under CVODE against fixed step, a stiff enough clamp for a 20 µS synapse against the
closed form, and runs with no response at all (zero weight, holding at the reversal potential)
that must say so instead of returning metrics of numerical noise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bmtool_lab import SynapseTuner
from bmtool_lab.sim.synapse_jobs import CLAMP_ERROR_MAX, clamp_rs_MOhm
from bmtool_lab.sim.worker import InteractiveWorker
from tests.sim.test_synapse_tuner import PASSIVE_HOC

pytestmark = pytest.mark.sim

STP = {"tau1": 0.3, "tau2": 3.0, "erev": 0.0, "Use": 0.5, "Dep": 300.0, "Fac": 0.0, "initW": 1.0}
TRAIN_METRICS = ("amplitude", "rise_time_ms", "decay_tau_ms", "half_width_ms", "latency_ms",
                 "simple_ppr", "ppr", "induction", "recovery")


@pytest.fixture(scope="module")
def worker():
    with InteractiveWorker("synapse-numerics", timeout_s=180) as w:
        yield w


@pytest.fixture(scope="module")
def passive_hoc(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("passive-num") / "Passive.hoc"
    path.write_text(PASSIVE_HOC)
    return path


@pytest.fixture(scope="module")
def stp_mods(example_config) -> Path:
    return Path(example_config).parent / "components" / "mechanisms"


def tuner(worker, hoc, weight_uS, mechanism="Exp2SynSTP", mods=None, params=STP, **protocol) -> SynapseTuner:
    tn = SynapseTuner(template=str(hoc), mechanism=mechanism, mechanisms_dir=mods, params=dict(params),
                      worker=worker, weight_uS=weight_uS, delay_ms=1.0)
    tn.set_protocol(**{"t_start_ms": 50.0, "hold_mV": -70.0, **protocol})
    return tn


# 70 mV of driving force: 1.4e-6 µS is 0.1 pA at the peak, 1.43 µS is 100 nA
@pytest.mark.parametrize("weight_uS", [1.4e-6, 1e-4, 1e-2, 1.43])
def test_cvode_matches_fixed_step_from_0_1_pA_to_100_nA(worker, passive_hoc, stp_mods, weight_uS):
    tn = tuner(worker, passive_hoc, weight_uS, mods=stp_mods)
    a = tn.run_train(freq=50)
    b = tn.run_train(freq=50, cvode=False, dt=0.005)
    for key in TRAIN_METRICS:
        assert a.metrics[key] == pytest.approx(b.metrics[key], rel=0.01), (weight_uS, key)


def test_clamp_is_stiff_enough_for_a_20_uS_synapse(worker, passive_hoc):
    """Exp2Syn peaks at its weight: 20 µS at 70 mV is 1400 nA; rs 0.01 MΩ alone would read ~1160."""
    assert clamp_rs_MOhm(0.01, 20.0) * 20.0 == pytest.approx(CLAMP_ERROR_MAX)
    assert clamp_rs_MOhm(0.01, 1e-3) == 0.01  # small synapses keep the rs asked for
    tn = tuner(worker, passive_hoc, 20.0, mechanism="Exp2Syn", params={"tau1": 1.0, "tau2": 50.0, "erev": 0.0},
               tail_ms=300.0, window_ms=300.0, rs_MOhm=0.01)
    res = tn.run_single()
    assert res.metrics["amplitude"] == pytest.approx(1400.0, rel=2e-3)
    assert res.metrics["decay_tau_ms"] == pytest.approx(50.0, rel=5e-3)
    assert any("series resistance lowered" in n for n in res.notes), res.notes
    small = tuner(worker, passive_hoc, 1e-3, mechanism="Exp2Syn", params={"tau1": 1.0, "tau2": 50.0, "erev": 0.0})
    assert not any("series resistance" in n for n in small.run_single().notes)


def test_zero_weight_is_no_response_not_noise(worker, passive_hoc, stp_mods):
    tn = tuner(worker, passive_hoc, 0.0, mods=stp_mods)
    for res in (tn.run_single(), tn.run_train(), tn.run_train(cvode=False)):
        assert res.no_response and "zero weight" in res.no_response
        assert not any(np.isfinite(v) for k, v in res.metrics.items() if k != "amplitudes")
        assert "ppr" not in res.metrics and "latency_ms" not in res.metrics
        assert any(n.startswith("no response") for n in res.notes)


def test_hold_at_reversal_is_no_response(worker, passive_hoc):
    tn = tuner(worker, passive_hoc, 1e-3, mechanism="Exp2Syn", params={"tau1": 0.5, "tau2": 9.0, "erev": 0.0},
               hold_mV=0.0)
    res = tn.run_single()
    assert res.no_response and "driving force" in res.no_response and "rise_time_ms" not in res.metrics
    tn.set_protocol(hold_mV=-70.0)
    assert tn.run_single().no_response is None


DRIFTING_HOC = """
// a soma with a slow (tau 100 ms) M-like K current: clamped away from rest, its current relaxes
begintemplate Drifting
public soma, all
create soma[1]
objref all
proc init() {
    all = new SectionList()
    soma[0] { L = 10 diam = 10 nseg = 1 cm = 1 insert pas g_pas = 1e-4 e_pas = -70 insert km_ex all.append() }
}
endtemplate Drifting
"""


def test_holding_current_drift_is_flagged(worker, tmp_path, stp_mods, passive_hoc):
    hoc = tmp_path / "Drifting.hoc"
    hoc.write_text(DRIFTING_HOC)
    exp2 = {"tau1": 0.5, "tau2": 8.0, "erev": -80.0}
    tn = tuner(worker, hoc, 1e-3, mechanism="Exp2Syn", mods=stp_mods, params=exp2, hold_mV=-40.0, t_start_ms=150.0)
    res = tn.run_single()
    assert any("holding current drifts" in n for n in res.notes), res.notes
    settled = tn.run_single(t_start_ms=3000.0)  # 30 time constants later the current is flat
    assert not any("holding current drifts" in n for n in settled.notes), settled.notes
    assert settled.metrics["decay_tau_ms"] == pytest.approx(8.0, rel=0.02)
    flat = tuner(worker, passive_hoc, 1e-3, mechanism="Exp2Syn", params=exp2, hold_mV=-40.0)
    assert not any("drifts" in n for n in flat.run_single().notes)  # off rest, but a constant current


FIRING_HOC = """
// an hh soma with a steady bias current: it fires on its own (no passive properties to measure)
begintemplate Firing
public soma, all, bias
create soma[1]
objref all, bias
proc init() {
    all = new SectionList()
    soma[0] { L = 20 diam = 20 nseg = 1 insert hh all.append() }
    soma[0] bias = new IClamp(0.5)
    bias.del = 0  bias.dur = 1e9  bias.amp = 0.5
}
endtemplate Firing
"""


def test_passive_on_a_cell_that_fires_is_flagged(tmp_path, passive_hoc):
    from bmtool_lab import CellProfiler

    (tmp_path / "Firing.hoc").write_text(FIRING_HOC)
    with CellProfiler(tmp_path) as prof:
        res = prof.passive(-0.05, cell="Firing")
        assert any("not quiescent" in w for w in res.warnings), res.warnings
        assert "not quiescent" in " ".join(res.to_dict()["warnings"])
    with CellProfiler(passive_hoc.parent) as prof:  # a passive cell at rest: no warning, a real tau
        res = prof.passive(-0.05)
        assert res.warnings == () and res.tau_ms == pytest.approx(10.0, rel=0.02)  # cm/g_pas = 1 µF/cm² / 1e-4 S/cm²


def test_a_response_inside_the_cells_own_firing_is_below_the_noise_floor(worker, tmp_path, passive_hoc):
    # 0.2 nA (16 µA/cm²) at hh's own 6.3 °C: it fires repetitively
    (tmp_path / "Firing.hoc").write_text(FIRING_HOC.replace("bias.amp = 0.5", "bias.amp = 0.2"))
    exp2 = {"tau1": 0.5, "tau2": 9.0, "erev": 0.0}
    firing = tuner(worker, tmp_path / "Firing.hoc", 1e-5, mechanism="Exp2Syn", params=exp2, clamp="current",
                   celsius=6.3)
    res = firing.run_single()
    assert res.no_response and "below the noise floor" in res.no_response, res.no_response
    assert "rise_time_ms" not in res.metrics and "latency_ms" not in res.metrics
    # the same 0.7 pA synapse on a quiet cell: a 0.07 mV PSP, measured
    quiet = tuner(worker, passive_hoc, 1e-5, mechanism="Exp2Syn", params=exp2, clamp="current", celsius=6.3)
    res = quiet.run_single()
    assert res.no_response is None and 0.01 < res.metrics["amplitude"] < 1.0


HH_HOC = """
begintemplate HHSoma
public soma, all
create soma[1]
objref all
proc init() {
    all = new SectionList()
    soma[0] { L = 20 diam = 20 nseg = 1 insert hh all.append() }
}
endtemplate HHSoma
"""


def test_checkpoint_restores_only_into_its_own_model_50_times(worker, tmp_path, stp_mods):
    """The sequence that aborted NEURON (SaveState::restore: nprs_ <= prl->size()): a train,
    three single events, then slider moves, with a dashboard listening (streamed runs)."""
    hoc = tmp_path / "HHSoma.hoc"
    hoc.write_text(HH_HOC)
    tn = tuner(worker, hoc, 1e-3, mods=stp_mods)
    tn.add_listener(lambda *args, **kwargs: None)
    restarts = worker.restarts
    first = tn.run_train()
    for rep in range(50):
        tn.run_train()
        singles = [tn.run_single() for _ in range(3)]
        assert singles[-1].restored  # the checkpoint is still used
        tn.set_params(merge=True, tau2=3.0 + 0.002 * rep)
        tn.run_train(clamp="current" if rep % 7 == 0 else "voltage")
        tn.set_params(tau2=3.0)
    assert worker.restarts == restarts  # the worker never died
    again = tn.run_train()
    np.testing.assert_allclose(again.amplitudes, first.amplitudes, rtol=1e-6)


def test_optimizer_recovers_a_sub_pA_stp_synapse_at_default_settings(worker, passive_hoc, stp_mods):
    """Issue 13's done-when: CVODE at its defaults, 0.02 pA responses, Use/Dep/Fac recovered."""
    from bmtool_lab.tuning.optimizer import SynapseOptimizer

    true = {"Use": 0.2, "Dep": 80.0, "Fac": 300.0}
    bounds = {"Use": (0.05, 0.6), "Dep": (10.0, 300.0), "Fac": (50.0, 1000.0)}
    tn = tuner(worker, passive_hoc, 1.4e-6, mods=stp_mods, params={**STP, **true})
    tn.set_protocol(t_start_ms=300.0)  # the tuner's default protocol
    run = SynapseOptimizer(tn, params=bounds, targets={"simple_ppr": 1.0}).evaluate([true])[0].runs["train"]
    assert run["amplitude"] < 1e-4  # nA: a sub-pA synapse
    targets = {k: run[k] for k in ("simple_ppr", "ppr", "induction", "recovery", "amplitude")}
    tn.set_params(Use=0.4, Dep=200.0, Fac=100.0)
    res = SynapseOptimizer(tn, params=bounds, targets=targets).fit(method="least-squares", seed=1, progress=False,
                                                                 target_rtol=1e-7)
    assert tn.protocol.cvode
    for key, value in true.items():
        assert res.best_params[key] == pytest.approx(value, rel=2e-3), (key, res.best_params)
