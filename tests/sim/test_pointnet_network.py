"""PointNet (NEST) network runs (issue #19): NetworkSimulation(pointnet_config) runs bmtk's PointNet
in a child process; spikes equal a plain PointNet run of the same config; unsaved tuning overlays."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

pytest.importorskip("nest", reason="NEST is an optional extra: pip install 'bmtool-lab[nest]'")
pytestmark = pytest.mark.sim

sys.path.insert(0, str(Path(__file__).parent))
from pointnet_factory import RUN_POINTNET  # noqa: E402


@pytest.fixture(scope="module")
def plain(pointnet) -> pd.DataFrame:
    """The spikes of ``pointnet.PointSimulator.run()`` on the model's own config."""
    run = subprocess.run([sys.executable, "-c", RUN_POINTNET, str(pointnet)], cwd=pointnet.parent,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    with h5py.File(pointnet.parent / "output" / "spikes.h5") as f:
        g = f["spikes/net"]
        df = pd.DataFrame({"node_id": g["node_ids"][()].astype(np.int64), "timestamp_ms": g["timestamps"][()]})
    return df.sort_values(["timestamp_ms", "node_id"], ignore_index=True)


@pytest.fixture(scope="module")
def sim(pointnet):
    from bmtool_lab import NetworkSimulation

    return NetworkSimulation(pointnet)


@pytest.fixture(scope="module")
def base(sim, tmp_path_factory):
    return sim.run(output_dir=tmp_path_factory.mktemp("base"))


def test_network_simulation_spikes_equal_a_plain_pointnet_run(sim, base, plain):
    from bmtool_lab.tuning.pointnet_network import PointNetworkSimulation

    assert isinstance(sim, PointNetworkSimulation)
    got = base.spikes[["node_id", "timestamp_ms"]].sort_values(["timestamp_ms", "node_id"], ignore_index=True)
    assert len(got) == len(plain) > 50
    pd.testing.assert_frame_equal(got, plain)
    assert set(base.spikes.population) == {"net"} and not base.stopped
    rates = base.rates()
    assert set(rates.index) == {"LIF", "GLIF"}
    assert rates.loc["LIF", "n_spikes"] == int((plain.node_id < 3).sum())
    assert rates.loc["LIF", "mean_Hz"] == pytest.approx(rates.loc["LIF", "n_spikes"] / 3 / 0.5)


def test_unsaved_tuning_runs_on_an_overlay_and_the_model_is_untouched(sim, base, pointnet, tmp_path):
    from bmtool_lab import SynapseTuner

    files = sorted((pointnet.parent / "components").rglob("*.json"))
    before = {f: f.read_bytes() for f in files}
    tuner = SynapseTuner(pointnet, connection="LIF2LIF")
    try:
        tuner.set_params(U=0.9, u=0.9)
        tuner.set_cell_params(tau_m=20.0)  # a slower LIF membrane: more summation, more spikes
        seen: dict = {}
        tuned = sim.run(tuners=[tuner], output_dir=tmp_path / "tuned",
                        on_spikes=lambda pops, ids, t: seen.update(zip(*np.unique(pops, return_counts=True), strict=True)))
    finally:
        tuner.close()
    assert tuned.overlay == {"LIF2LIF.json": {"U": (0.45, 0.9), "u": (0.45, 0.9)},
                             "cell net:LIF": {"tau_m": (10.0, 20.0)}}
    cmp = tuned.compare(base)
    assert cmp.loc["LIF", "spike_change"] > 0
    assert seen == {"net": len(tuned.spikes)}
    assert {f: f.read_bytes() for f in files} == before  # the model's files are as they were
    again = sim.run(output_dir=tmp_path / "again")  # no tuners: the plain spikes again
    pd.testing.assert_frame_equal(again.spikes, base.spikes)


def test_a_failing_pointnet_run_says_why(pointnet, tmp_path):
    import shutil

    from bmtool_lab import NetworkSimulation
    from bmtool_lab.sim.errors import SimError

    root = tmp_path / "bad"
    shutil.copytree(pointnet.parent, root)
    (root / "components" / "point_neuron_models" / "iaf.json").write_text('{"C_m": -5.0}')
    with pytest.raises(SimError) as err:
        NetworkSimulation(root / "simulation_config.json").run(tstop_ms=50)
    assert "BadProperty" in err.value.message and "Capacitance must be > 0" in err.value.message  # NEST's words


def test_the_kernel_never_imports_nest_for_a_network_run(pointnet):
    code = ("import sys; from bmtool_lab import NetworkSimulation; "
            f"run = NetworkSimulation({str(pointnet)!r}).run(tstop_ms=100); "
            "print(len(run.spikes) > 0, 'nest' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.stdout.strip().splitlines()[-1] == "True False", out.stderr[-2000:]


def test_network_run_dashboard_on_a_pointnet_model(pointnet, plain):
    pytest.importorskip("ipywidgets")
    from bmtool_lab import NetworkSimulation

    sim = NetworkSimulation(pointnet)
    from bmtool_lab.widgets.registry import dashboard_widget

    dash = dashboard_widget(sim)  # the BioNet runs' dashboard
    dash.start()
    run = dash.wait(timeout_s=300)
    assert dash.error == "" and run is not None
    times = np.frombuffer(dash.raster.times, np.float32)
    assert times.size == len(plain)  # the raster is the run's spikes: the plain PointNet run's
    np.testing.assert_allclose(np.sort(times), np.sort(plain.timestamp_ms.to_numpy()), atol=1e-4)
    assert dash.raster.n_rows == 5 and dash.live_spikes == len(plain)
