"""PointNet (NEST) models (issue #19): the synapse tuner and the cell profiler on NEST workers."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from bmtool_lab.sim.errors import SimError

pytest.importorskip("nest", reason="NEST is an optional extra: pip install 'bmtool-lab[nest]'")
pytestmark = pytest.mark.sim

sys.path.insert(0, str(Path(__file__).parent))
from pointnet_factory import RUN_POINTNET  # noqa: E402


@pytest.fixture(scope="module")
def tuner(pointnet):
    from bmtool_lab import SynapseTuner

    t = SynapseTuner(pointnet, connection="LIF2LIF")
    yield t
    t.close()


def nest_tsodyks2(times, U, tau_rec, tau_fac, u0, x0=1.0):
    """NEST's tsodyks2_synapse: spike n releases u_n·x_n (the first meets the initial u, x); then
    x <- 1 + (x - x·u - 1)·exp(-Δ/tau_rec) and u <- U + u·(1 - U)·exp(-Δ/tau_fac) over the
    interval Δ to the next spike (tau_fac = 0: u = U)."""
    u, x, out = u0, x0, []
    for n, t in enumerate(times):
        if n:
            gap = t - times[n - 1]
            x = 1.0 + (x - x * u - 1.0) * np.exp(-gap / tau_rec)
            u = U + u * (1.0 - U) * (np.exp(-gap / tau_fac) if tau_fac > 0 else 0.0)
        out.append(u * x)
    return np.array(out)


def test_factory_network_runs_on_bmtk_pointnet(pointnet):
    run = subprocess.run([sys.executable, "-c", RUN_POINTNET, str(pointnet)], cwd=pointnet.parent,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    with h5py.File(pointnet.parent / "output" / "spikes.h5") as f:
        fired = set(f["spikes/net/node_ids"][()].tolist())
    assert {0, 1, 2} <= fired  # the LIF cells fire on the input


def test_synapse_tuner_on_a_pointnet_config_is_the_nest_tuner(tuner, pointnet):
    from bmtool_lab.tuning.pointnet_synapse import PointSynapseTuner

    assert isinstance(tuner, PointSynapseTuner)
    assert [c.name for c in tuner.connections] == ["LIF2LIF", "LIF2GLIF", "input2LIF", "input2GLIF"]
    assert tuner.mechanism == "tsodyks2_synapse" and tuner.cell_model == "iaf_psc_alpha"
    assert tuner.params == {"U": 0.45, "tau_rec": 300.0, "tau_fac": 0.0, "u": 0.45, "x": 1.0}
    names = {s.name for s in tuner.param_specs}
    assert names == {"U", "tau_rec", "tau_fac", "u", "x"}  # numeric, settable; no weight/delay/receptor_type
    assert tuner.weight == 2.0 and tuner.delay_ms == 2.0 and tuner.weight_unit == "pA"
    assert tuner.cell_params["tau_m"] == 10.0 and tuner.cell_params["C_m"] == 250.0


@pytest.mark.parametrize("clamp", ["current", "voltage"])
@pytest.mark.parametrize("params,freq,delay", [
    ({"U": 0.45, "tau_rec": 300.0, "tau_fac": 0.0}, 50.0, 125.0),     # depressing
    ({"U": 0.1, "tau_rec": 50.0, "tau_fac": 400.0}, 20.0, 1000.0),    # facilitating
    ({"U": 0.25, "tau_rec": 200.0, "tau_fac": 200.0}, 40.0, 250.0),   # mixed
])
def test_tsodyks2_train_amplitudes_match_the_recurrence(tuner, params, freq, delay, clamp):
    tuner.select("LIF2LIF")
    tuner.set_connection(weight=40.0)  # PSPs of ~0.2 mV: iaf_psc_alpha is linear below threshold
    tuner.set_params(**params, u=params["U"], x=1.0)
    res = tuner.run_train(freq=freq, delay=delay, clamp=clamp)
    assert res.analysed == ("v_soma" if clamp == "current" else "i_clamp")
    expected = nest_tsodyks2(res.pulse_times_ms, params["U"], params["tau_rec"], params["tau_fac"], params["U"])
    got = res.amplitudes / res.amplitudes[0]
    np.testing.assert_allclose(got, expected / expected[0], rtol=5e-3)
    if clamp == "voltage":  # -I_syn: the alpha current peaks at weight·u·x
        assert res.amplitudes[0] == pytest.approx(40.0 * params["U"], rel=1e-3)
    assert res.metrics["simple_ppr"] == pytest.approx(expected[1] / expected[0], rel=5e-3)


def test_nest_rejects_a_value_with_its_message_and_the_worker_survives(tuner):
    tuner.select("LIF2LIF")
    tuner.set_params(U=1.5)
    pid = tuner.worker.pid
    with pytest.raises(SimError) as err:
        tuner.run_single()
    assert err.value.kind == "model"
    assert "'U' must be in [0,1]" in err.value.message and "tsodyks2_synapse" in err.value.message
    tuner.set_params(U=0.3)
    assert tuner.run_single().metrics["amplitude"] > 0
    assert tuner.worker.pid == pid


def test_unknown_nest_models_say_so(pointnet, tmp_path):
    from bmtool_lab import SynapseTuner

    root = tmp_path / "bad"
    shutil.copytree(pointnet.parent, root)
    csv = root / "network" / "net_net_edge_types.csv"
    lines = csv.read_text().splitlines(keepends=True)
    lines[1:] = [ln.replace("tsodyks2_synapse", "tsodyks3_synapse") if "LIF2LIF" in ln else ln for ln in lines[1:]]
    csv.write_text("".join(lines))
    t = SynapseTuner(root / "simulation_config.json", connection="LIF2GLIF")
    try:
        with pytest.raises(SimError) as err:
            t.select("LIF2LIF")
        assert "no synapse model 'tsodyks3_synapse'" in err.value.message
        assert "tsodyks2_synapse" in err.value.message  # the close match
        assert t.name == "LIF2GLIF"  # the selection is unchanged
    finally:
        t.close()


def test_save_writes_the_tuned_values_into_the_dynamics_json(pointnet, tmp_path):
    from bmtool_lab import SynapseTuner

    root = tmp_path / "save"
    shutil.copytree(pointnet.parent, root)
    t = SynapseTuner(root / "simulation_config.json", connection="LIF2GLIF")
    try:
        t.set_params(tau_fac=650.0)
        assert "tau_fac: 400.0 -> 650.0" in t.preview_save().replace("→", "->")
        t.save()
    finally:
        t.close()
    path = root / "components" / "synaptic_models" / "LIF2GLIF.json"
    saved = json.loads(path.read_text())
    assert saved == {"U": 0.1, "tau_rec": 50.0, "tau_fac": 650.0, "u": 0.1, "x": 1.0, "receptor_type": 1}
    assert list(path.parent.glob("LIF2GLIF.json.*.bak"))


def test_without_nest_the_pointnet_parts_say_how_to_install(pointnet, monkeypatch):
    from bmtool_lab import SynapseTuner
    from bmtool_lab.model.pointnet import PointNetUnavailable
    from bmtool_lab.sim import nest_jobs

    monkeypatch.setattr(nest_jobs, "nest_available", lambda: False)
    with pytest.raises(PointNetUnavailable, match=r'pip install "bmtool-lab\[nest\]"'):
        SynapseTuner(pointnet)


def test_bionet_code_never_imports_nest():
    code = ("import sys, bmtool_lab, bmtool_lab.tuning.synapse, bmtool_lab.tuning.profiler, "
            "bmtool_lab.tuning.pointnet_synapse, bmtool_lab.tuning.pointnet_profiler, bmtool_lab.cli; "
            "print('nest' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "False", out.stderr


@pytest.fixture(scope="module")
def profiler(pointnet):
    from bmtool_lab.tuning.pointnet_profiler import PointCellProfiler

    return PointCellProfiler(pointnet)


@pytest.mark.parametrize("cell", ["LIF", "GLIF"])
def test_point_cell_profile_matches_the_closed_forms(profiler, cell):
    profiler.select(cell)
    p = profiler.describe()["params"]
    if cell == "LIF":  # iaf_psc_alpha: R_in = tau_m / C_m, tau = tau_m, rheobase (V_th - E_L)·C_m/tau_m
        r_in, tau, rheo = 1e3 * p["tau_m"] / p["C_m"], p["tau_m"], (p["V_th"] - p["E_L"]) * p["C_m"] / p["tau_m"]
    else:  # glif_psc: R_in = 1/g, tau = C_m/g, rheobase g·(V_th - E_L)
        r_in, tau, rheo = 1e3 / p["g"], p["C_m"] / p["g"], p["g"] * (p["V_th"] - p["E_L"])
    passive = profiler.passive(amp_pA=-10.0)
    assert passive.numbers["r_in_MOhm"] == pytest.approx(r_in, rel=1e-3)
    assert passive.numbers["tau_ms"] == pytest.approx(tau, rel=1e-3)
    assert passive.numbers["v_rest_mV"] == pytest.approx(p["E_L"], abs=1e-4)
    assert passive.model["r_in_MOhm"] == pytest.approx(r_in)
    rheobase = profiler.rheobase(resolution_pA=1.0)
    assert rheo <= rheobase <= rheo + 1.0 + 1e-6  # a 1 s step: the closed form to within 1 pA
    fi = profiler.fi_curve(0, 1000, 100)
    rates = fi.table.set_index("amp_pA")["rate_hz"]
    assert (rates[rates.index < rheo] == 0).all() and (rates[rates.index > rheo + 1] > 0).all()
    assert np.all(np.diff(rates.to_numpy()) >= 0)


def test_fi_curve_is_the_same_on_one_worker_and_two(profiler):
    profiler.select("LIF")
    one = profiler.fi_curve(0, 1000, 50, n_chunks=1).table
    two = profiler.fi_curve(0, 1000, 50, n_chunks=2).table
    assert one.equals(two)


def test_a_config_mixing_nest_and_bionet_cells_says_so(pointnet, tmp_path):
    from bmtool_lab import CellProfiler, NetworkSimulation, SynapseTuner
    from bmtool_lab.model.pointnet import MixedSimulatorConfig

    root = tmp_path / "mixed"
    shutil.copytree(pointnet.parent, root)
    csv = root / "network" / "net_node_types.csv"
    lines = csv.read_text().splitlines(keepends=True)
    lines[-1] = lines[-1].replace("point_process", "biophysical").replace("nest:glif_psc", "hoc:Exc")
    csv.write_text("".join(lines))
    for controller in (SynapseTuner, CellProfiler, NetworkSimulation):
        with pytest.raises(MixedSimulatorConfig, match=r"mixes NEST point neurons \(net:LIF \(nest:iaf_psc_alpha\)\)"
                                                       r" with cells for BioNet/NEURON \(net:GLIF \(hoc:Exc\)\)"):
            controller(root / "simulation_config.json")


@pytest.mark.parametrize("edge,receptor,says", [
    ("LIF2LIF", 3, "Receptor type 3 is not available in iaf_psc_alpha. The post cell has no receptor ports"),
    ("input2GLIF", None, "Receptor type 0 in glif_psc does not accept SpikeEvent. Set receptor_type in the edge "
                         "type's dynamics JSON to one of the post cell's ports: 1."),
])
def test_a_synapse_the_target_cannot_receive_says_which_ports_it_has(pointnet, tmp_path, edge, receptor, says):
    from bmtool_lab import SynapseTuner

    root = tmp_path / "ports"
    shutil.copytree(pointnet.parent, root)
    path = root / "components" / "synaptic_models" / f"{edge}.json"
    params = json.loads(path.read_text())
    params.pop("receptor_type", None)
    if receptor is not None:
        params["receptor_type"] = receptor
    path.write_text(json.dumps(params))
    t = SynapseTuner(root / "simulation_config.json", connection=edge)
    try:
        pid = t.worker.pid
        with pytest.raises(SimError) as err:
            t.run_single()
        assert err.value.kind == "model" and says in err.value.message
        assert t.worker.pid == pid  # the worker carries on
    finally:
        t.close()
