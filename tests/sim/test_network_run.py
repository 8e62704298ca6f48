"""Whole-network runs from the lab (issue 17): BioNet's own run of the example network (its
Poisson-like thalamus spike input, its run script's synapse function), in a child process;
the spikes equal a plain ``run_bionet.py`` of the same config spike for spike, and the same on
two MPI ranks; a stopped run keeps its spikes up to the stop; a SLURM job folder run with plain
bash gives the same spikes; a sweep runs one network per item; the unsaved parameters of a
synapse tuner run on an overlay while the model's files stay as they are; bad input and a dying
run are clear errors, and the kernel carries on."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import h5py
import numpy as np
import pytest

from bmtool_lab import NetworkSimulation, SynapseTuner
from bmtool_lab.sim.bionet_run import LIVE_BLOCK_STEPS
from bmtool_lab.sim.errors import SimError

pytestmark = pytest.mark.sim

TSTOP_MS = 250.0


@pytest.fixture(scope="module")
def baseline(example_config):
    sim = NetworkSimulation(example_config)
    seen: list[float] = []
    run = sim.run(tstop_ms=TSTOP_MS, on_progress=lambda t, tstop: seen.append(t))
    return sim, run, seen


def plain_bionet_spikes(config: Path, out_dir: Path) -> np.ndarray:
    """(node_id, timestamp) of the example's own run_bionet.py on a copy of its config."""
    doc = json.loads(config.read_text())
    doc["output"] = {**doc["output"], "output_dir": str(out_dir)}
    doc["run"] = {**doc["run"], "tstop": TSTOP_MS}
    copy = config.parent / "plain_run_config.json"
    copy.write_text(json.dumps(doc))
    done = subprocess.run([sys.executable, str(config.parent / "run_bionet.py"), str(copy)], cwd=config.parent,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    with h5py.File(out_dir / "spikes.h5", "r") as f:
        g = f["spikes/cortex"]
        return np.sort(np.rec.fromarrays([np.asarray(g["node_ids"]), np.asarray(g["timestamps"])]))


def spike_pairs(run) -> np.ndarray:
    s = run.spikes
    return np.sort(np.rec.fromarrays([s.node_id.to_numpy(), s.timestamp_ms.to_numpy()]))


def assert_same_spikes(a, b) -> None:
    assert len(a) == len(b)
    np.testing.assert_array_equal(a.f0, b.f0)
    np.testing.assert_allclose(a.f1, b.f1, rtol=0, atol=1e-9)


def test_the_run_equals_a_plain_run_bionet_spike_for_spike(baseline, example_config, tmp_path):
    _, run, seen = baseline
    assert not run.stopped and run.tstop_ms == TSTOP_MS
    spikes = run.spikes
    assert {"node_id", "population", "timestamp_ms", "pop_name"} <= set(spikes.columns)
    assert len(spikes) > 20 and spikes.timestamp_ms.between(0, TSTOP_MS).all()
    ours = np.sort(np.rec.fromarrays([spikes.node_id.to_numpy(), spikes.timestamp_ms.to_numpy()]))
    theirs = plain_bionet_spikes(Path(example_config), tmp_path / "plain")
    assert len(ours) == len(theirs)
    np.testing.assert_array_equal(ours.f0, theirs.f0)
    np.testing.assert_allclose(ours.f1, theirs.f1, rtol=0, atol=1e-9)
    # progress followed BioNet's own log, in simulated ms, and ended at tstop
    assert seen[-1] == TSTOP_MS and seen == sorted(seen) and len(seen) >= 2


def test_rates_count_silent_cells(baseline):
    _, run, _ = baseline
    rates = run.rates("pop_name")
    assert set(rates.index) == {"Exc", "PV", "SST"}
    assert rates.n_cells.sum() == 20  # every cortex cell, spiking or not
    for group, row in rates.iterrows():
        n = int((run.spikes.pop_name == group).sum())
        assert row.n_spikes == n and row.mean_Hz == pytest.approx(n / row.n_cells / (TSTOP_MS / 1000.0))


def test_unsaved_tuning_runs_on_an_overlay_and_the_model_is_untouched(baseline, example_config):
    sim, before, _ = baseline
    dyn = Path(example_config).parent / "components" / "synaptic_models" / "Exc2Exc.json"
    on_disk = dyn.read_text()
    with SynapseTuner(example_config) as tn:
        tn.select("Exc2Exc")
        tn.set_params(tau2=tn.params["tau2"] * 3.0)  # slower recurrent excitation: more spikes
        after = sim.run(tstop_ms=TSTOP_MS, tuners=[tn])
        assert tn.unsaved == ["Exc2Exc"]
    assert dyn.read_text() == on_disk  # nothing written into the model
    assert after.overlay == {"Exc2Exc.json": {"tau2": (8.0, 24.0)}}
    overlay_file = after.output_dir.parent / "synaptic_models_overlay" / "Exc2Exc.json"
    assert json.loads(overlay_file.read_text())["tau2"] == 24.0
    diff = after.compare(before)
    assert diff.spike_change.sum() != 0 and diff.loc["Exc", "rate_after_Hz"] > diff.loc["Exc", "rate_before_Hz"]
    assert after.summary()["overlay"] == {"Exc2Exc.json": {"tau2": [8.0, 24.0]}}


def test_bad_input_and_a_dying_run_are_clear_errors(fresh_example, tmp_path):
    config = Path(fresh_example)
    doc = json.loads(config.read_text())
    no_inputs = config.parent / "no_inputs.json"
    no_inputs.write_text(json.dumps({**doc, "inputs": {}}))
    with pytest.raises(SimError, match="has no inputs"):
        NetworkSimulation(no_inputs).run(tstop_ms=50)
    missing = config.parent / "missing_input.json"
    spec = {**doc["inputs"]["thalamus_spikes"], "input_file": "$INPUT_DIR/nowhere.h5"}
    missing.write_text(json.dumps({**doc, "inputs": {"thalamus_spikes": spec}}))
    with pytest.raises(SimError, match="nowhere.h5, which does not exist"):
        NetworkSimulation(missing).run(tstop_ms=50)
    sim = NetworkSimulation(config)
    with pytest.raises(SimError, match="the BioNet run died") as err:  # the synapse function refuses a text tau2
        sim.run(tstop_ms=50, overlay={"Exc2Exc.json": {"tau2": "slow"}}, output_dir=tmp_path / "dies")
    assert "Traceback" in err.value.detail or "Error" in err.value.detail
    with pytest.raises(ValueError, match="ranks must be >= 1"):
        sim.run(tstop_ms=50, ranks=0)
    stop = threading.Event()
    run = sim.run(tstop_ms=5000, on_progress=lambda t, tstop: stop.set(), stop_event=stop)  # at once
    assert run.stopped and run.spikes_kept and 0 < run.t_stop_ms < 5000  # at a block (nsteps_block)
    assert sim.run(tstop_ms=50).spikes is not None  # and the next run is fine


def test_two_mpi_ranks_give_the_same_spikes(baseline, example_config):
    sim, one, _ = baseline
    seen: list[float] = []
    two = sim.run(tstop_ms=TSTOP_MS, ranks=2, on_progress=lambda t, tstop: seen.append(t))
    assert two.ranks == 2 and not two.stopped and two.t_stop_ms == TSTOP_MS
    assert "MPI with 2 rank(s)" in "\n".join(two.log) or any("mpi (2 cores)" in ln for ln in two.log)
    assert_same_spikes(spike_pairs(two), spike_pairs(one))
    assert seen[-1] == TSTOP_MS and seen == sorted(seen) and len(seen) >= 2  # rank 0 reports progress
    assert two.summary()["ranks"] == 2


def test_a_stopped_run_keeps_its_spikes_up_to_the_stop_on_two_ranks(baseline):
    sim, one, _ = baseline
    stop = threading.Event()
    seen: list[float] = []

    def progress(t: float, tstop: float) -> None:
        seen.append(t)
        if t >= 125.0:
            stop.set()

    run = sim.run(tstop_ms=2000, ranks=2, on_progress=progress, stop_event=stop)
    assert run.stopped and run.spikes_kept and run.tstop_ms == 2000
    block_ms = LIVE_BLOCK_STEPS * 0.025  # the run's blocks (write_run_config), at the example's dt
    assert 125.0 <= run.t_stop_ms < 2000 and run.t_stop_ms % block_ms == 0  # at a block, the same on both ranks
    spikes = run.spikes
    assert len(spikes) > 0 and spikes.timestamp_ms.max() <= run.t_stop_ms
    # up to the stop it is the same simulation as the full run
    upto = min(run.t_stop_ms, TSTOP_MS)
    ours, full = spike_pairs(run), spike_pairs(one)
    assert_same_spikes(ours[ours.f1 < upto], full[full.f1 < upto])
    # rates are over the time simulated, and the summary says the run was cut
    rates = run.rates()
    n_exc = int((spikes.pop_name == "Exc").sum())
    assert rates.loc["Exc", "mean_Hz"] == pytest.approx(n_exc / rates.loc["Exc", "n_cells"] / (run.t_stop_ms / 1000))
    doc = run.summary()
    assert doc["stopped"] is True and doc["t_stop_ms"] == run.t_stop_ms and doc["tstop_ms"] == 2000
    assert doc["note"].startswith(f"stopped at {run.t_stop_ms:g} of 2000 ms")
    # the output folder says so too
    opened = NetworkSimulation.open_output(run.output_dir)
    assert opened.stopped and opened.t_stop_ms == run.t_stop_ms and len(opened.spikes) == len(spikes)


def test_stop_before_the_network_is_built_keeps_nothing(fresh_example):
    stop = threading.Event()
    stop.set()
    run = NetworkSimulation(fresh_example).run(tstop_ms=500, ranks=2, stop_event=stop)
    assert run.stopped and not run.spikes_kept and run.t_stop_ms == 0 and len(run.spikes) == 0
    assert "none kept" in run.summary()["note"]


def test_a_slurm_job_folder_runs_with_bash_and_reads_back(baseline, example_config, tmp_path):
    sim, one, _ = baseline
    job = tmp_path / "job"
    script = sim.write_job(job, ranks=2, tstop_ms=TSTOP_MS, partition="debug", time="00:10:00")
    text = script.read_text()
    assert script == job / "job.sh" and (job / "run_config.json").is_file()
    assert "#SBATCH --ntasks=2" in text and "#SBATCH --partition=debug" in text and "#SBATCH --time=00:10:00" in text
    assert "srun" in text and "mpiexec" in text and "bmtool_lab.sim.bionet_child" in text
    assert subprocess.run(["bash", "-n", str(script)], capture_output=True).returncode == 0
    # no SLURM here: the script falls back to mpiexec; run from elsewhere with a bare environment
    assert shutil.which("srun", path="/usr/local/bin:/usr/bin:/bin") is None
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp"), "LANG": "C.UTF-8"}
    done = subprocess.run(["bash", str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "MPI with 2 rank(s)" in done.stdout
    opened = NetworkSimulation.open_output(job / "output")
    assert opened.ranks == 2 and not opened.stopped and opened.tstop_ms == TSTOP_MS
    assert_same_spikes(spike_pairs(opened), spike_pairs(one))


def test_a_sweep_runs_one_network_per_value(baseline, tmp_path):
    sim, one, _ = baseline
    runs = sim.sweep({"Exc2Exc.json": {"tau2": [8.0, 24.0]}}, tstop_ms=TSTOP_MS, output_dir=tmp_path / "sweep")
    assert len(runs) == 2 and all(not isinstance(r, Exception) for r in runs)
    assert runs[0].overlay == {} and runs[1].overlay == {"Exc2Exc.json": {"tau2": (8.0, 24.0)}}
    assert_same_spikes(spike_pairs(runs[0]), spike_pairs(one))  # 8.0 is the value on disk
    assert runs[1].output_dir.parent.name == "item_001"
    df = sim.sweep([{"Exc2Exc.json": {"tau2": 8.0}}, {"Exc2Exc.json": {"tau2": 24.0}}], tstop_ms=TSTOP_MS,
                   as_frame=True)
    assert list(df.columns[:3]) == ["item", "Exc2Exc.json:tau2", "pop_name"] and len(df) == 6
    exc = df[df.pop_name == "Exc"].set_index("Exc2Exc.json:tau2")
    assert exc.loc[24.0, "mean_Hz"] > exc.loc[8.0, "mean_Hz"]
    assert exc.loc[8.0, "n_spikes"] == one.rates().loc["Exc", "n_spikes"]


def test_open_output_reads_what_bionet_wrote(fresh_example, tmp_path):
    config = Path(fresh_example)
    with pytest.raises(FileNotFoundError, match="run the network first"):
        NetworkSimulation.open_output(config)
    run = NetworkSimulation(config).run(tstop_ms=50, output_dir=tmp_path / "r")
    doc = json.loads(config.read_text())
    doc["output"]["output_dir"] = str(run.output_dir)
    pointed = config.parent / "pointed.json"
    pointed.write_text(json.dumps(doc))
    opened = NetworkSimulation.open_output(pointed)
    assert len(opened.spikes) == len(run.spikes)


def test_cli_run_and_raster(fresh_example, tmp_path, capsys):
    from bmtool_lab.cli import main

    summary, png = tmp_path / "summary.json", tmp_path / "raster.png"
    assert main(["run", str(fresh_example), "--tstop", "100", "--output-dir", str(tmp_path / "run"),
                 "--json", str(summary)]) == 0
    doc = json.loads(summary.read_text())
    assert doc["tstop_ms"] == 100.0 and doc["n_spikes"] > 0 and set(doc["rates_Hz"]) == {"Exc", "PV", "SST"}
    assert "Hz over 12 cells" in capsys.readouterr().err
    assert main(["raster", str(tmp_path / "run" / "output"), "--png", str(png), "--rates"]) == 0
    out = capsys.readouterr().out
    assert png.stat().st_size > 5000 and out.startswith("pop_name,mean_Hz,std_Hz,n_cells,n_spikes")
    assert main(["raster", str(tmp_path), "--png", str(png)]) == 2  # no spikes.h5 there
    assert main(["run", str(fresh_example), "--ranks", "0"]) == 2
