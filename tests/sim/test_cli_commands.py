"""The simulating CLI commands on the example network (in-process through ``cli.main``), their
failure exit codes, and one real call of the installed ``bmtool-lab`` entry point."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from bmtool_lab.cli import EXIT_BAD_INPUT, EXIT_OK, main
from bmtool_lab.session import sha256_file

pytestmark = pytest.mark.sim


def run(argv: list, capsys: pytest.CaptureFixture) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _dynamics(config: Path, name: str) -> Path:
    return config.parent / "components" / "synaptic_models" / f"{name}.json"


def test_demo_headless(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code, out, err = run(["demo", "--no-browser", "--folder", tmp_path / "example_network"], capsys)
    assert code == EXIT_OK, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["cell"] == "Exc" and summary["n_spikes"] >= 0 and summary["n_samples"] > 100
    assert (tmp_path / "example_network" / "simulation_config.json").is_file()


def test_synapse_train_to_json(example_config: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out.json"
    code, _, err = run(["synapse", example_config, "--connection", "Exc2PV", "--protocol", "train", "--freq", "50",
                        "--delay", "250", "--param", "Use=0.3", "--json", out], capsys)
    assert code == EXIT_OK, err
    doc = json.loads(out.read_text())
    assert doc["connection"] == "Exc2PV" and doc["kind"] == "train" and doc["analysed"] == "i_clamp"
    assert doc["params"]["Use"] == 0.3
    assert doc["protocol"]["freq_hz"] == 50 and doc["protocol"]["delay_ms"] == 250
    m = doc["metrics"]
    assert len(m["amplitudes"]) == 12 and doc["units"]["amplitude"] == "nA"
    assert 0 < m["simple_ppr"] < 1  # Exc2PV depresses (Dep 300 ms, Fac 0)
    prov = doc["provenance"]
    assert prov["config_sha256"] == sha256_file(example_config)
    dyn = _dynamics(example_config, "Exc2PV")
    assert prov["dynamics"] == {str(dyn.resolve()): sha256_file(dyn)}
    assert prov["parameters"]["Use"] == 0.3 and prov["protocol"]["freq_hz"] == 50
    assert "simulating Exc2PV" in err


def test_synapse_single_current_clamp_with_traces(example_config: Path, capsys: pytest.CaptureFixture) -> None:
    code, out, err = run(["-q", "synapse", example_config, "--connection", "PV2Exc", "--protocol", "single",
                          "--clamp", "current", "--traces"], capsys)
    assert code == EXIT_OK, err
    assert err == ""  # --quiet
    doc = json.loads(out)  # standard output is the JSON alone
    assert doc["analysed"] == "v_soma" and doc["metrics"]["sign"] == -1.0  # inhibitory (erev -75 mV)
    assert len(doc["traces"]["t_ms"]) == len(doc["traces"]["v_soma"]) > 100
    assert doc["trace_units"]["v_soma"] == "mV"


def test_synapse_unknown_connection_is_bad_input(example_config: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture) -> None:
    code, _, err = run(["synapse", example_config, "--connection", "Exc2Nowhere", "--json", tmp_path / "o.json"],
                       capsys)
    assert code == EXIT_BAD_INPUT
    assert "no connection type 'Exc2Nowhere'" in err and "Exc2PV" in err
    assert not (tmp_path / "o.json").exists()


def test_synapse_bad_parameter_is_bad_input(example_config: Path, capsys: pytest.CaptureFixture) -> None:
    code, _, err = run(["synapse", example_config, "--connection", "Exc2PV", "--param", "tau1=5",
                        "--param", "tau2=2"], capsys)  # tau1 >= tau2
    assert code == EXIT_BAD_INPUT
    assert "tau1" in err


def test_synaptic_table_to_csv(example_config: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "table.csv"
    code, _, err = run(["synaptic-table", example_config, "--csv", out], capsys)
    assert code == EXIT_OK, err
    df = pd.read_csv(out, keep_default_na=False)
    assert len(df) == 8 and set(df["error"]) == {""}
    assert {"amplitude_nA", "rise_time_ms", "half_width_ms", "charge_pC"} <= set(df.columns)
    assert "synaptic table [" in err and "8/8 100%" in err  # the progress line
    prov = json.loads((tmp_path / "table.csv.provenance.json").read_text())
    assert prov["kind"] == "single" and len(prov["dynamics"]) == 7  # ThalAMPA's two types share a file


def test_profile_to_json(example_config: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out.json"
    code, _, err = run(["profile", example_config, "--cell", "PV", "--fi", "0:400:200", "--fi-dur", "200",
                        "--json", out], capsys)
    assert code == EXIT_OK, err
    doc = json.loads(out.read_text())
    assert doc["cell"] == "PV"
    assert doc["passive"]["amp_nA"] == pytest.approx(-0.05) and doc["passive"]["r_in_MOhm"] > 0
    steps = doc["fi"]["steps"]
    assert [s["current_pA"] for s in steps] == [0.0, 200.0, 400.0]  # inclusive of STOP
    assert steps[0]["n_spikes"] == 0 and steps[-1]["n_spikes"] > 0
    assert doc["provenance"]["fi_pA"] == [0.0, 400.0, 200.0]
    assert "F–I PV [" in err


def test_profile_unknown_cell_is_bad_input(example_config: Path, capsys: pytest.CaptureFixture) -> None:
    code, _, err = run(["profile", example_config, "--cell", "Pyramidal", "--fi", "0:100:50"], capsys)
    assert code == EXIT_BAD_INPUT
    assert "Pyramidal" in err and "PV" in err


def test_fit_from_a_targets_file_and_save(fresh_example: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture) -> None:
    targets = tmp_path / "targets.yaml"
    targets.write_text("fit: {method: de, seed: 1, maxiter: 2, popsize: 5, polish: false}\n"
                       "connections:\n"
                       "  Exc2PV:\n"
                       "    params: {Use: [0.1, 0.9]}\n"
                       "    targets: {simple_ppr: 0.7}\n")
    dyn = _dynamics(fresh_example, "Exc2PV")
    before = json.loads(dyn.read_text())
    code, out, err = run(["fit", fresh_example, "--targets", targets, "--save"], capsys)
    assert code == EXIT_OK, err
    folder = tmp_path / "targets_fits"
    summary = json.loads((folder / "fit_summary.json").read_text())
    (row,) = summary["results"]
    assert row["connection"] == "Exc2PV" and row["error"] == "" and (folder / "Exc2PV.fit.json").is_file()
    assert json.loads(dyn.read_text())["Use"] == pytest.approx(row["best_params"]["Use"]) != before["Use"]
    prov = summary["provenance"]
    assert prov["targets_sha256"] == sha256_file(targets) and prov["dynamics"] == {str(dyn.resolve()):
                                                                                 sha256_file(dyn)}
    assert "Exc2PV" in out and "fit_error" in out


def test_run_on_two_ranks_to_json(example_config: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    summary = tmp_path / "summary.json"
    code, _, err = run(["run", example_config, "--tstop", 500, "--ranks", 2, "--json", summary,
                        "--output-dir", tmp_path / "r"], capsys)
    assert code == EXIT_OK, err
    doc = json.loads(summary.read_text())
    assert doc["ranks"] == 2 and doc["tstop_ms"] == doc["t_stop_ms"] == 500.0 and not doc["stopped"]
    assert doc["n_spikes"] > 0 and set(doc["rates_Hz"]) == {"Exc", "PV", "SST"}
    assert "on 2 MPI ranks" in err


def test_run_slurm_writes_a_job_instead(example_config: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    job = tmp_path / "job"
    code, out, err = run(["run", example_config, "--tstop", 200, "--ranks", 4, "--slurm", job,
                          "--partition", "short", "--time", "00:05:00"], capsys)
    assert code == EXIT_OK, err
    doc = json.loads(out)
    script = job / "job.sh"
    assert doc["job_script"] == str(script) and doc["submit"] == f"sbatch {script}" and doc["ranks"] == 4
    text = script.read_text()
    assert "#SBATCH --ntasks=4" in text and "#SBATCH --partition=short" in text and "--time=00:05:00" in text
    assert json.loads((job / "run_config.json").read_text())["run"]["tstop"] == 200.0
    assert not (job / "output" / "spikes.h5").exists()  # written, not run
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    assert f"sbatch {script}" in err


def _entry_point() -> list[str]:
    exe = shutil.which("bmtool-lab") or str(Path(sys.executable).parent / "bmtool-lab")
    if not Path(exe).exists():
        pytest.fail("the bmtool-lab entry point is not installed (pip install -e .)")
    return [exe]


def test_installed_entry_point(example_config: Path, tmp_path: Path) -> None:
    out = tmp_path / "single.json"
    proc = subprocess.run([*_entry_point(), "synapse", str(example_config), "--connection", "PV2Exc",
                           "--protocol", "single", "--json", str(out)], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)
    assert proc.returncode == EXIT_OK, proc.stderr
    doc = json.loads(out.read_text())
    assert doc["kind"] == "single" and doc["metrics"]["amplitude"] > 0
    assert doc["provenance"]["argv"][:2] == ["bmtool-lab", "synapse"]
    bad = subprocess.run([*_entry_point(), "synapse", str(tmp_path / "none.json"), "--connection", "X"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == EXIT_BAD_INPUT
    assert "does not exist" in bad.stderr
