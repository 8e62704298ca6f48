"""PointNet (NEST) dashboards (issue #19): the synapse tuner and cell profiler widgets, headless
ipywidgets on real NEST runs in workers."""

from __future__ import annotations

import json
import shutil
import threading

import numpy as np
import pytest

pytest.importorskip("nest", reason="NEST is an optional extra: pip install 'bmtool-lab[nest]'")
pytest.importorskip("ipywidgets")
pytestmark = pytest.mark.sim



class Results:
    """The tuner's "result" events, waited for one at a time."""

    def __init__(self, tuner) -> None:
        self.items: list = []
        self.errors: list = []
        self.cond = threading.Condition()
        tuner.add_listener(self)

    def __call__(self, event, payload) -> None:
        if event in ("result", "error"):
            with self.cond:
                (self.items if event == "result" else self.errors).append(payload)
                self.cond.notify_all()

    def next(self, after: int, timeout: float = 120.0):
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.items) > after or self.errors, timeout), "no result"
            assert not self.errors, self.errors
            return self.items[-1]


def wait_until(predicate, timeout: float = 10.0) -> bool:
    ev = threading.Event()
    for _ in range(int(timeout / 0.05)):
        if predicate():
            return True
        ev.wait(0.05)
    return predicate()


def simple_ppr(U: float, u0: float, tau_rec: float, interval_ms: float) -> float:
    """tsodyks2 with tau_fac = 0: A2/A1 = U·x2 / (u0·1), x2 = 1 + (1 - u0 - 1)·exp(-Δ/tau_rec)."""
    x2 = 1.0 - u0 * np.exp(-interval_ms / tau_rec)
    return U * x2 / u0


def test_synapse_dashboard_builds_and_a_slider_reruns_on_nest(pointnet, tmp_path):
    from bmtool_lab import SynapseTuner

    root = tmp_path / "m"
    shutil.copytree(pointnet.parent, root)
    tuner = SynapseTuner(root / "simulation_config.json", connection="LIF2LIF")
    results = Results(tuner)
    try:
        box = tuner.widget
        dash = tuner.dashboard
        assert box is dash.box
        assert list(dash._controls) == ["U", "tau_rec", "tau_fac", "u", "x"]  # from nest.GetDefaults
        assert {"C_m", "tau_m", "V_th", "E_L"} <= set(dash._cell_controls) and "V_m" not in dash._cell_controls
        assert "weight 2 pA" in dash.info.value and "iaf_psc_alpha" in dash.info.value
        first = results.next(0)
        assert first.analysed == "v_soma" and dash.clamp.value == "current"
        interval = 1000.0 / tuner.protocol.freq_hz
        assert first.metrics["simple_ppr"] == pytest.approx(simple_ppr(0.45, 0.45, 300.0, interval), rel=5e-3)

        n = len(results.items)
        dash._controls["U"].slider.value = 0.2  # the user drags U: a rerun on NEST
        res = results.next(n)
        assert tuner.params["U"] == 0.2 and tuner.params["u"] == 0.45
        assert res.metrics["simple_ppr"] == pytest.approx(simple_ppr(0.2, 0.45, 300.0, interval), rel=5e-3)
        assert wait_until(lambda: "simple_ppr" in dash.metrics.value and dash.panel.status.startswith("done"))
        assert "unsaved" in dash.save_state.value

        n = len(results.items)
        dash._cell_controls["tau_m"].box.value = 20.0  # a cell what-if: a slower membrane
        slow = results.next(n)
        assert tuner.cell_params["tau_m"] == 20.0
        assert slow.metrics["decay_tau_ms"] > 1.5 * res.metrics["decay_tau_ms"]

        n = len(results.items)
        dash.clamp.value = "voltage"  # -I_syn in pA, as NEST gives it (no nA -> pA rescale)
        vc = results.next(n)
        assert vc.analysed == "i_clamp"
        assert wait_until(lambda: dash.panel.y_label == "i (pA)")
        peak = -float(np.min(np.asarray(vc.traces["i_clamp"])))  # inward: -I_syn < 0
        assert peak == pytest.approx(2.0 * 0.45, rel=1e-2)  # the alpha current peaks at weight·u·x

        dash.preview_save()
        assert "U" in dash.save_box.children[0].value
        dash.confirm_save()
        assert "Saved 1 change" in dash.message.value
    finally:
        tuner.close()
    saved = json.loads((root / "components" / "synaptic_models" / "LIF2LIF.json").read_text())
    assert saved["U"] == 0.2 and saved["u"] == 0.45
    cell = json.loads((root / "components" / "point_neuron_models" / "iaf.json").read_text())
    assert cell["tau_m"] == 10.0  # the cell what-if is not saved


def test_a_value_nest_rejects_shows_in_the_dashboard(pointnet):
    from bmtool_lab import SynapseTuner

    tuner = SynapseTuner(pointnet, connection="LIF2LIF")
    try:
        dash = tuner.dashboard
        assert wait_until(lambda: dash.panel.status.startswith("done"), 120)
        with pytest.raises(Exception, match="no tunable parameter 'V_m'"):
            tuner.set_cell_params(V_m=-60.0)
        dash._controls["U"].box.value = 1.5
        assert wait_until(lambda: "must be in [0,1]" in dash.message.value, 120), dash.message.value
        dash._controls["U"].box.value = 0.3
        assert wait_until(lambda: dash.panel.status.startswith("done") and not dash.message.value, 120)
    finally:
        tuner.close()


def test_profiler_dashboard_on_a_pointnet_config(pointnet):
    from bmtool_lab import CellProfiler
    from bmtool_lab.tuning.pointnet_profiler import PointCellProfiler

    prof = CellProfiler(pointnet)
    assert isinstance(prof, PointCellProfiler)
    dash = prof.dashboard
    assert prof.widget is dash.box
    assert dash.cell.options == ("net:LIF", "net:GLIF")
    assert wait_until(lambda: "iaf_psc_alpha" in dash.info.value, 120)
    dash.run_passive().join(120)
    assert dash.measured["net:LIF"]["r_in_MOhm"] == pytest.approx(40.0, rel=1e-3)  # tau_m / C_m
    assert dash.trace.n_points > 1000 and not dash.message.value
    dash.fi_stop.value, dash.fi_step.value = 600.0, 100.0
    dash.run_fi().join(120)
    assert dash.fi.n_points == 7 and dash.fi.status.startswith("done")
    dash.cell.value = "net:GLIF"
    assert wait_until(lambda: "glif_psc" in dash.info.value, 120)
    dash.run_rheobase().join(180)
    rheo = 9.43 * (-51.68 + 78.85)  # g·(V_th - E_L)
    assert rheo <= dash.measured["net:GLIF"]["rheobase_pA"] <= rheo + 1.0 + 1e-6
    assert "data-metric='rheobase_pA'" in dash.numbers.value


def test_a_bionet_and_a_pointnet_tuner_side_by_side(pointnet, example_config):
    from bmtool_lab import SynapseTuner
    from bmtool_lab.tuning.pointnet_synapse import PointSynapseTuner

    point = SynapseTuner(pointnet, connection="LIF2LIF")
    bionet = SynapseTuner(example_config, connection="Exc2PV")
    try:
        assert isinstance(point, PointSynapseTuner) and not isinstance(bionet, PointSynapseTuner)
        assert point.worker.pid != bionet.worker.pid
        pd, bd = point.dashboard, bionet.widget  # both dashboards at once
        assert bd is not pd.box and "tsodyks2_synapse" in pd.info.value
        a, b = point.run_train(freq=20), bionet.run_train(freq=20)
        assert a.traces["v_soma"].size and b.metrics["amplitude"] > 0
        assert point.run_train(freq=20).metrics["simple_ppr"] == pytest.approx(a.metrics["simple_ppr"])
    finally:
        point.close()
        bionet.close()


def test_pointnet_dashboards_come_from_the_registry_and_copy_as_code_recreates_them(pointnet):
    """The PointNet controllers show through tuning.kinds.KINDS like the BioNet ones, and "Copy as
    code" names the class users call (SynapseTuner / CellProfiler), which makes the NEST variant."""
    from bmtool_lab import CellProfiler, SynapseTuner
    from bmtool_lab.tuning.kinds import kind_of, view_of
    from bmtool_lab.tuning.session import code_for
    from bmtool_lab.widgets.pointnet_profiler import PointProfilerDashboard
    from bmtool_lab.widgets.pointnet_synapse import PointSynapseDashboard

    tuner = SynapseTuner(pointnet, connection="LIF2LIF")
    prof = CellProfiler(pointnet)
    try:
        assert kind_of(tuner).dashboard.endswith(":PointSynapseDashboard")
        assert isinstance(tuner.dashboard, PointSynapseDashboard) and view_of(tuner) is tuner.dashboard.box
        assert isinstance(prof.dashboard, PointProfilerDashboard) and prof.widget is prof.dashboard.box
        tuner.set_params(U=0.3)
        prof.select("GLIF")
        space: dict = {}
        exec(code_for(tuner), space)
        exec(code_for(prof), space)
        again, prof_again = space["tuner"], space["prof"]
        try:
            assert type(again) is type(tuner) and again.name == "LIF2LIF"
            assert again.params["U"] == pytest.approx(0.3)
            assert type(prof_again) is type(prof) and prof_again.current.name == "GLIF"
        finally:
            again.close()
    finally:
        tuner.close()
