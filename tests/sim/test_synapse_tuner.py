"""The synapse tuner with real NEURON: closed forms, Tsodyks–Markram recursion, BioNet semantics,
the example network end to end, bad input. Workers are shared per module to stay fast."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest

from bmtool_lab.analysis.event import event_metrics
from bmtool_lab.analysis.stp import stp_indices, tsodyks_markram_release
from bmtool_lab.sim.errors import SimError
from bmtool_lab.sim.synapse_jobs import count_clamps_job
from bmtool_lab.sim.worker import InteractiveWorker
from bmtool_lab.tuning.synapse import GapJunctionTuner, SynapseTuner, TunerError

pytestmark = pytest.mark.sim

DATA = Path(__file__).parent / "data"

PASSIVE_HOC = """
// one passive compartment: under a tiny-rs SEClamp the clamp current is the synaptic current
begintemplate Passive
public soma, all
create soma[1]
objref all
proc init() {
    all = new SectionList()
    soma[0] { L = 10 diam = 10 nseg = 1 cm = 1 insert pas g_pas = 1e-4 e_pas = -70 all.append() }
}
endtemplate Passive
"""

FAST = {"t_start_ms": 50.0, "rs_MOhm": 1e-3, "hold_mV": -70.0}  # short, ideal voltage clamp


@pytest.fixture(scope="module")
def worker():
    with InteractiveWorker("synapse-tests", timeout_s=180) as w:
        yield w


@pytest.fixture(scope="module")
def example_mods(example_config) -> Path:
    """The example network's mod files (Exp2SynSTP): one folder per worker process, so the same
    one the example network's tests load."""
    return Path(example_config).parent / "components" / "mechanisms"


@pytest.fixture(scope="module")
def passive_hoc(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("passive") / "Passive.hoc"
    path.write_text(PASSIVE_HOC)
    return path


def passive_tuner(worker, hoc, mechanism="Exp2Syn", mechanisms_dir=None, **params) -> SynapseTuner:
    tn = SynapseTuner(template=str(hoc), mechanism=mechanism, mechanisms_dir=mechanisms_dir, params=params,
                      worker=worker, weight_uS=0.001, delay_ms=1.0)
    tn.set_protocol(**FAST)
    return tn


def exp2syn_reference(tau1: float, tau2: float, delay: float) -> dict:
    """Metrics of g(t) = exp(-t/tau2) - exp(-t/tau1) computed on a fine grid (metrics.md §1)."""
    t = np.arange(-5.0, 150.0, 2e-4)
    g = np.where(t >= delay, np.exp(-(t - delay) / tau2) - np.exp(-(t - delay) / tau1), 0.0)
    return event_metrics(t, -g, 0.0, 100.0).to_dict()


# --- closed forms -----------------------------------------------------------------------------
@pytest.mark.parametrize("tau1,tau2", [(0.5, 9.0), (0.1, 13.0)])
def test_single_event_matches_exp2syn_closed_form(worker, passive_hoc, tau1, tau2):
    tn = passive_tuner(worker, passive_hoc, tau1=tau1, tau2=tau2, erev=0.0)
    res = tn.run_single()
    ref = exp2syn_reference(tau1, tau2, delay=1.0)
    m = res.metrics
    assert m["sign"] == -1.0  # inward (excitatory) clamp current
    for key in ("latency_ms", "rise_time_ms", "half_width_ms", "decay_tau_ms"):
        assert m[key] == pytest.approx(ref[key], rel=0.01), key
    # peak of weight·g_norm at 70 mV driving force: 0.001 µS · 70 mV = 0.07 nA
    assert m["amplitude"] == pytest.approx(0.07, rel=0.01)
    assert m["decay_r2"] > 0.999
    assert res.info["solver_steps"] and res.info["n_netcons_to_synapse"] == 1


STP_SETS = {"depressing": (0.5, 300.0, 0.0), "facilitating": (0.1, 50.0, 600.0), "mixed": (0.42, 125.0, 800.0)}


@pytest.mark.parametrize("kind", list(STP_SETS))
def test_train_amplitudes_match_tsodyks_markram(worker, passive_hoc, example_mods, kind):
    U, D, F = STP_SETS[kind]
    tn = passive_tuner(worker, passive_hoc, "Exp2SynSTP", example_mods, tau1=0.5, tau2=5.0, erev=0.0, Use=U, Dep=D,
                       Fac=F, initW=1.0)
    for delay in (125.0, 250.0, 1000.0):
        res = tn.run_train(freq=50, delay=delay)
        P = tsodyks_markram_release(res.pulse_times_ms, U, D, F)
        ratio = res.amplitudes / res.amplitudes[0]
        np.testing.assert_allclose(ratio, P / P[0], rtol=0.005)
        expected = stp_indices(P, 8, 4)
        for key in ("simple_ppr", "ppr", "induction", "recovery"):
            assert res.metrics[key] == pytest.approx(expected[key], rel=0.005, abs=2e-3), (key, delay)


def test_recovery_is_correct_for_per_netcon_state(worker, passive_hoc):
    """State in the NetCon weight vector: all pulses must come through ONE NetCon."""
    U, D, F = 0.42, 125.0, 800.0
    tn = passive_tuner(worker, passive_hoc, "TMNetCon", DATA / "netcon_stp", tau1=0.5, tau2=5.0, erev=0.0, Use=U,
                       Dep=D, Fac=F)
    for delay in (125.0, 1000.0):
        res = tn.run_train(freq=20, delay=delay)
        assert res.info["n_netcons_to_synapse"] == 1
        P = tsodyks_markram_release(res.pulse_times_ms, U, D, F)
        np.testing.assert_allclose(res.amplitudes / res.amplitudes[0], P / P[0], rtol=0.005)
        assert res.metrics["recovery"] == pytest.approx(stp_indices(P)["recovery"], abs=2e-3)
    # a second NetCon for the recovery pulses (bmtool) would restart at rest: A_9 = A_1
    assert abs(res.amplitudes[8] / res.amplitudes[0] - 1) > 0.05


def test_checkpoint_reuse_equals_a_full_run_and_keeps_the_cell(worker, passive_hoc, example_mods):
    tn = passive_tuner(worker, passive_hoc, "Exp2SynSTP", example_mods, tau1=0.5, tau2=5.0, erev=0.0, Use=0.3,
                       Dep=200.0, Fac=100.0, initW=1.0)
    first = tn.run_train()
    tn.set_params(Use=0.6, erev=-10.0)  # parameters the INITIAL block does not read: baseline reused
    again = tn.run_train()
    assert again.restored and again.info["model_id"] == first.info["model_id"]  # no rebuild
    full = tn.run_train(checkpoint=False)
    assert not full.restored
    np.testing.assert_allclose(again.amplitudes, full.amplitudes, rtol=1e-3)
    tn.set_params(tau2=6.0)  # read by INITIAL (the peak factor): the baseline is re-run
    assert not tn.run_train().restored


# --- BioNet semantics on the example network ----------------------------------------------------
@pytest.fixture(scope="module")
def example_tuner(example_config, worker):
    tn = SynapseTuner(example_config, worker=worker)
    yield tn
    tn.close()


def test_inhibitory_exp2syn_runs_at_its_erev(example_tuner):
    tn = example_tuner
    tn.select("PV2Exc")
    assert tn.params["erev"] == -75.0 and tn.mechanism == "Exp2Syn"
    vc = tn.run_single(hold_mV=-50.0)
    assert vc.info["e_rev_mV"] == -75.0 and vc.info["applied"]["e"] == -75.0
    assert vc.metrics["sign"] == 1.0  # outward current at -50 mV
    cc = tn.run_single(clamp="current")
    assert cc.metrics["sign"] == -1.0 and cc.metrics["amplitude"] > 0.1  # hyperpolarising IPSP (mV)
    assert cc.placement["section"].endswith("soma[0]")
    assert cc.protocol.clamp == "current"


def test_current_clamp_has_no_clamp_object(example_tuner, worker):
    tn = example_tuner
    tn.select("Exc2PV")
    tn.run_single(clamp="voltage")
    assert worker.call(count_clamps_job)["SEClamp"] == 1
    res = tn.run_single(clamp="current")
    assert res.info["clamp_present"] is False
    assert worker.call(count_clamps_job) == {"SEClamp": 0, "VClamp": 0, "IClamp": 0}
    assert set(res.traces) >= {"v_soma", "i_syn", "g_syn"} and "i_clamp" not in res.traces


def test_bionet_weight_delay_and_placement(example_tuner):
    tn = example_tuner
    tn.select(("cortex_to_cortex", 100))  # Exc2Exc: basal, syn_weight 0.0006 µS, delay 1 ms
    res = tn.run_single()
    assert tn.current.name == "Exc2Exc"
    # dend[0] is 600 µm: BioNet's dL 20 µm gives it 1 + 2·int(600/40) = 31 segments, all candidates
    assert res.placement["section"].endswith("dend[0]") and res.placement["n_candidates"] == 31
    assert res.metrics["latency_ms"] > 1.0  # the NetCon delay counts as latency
    assert float(np.max(res.traces["g_syn"])) == pytest.approx(0.0006 * 0.42, rel=0.01)  # weight·initW·Use


def test_cvode_matches_fixed_step_within_1_percent(example_tuner):
    tn = example_tuner
    tn.select("Exc2Exc")  # subthreshold (spike times of a firing cell depend on the solver)
    a = tn.run_train(clamp="current")
    b = tn.run_train(clamp="current", cvode=False)
    np.testing.assert_allclose(a.amplitudes, b.amplitudes, rtol=0.01)


def test_bmtool_convention_reproduces_bmtools_formulas(worker, passive_hoc):
    from scipy.signal import find_peaks

    tn = SynapseTuner(template=str(passive_hoc), mechanism="Exp2Syn", params={"tau1": 0.5, "tau2": 9.0, "erev": 0.0},
                      worker=worker, convention="bmtool", delay_ms=1.0)
    tn.set_protocol(**FAST)
    assert tn.protocol.amplitude_method == "raw" and not tn.protocol.cvode
    res = tn.run_single()
    ref = exp2syn_reference(0.5, 9.0, delay=1.3)  # bmtool's fixed 1.3 ms NetCon delay
    assert res.metrics["t_peak_ms"] - res.pulse_times_ms[0] == pytest.approx(ref["t_peak_ms"], abs=0.03)
    t, x = res.t_ms, res.traces["i_clamp"].astype(float)
    dt, t_pre = 0.025, res.pulse_times_ms[0]
    i0 = int(math.floor((t_pre - t[0]) / dt))
    i1 = int(np.searchsorted(t, t_pre + 100.0, side="right"))
    b = x[i0]  # bmtool: one baseline sample
    y = -(x[i0:i1] - b)
    peaks, _ = find_peaks(y)
    assert res.metrics["amplitude"] == pytest.approx(y[peaks[0]], rel=1e-6)  # first local maximum
    q = np.sum((x[: i1 - 1] - b + x[1:i1] - b) / 2 * np.diff(t[:i1]))  # whole run from t = 0
    assert res.metrics["charge"] == pytest.approx(q, rel=1e-3)
    assert res.metrics["rise_time_ms"] / dt == pytest.approx(round(res.metrics["rise_time_ms"] / dt), abs=1e-6)
    lab = event_metrics(t, x, t_pre, 100.0)
    assert res.metrics["half_width_ms"] - lab.half_width_ms == pytest.approx(lab.latency_ms, abs=0.1)
    # raw train amplitudes: max over [t_i + delay, t_i+1 + delay) against the one pre-train baseline
    tr = tn.run_train(freq=50)
    t, x = tr.t_ms, tr.traces["i_clamp"].astype(float)
    p = tr.pulse_times_ms + 1.3  # bmtool's own NetCon delay, whatever the tuner was given
    b = x[(t >= p[0] - 1.3 - 5.0) & (t < p[0] - 1.3)].mean()
    ends = np.append(p[1:], p[-1] + (p[-1] - p[-2]))
    raw = [np.max(b - x[(t >= a) & (t < e)]) for a, e in zip(p, ends, strict=True)]
    np.testing.assert_allclose(tr.amplitudes, raw, rtol=1e-6)
    # raw amplitudes need no single-event kernel: one simulation per train, as bmtool runs it
    assert tr.kernel is None
    deconv = tn.run_train(freq=50, amplitude_method="deconvolve")
    assert deconv.kernel is not None  # asked for: the kernel run is back


# --- the example network end to end -------------------------------------------------------------
def test_every_connection_loads_runs_and_saves(fresh_example, worker):
    tn = SynapseTuner(fresh_example, worker=worker)
    tn.set_protocol(t_start_ms=100.0, tail_ms=60.0)
    assert [g.name for g in tn.gap_junctions] == ["PV2PV_gap"]
    assert all(not ct.is_gap_junction for ct in tn.connections) and len(tn.connections) == 8
    table = tn.connections_table()
    assert len(table) == 9 and set(table["kind"]) == {"chemical", "gap junction"}
    saved = {}
    for ct in tn.connections:
        tn.select(ct.name)
        res = tn.run_single()
        assert res.metrics["amplitude"] > 0, ct.name
        new_tau2 = round(tn.params["tau2"] * 1.25, 3)
        tn.set_params(tau2=new_tau2)
        assert ct.name in tn.unsaved
        assert "tau2" in tn.preview_save()
        tn.save(shared="ok")  # the two ThalAMPA types share a file: both change
        saved[Path(ct.dynamics_path).name] = new_tau2
        assert ct.name not in tn.unsaved
    synapses = Path(fresh_example).parent / "components" / "synaptic_models"
    for name, tau2 in saved.items():
        data = json.loads((synapses / name).read_text())
        assert data["tau2"] == tau2
    exc2pv = json.loads((synapses / "Exc2PV.json").read_text())
    assert exc2pv["notes"] == "depressing; fit to paired recordings"  # unknown key kept, order too
    assert list(exc2pv) == ["level_of_detail", "tau1", "tau2", "erev", "Use", "Dep", "Fac", "initW", "notes"]
    assert "erev" in json.loads((synapses / "PV2Exc.json").read_text())  # e written back as erev
    again = SynapseTuner(fresh_example, connection="Exc2PV", worker=worker)
    assert again.params["tau2"] == saved["Exc2PV.json"] and again.params["Use"] == 0.5


def test_switching_keeps_unsaved_tuning_with_undo_redo(example_tuner):
    tn = example_tuner
    events = []
    tn.add_listener(lambda ev, payload: events.append(ev))
    try:
        tn.select("Exc2Exc")
        tn.set_params(Use=0.3)
        tn.set_params(Use=0.25, Dep=150.0)
        tn.select("PV2PV")
        tn.select("Exc2Exc")
        assert tn.params["Use"] == 0.25 and "Exc2Exc" in tn.unsaved
        assert tn.undo()["Use"] == 0.3 and tn.can_redo
        assert tn.undo()["Use"] == 0.42 and not tn.can_undo and "Exc2Exc" not in tn.unsaved
        assert tn.redo()["Use"] == 0.3
        res = tn.run_train()
        pinned = tn.pin()
        assert pinned is not tn.last and pinned.metrics == res.metrics
        assert events[:3] == ["selection", "params", "params"] and "result" in events and "running" in events
        specs = {s.name: s for s in tn.param_specs}
        assert specs["tau1"].scale == "log" and specs["Use"].min == 0 and specs["Use"].max == 1
        assert specs["erev"].min <= -100 and specs["erev"].unit == "mV" and specs["Fac"].default == 800.0
    finally:
        tn.undo()
        tn._listeners.clear()


def test_submit_latest_wins_and_streams(example_tuner):
    tn = example_tuner
    tn.select("Exc2SST")
    seen = []
    tn.add_listener(lambda ev, payload: seen.append((ev, payload)))
    try:
        futures = [tn.submit("train", t_start_ms=300.0 + k) for k in range(4)]
        last = futures[-1].result(timeout=60)
        assert last.pulse_times_ms[0] == 303.0
        assert sum(f.cancelled() for f in futures[:-1]) >= 1  # replaced while waiting
        assert any(ev == "result" and p is last for ev, p in seen)
        seen.clear()
        slow = tn.run_train(cvode=False, checkpoint=False)  # ~0.5 s of fixed steps: streamed in chunks
        partials = [p for ev, p in seen if ev == "partial"]
        assert partials and all(set(p["traces"]) >= {"i_clamp", "i_syn"} for p in partials)
        assert 0 < partials[0]["progress"] < 1 and len(partials[0]["t_ms"]) < len(slow.t_ms)
        assert [ev for ev, _ in seen][0] == "running" and [ev for ev, _ in seen][-1] == "result"
    finally:
        tn._listeners.clear()


def test_frequency_response_and_synaptic_table(example_tuner):
    tn = example_tuner
    tn.select("Exc2PV")
    fr = tn.frequency_response(freqs=(10, 50, 100), t_start_ms=100.0)
    assert list(fr.index) == [10.0, 50.0, 100.0] and (fr["error"] == "").all()
    assert fr.loc[100.0, "induction"] < fr.loc[10.0, "induction"] < 0  # depression grows with frequency
    table = tn.synaptic_table(t_start_ms=100.0)
    assert len(table) == 8 and (table["error"] == "").all()
    assert (table["amplitude_nA"] > 0).all()


def test_shared_file_and_save_as(fresh_example, worker):
    tn = SynapseTuner(fresh_example, connection="ThalAMPA (thalamus_to_cortex:101)", worker=worker)
    tn.set_params(tau2=4.0)
    with pytest.raises(TunerError, match="shared by 2 edge types"):
        tn.save()
    res = tn.save_as("ThalAMPA_PV.json", repoint=[("thalamus_to_cortex", 101)])
    assert res.path.name == "ThalAMPA_PV.json" and json.loads(res.path.read_text())["tau2"] == 4.0
    assert tn.current.name == "ThalAMPA_PV" and tn.unsaved == []
    names = [ct.name for ct in tn.connections]
    assert "ThalAMPA" in names and "ThalAMPA_PV" in names
    csv = (Path(fresh_example).parent / "network" / "thalamus_cortex_edge_types.csv").read_text()
    assert "ThalAMPA_PV.json" in csv


def test_gap_junction_coupling(example_config, worker):
    gj = GapJunctionTuner(example_config, worker=worker)
    weak, strong = gj.run(0.0005), gj.run(0.005)
    assert 0 < weak.coupling_coefficient < strong.coupling_coefficient < 1
    assert gj.run(0.0).coupling_coefficient == pytest.approx(0.0, abs=1e-3)
    g = gj.fit_conductance(0.1)
    assert gj.run(g).coupling_coefficient == pytest.approx(0.1, rel=0.01)


# --- bad input: clear messages, nothing written, everything survives ----------------------------
def test_bad_input_is_refused_clearly(fresh_example, worker, passive_hoc, monkeypatch):
    from bmtool_lab.model.config import ConfigError

    with pytest.raises(ConfigError, match="does not exist"):
        SynapseTuner("/nowhere/simulation_config.json")
    synapses = Path(fresh_example).parent / "components" / "synaptic_models"
    (synapses / "Exc2SST.json").unlink()
    tn = SynapseTuner(fresh_example, worker=worker)
    errors = []
    tn.add_listener(lambda ev, p: errors.append(p) if ev == "error" else None)
    with pytest.raises(TunerError, match="Exc2SST.json does not exist"):
        tn.select("Exc2SST")
    assert errors and tn.current.name == "Exc2Exc"  # the selection stayed
    # tau1 >= tau2 and unknown parameters are refused before anything runs
    tn.select("PV2Exc")
    with pytest.raises(TunerError, match="tau1 = 9 ms must be smaller than tau2 = 8 ms"):
        tn.set_params(tau1=9.0)
    with pytest.raises(TunerError, match="has no parameter 'Use'"):
        tn.set_params(Use=0.5)
    with pytest.raises(TunerError, match="not a finite number"):
        tn.set_params(tau2=float("nan"))
    assert tn.params == {"tau1": 0.5, "tau2": 8.0, "erev": -75.0} and not tn.can_undo
    # a dynamics file with tau1 >= tau2 on disk: the run says so (the worker refuses before NEURON runs)
    bad = json.loads((synapses / "PV2PV.json").read_text()) | {"tau1": 6.0}
    (synapses / "PV2PV.json").write_text(json.dumps(bad))
    tn2 = SynapseTuner(fresh_example, connection="PV2PV", worker=worker)
    with pytest.raises(SimError, match="tau1 = 6 ms must be smaller"):
        tn2.run_single()
    # a mechanism that is not compiled
    with pytest.raises(SimError, match="'NoSuchSyn' is not compiled"):
        SynapseTuner(template=str(passive_hoc), mechanism="NoSuchSyn", params={}, worker=worker)
    # a write that fails half way (as root chmod cannot block writes, the OS error is simulated):
    # clear message, the file is untouched, no temp file is left, the tuner keeps its tuning
    import bmtool_lab.model.dynamics as dyn

    tn.set_params(tau2=9.0)
    before = (synapses / "PV2Exc.json").read_bytes()

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(dyn.os, "replace", refuse)
    with pytest.raises(dyn.DynamicsError, match="PV2Exc.json"):
        tn.save()
    monkeypatch.undo()
    assert (synapses / "PV2Exc.json").read_bytes() == before
    assert not [p for p in synapses.iterdir() if p.name.startswith(".")]
    assert "PV2Exc" in tn.unsaved
    if os.geteuid() != 0:  # a real read-only file (only meaningful when not root)
        os.chmod(synapses / "PV2Exc.json", 0o444)
        with pytest.raises(dyn.DynamicsError):
            tn.save()
        os.chmod(synapses / "PV2Exc.json", 0o644)
    # the worker and the tuner survive all of it
    assert tn.run_single().metrics["amplitude"] > 0
    assert tn.save().changes[0].key == "tau2"


def build_passive(hoc_path: str):
    """A cell object built in the worker (a tuner from a cell builder, no BMTK, no CellType)."""
    from neuron import h

    if not hasattr(h, "Passive"):
        h.load_file(hoc_path)
    return h.Passive()


def test_edge_placement_and_a_cell_builder(fresh_example, worker, passive_hoc):
    import functools

    import h5py

    edges = Path(fresh_example).parent / "network" / "cortex_cortex_edges.h5"
    with h5py.File(edges, "r+") as f:  # what a per-synapse network stores for every edge
        grp = f["edges/cortex_to_cortex"]
        n = grp["edge_type_id"].shape[0]
        grp["0"].create_dataset("afferent_section_id", data=np.ones(n, dtype=np.int64))
        grp["0"].create_dataset("afferent_section_pos", data=np.full(n, 0.25))
    tn = SynapseTuner(fresh_example, connection="Exc2Exc", worker=worker)
    tn.set_protocol(placement="edge", edge_index=0, t_start_ms=100.0)
    res = tn.run_single()
    assert res.placement["rule"] == "afferent_section_id/pos" and res.placement["section"].endswith("dend[0]")
    assert res.placement["x"] == 0.25 and res.placement["segment_x"] == pytest.approx(7.5 / 31)  # BioNet's nseg 31
    built = SynapseTuner(template=functools.partial(build_passive, str(passive_hoc)), mechanism="exp2syn",
                         params={"tau1": 0.5, "tau2": 9.0, "erev": 0.0}, worker=worker, delay_ms=1.0)
    built.set_protocol(**FAST)
    assert built.mechanism == "Exp2Syn" and built.run_single().metrics["amplitude"] == pytest.approx(0.07, rel=0.01)


def test_synaptic_table_figure(example_tuner):
    pytest.importorskip("matplotlib")
    import pandas as pd

    table = pd.DataFrame({"connection": ["A", "B"], "amplitude_nA": [0.1, 0.2]})
    fig = example_tuner.synaptic_table_figure(table)
    assert fig.axes[0].get_ylabel() == "amplitude_nA"


def test_weight_functions_follow_bionet():
    from types import SimpleNamespace

    from bmtool_lab.tuning.synapse import _bionet_weight

    assert _bionet_weight(SimpleNamespace(syn_weight=0.002, weight_function=None)) == (0.002, "")
    assert _bionet_weight(SimpleNamespace(syn_weight=0.002, weight_function="wmax")) == (0.002, "")
    w, note = _bionet_weight(SimpleNamespace(syn_weight=0.002, weight_function="my_custom_fn"))
    assert w == 0.002 and "my_custom_fn" in note and "cannot" in note


def test_protocol_validation(example_tuner):
    with pytest.raises(TunerError, match="freq_hz must be > 0"):
        example_tuner.set_protocol(freq=0)
    with pytest.raises(TunerError, match="unknown protocol setting"):
        example_tuner.run_train(bogus=1)
    with pytest.raises(TunerError, match="gap junction"):
        example_tuner.select("PV2PV_gap")


def test_no_widget_import_headless():
    import subprocess
    import sys

    code = ("import sys, bmtool_lab.tuning.synapse; "
            "print(any(m.startswith(('ipywidgets', 'neuron', 'bmtool_lab.widgets')) for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_copy_of_example_untouched(example_config):
    # the read-only session example must still hold the original parameters
    data = json.loads((Path(example_config).parent / "components" / "synaptic_models" / "Exc2PV.json").read_text())
    assert data["tau2"] == 3.0
    from bmtool_lab.sim.mechanisms import find_nrnivmodl

    assert find_nrnivmodl()  # found beside the interpreter, PATH or not (a kernel's PATH may lack it)
