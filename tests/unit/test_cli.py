"""The CLI without NEURON: help, input checks and their exit codes, connectivity end to end,
progress lines, provenance and session files. Simulating commands are in tests/sim/test_cli.py."""

from __future__ import annotations

import hashlib
import io
import json
import math
from pathlib import Path

import pandas as pd
import pytest

from bmtool_lab import cli
from bmtool_lab.cli import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, Progress, main
from bmtool_lab.session import SessionError, jsonable, load_session, provenance, sha256_file

pytestmark = pytest.mark.unit

COMMANDS = ["demo", "connections", "synapse", "synaptic-table", "fit", "profile", "connectivity"]


def run(argv: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str, capsys: pytest.CaptureFixture) -> None:
    code, out, _ = run([command, "--help"], capsys)
    assert code == EXIT_OK
    assert out.startswith("usage: bmtool-lab " + command)


def test_top_level_help_lists_commands_and_exit_codes(capsys: pytest.CaptureFixture) -> None:
    code, out, _ = run(["--help"], capsys)
    assert code == EXIT_OK
    for command in COMMANDS:
        assert command in out
    assert "Exit codes" in out


def test_help_says_the_units(capsys: pytest.CaptureFixture) -> None:
    _, out, _ = run(["profile", "--help"], capsys)
    assert "in pA" in out and "0:500:25" in out
    _, out, _ = run(["synapse", "--help"], capsys)
    assert "in Hz" in out and "in ms" in out


def test_the_issue_options_exist() -> None:
    """Every option exactly as the issue writes it parses."""
    parser = cli.build_parser()
    for argv in (["demo", "--no-browser"], ["connections", "c.json"],
                 ["synapse", "c.json", "--connection", "X", "--protocol", "train", "--freq", "50", "--delay", "250",
                  "--clamp", "current", "--json", "out.json"],
                 ["synaptic-table", "c.json", "--csv", "table.csv"],
                 ["fit", "c.json", "--targets", "targets.yaml", "--save", "--dask-scheduler", "tcp://h:8786"],
                 ["profile", "c.json", "--cell", "PV", "--fi", "0:500:25", "--json", "out.json"],
                 ["connectivity", "c.json", "--metric", "percent", "--group-by", "pop_name", "--csv", "out.csv"]):
        parser.parse_args(argv)


def test_quiet_before_or_after_the_command() -> None:
    parser = cli.build_parser()
    assert parser.parse_args(["-q", "connections", "c.json"]).quiet
    assert parser.parse_args(["connections", "c.json", "--quiet"]).quiet
    assert not parser.parse_args(["connections", "c.json"]).quiet


def test_usage_error_is_bad_input(capsys: pytest.CaptureFixture) -> None:
    code, _, err = run(["synapse", "c.json"], capsys)  # --connection missing
    assert code == EXIT_BAD_INPUT
    assert "--connection" in err


def test_metric_choices_match_the_explorer() -> None:
    from bmtool_lab.tuning.connectivity import METRICS

    assert tuple(METRICS) == cli.CONNECTIVITY_METRICS


# --- bad input: exit 2 with a message, before any simulation ---------------------------------
def _commands(config: Path, out: Path) -> dict[str, list]:
    return {
        "connections": ["connections", config],
        "synapse": ["synapse", config, "--connection", "Exc2PV", "--json", out / "r.json"],
        "synaptic-table": ["synaptic-table", config, "--csv", out / "t.csv"],
        "fit": ["fit", config, "--targets", out / "targets.yaml"],
        "profile": ["profile", config, "--cell", "PV", "--fi", "0:100:50", "--json", out / "p.json"],
        "connectivity": ["connectivity", config, "--csv", out / "c.csv"],
    }


@pytest.mark.parametrize("command", ["connections", "synapse", "synaptic-table", "fit", "profile", "connectivity"])
def test_missing_config_is_bad_input(command: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    argv = _commands(tmp_path / "nowhere" / "simulation_config.json", tmp_path)[command]
    code, _, err = run(argv, capsys)
    assert code == EXIT_BAD_INPUT
    assert "does not exist" in err and "simulation_config.json" in err


@pytest.mark.parametrize("command", ["connections", "synapse", "connectivity"])
def test_config_that_is_not_json_is_bad_input(command: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "simulation_config.json"
    bad.write_text("{not json")
    code, _, err = run(_commands(bad, tmp_path)[command], capsys)
    assert code == EXIT_BAD_INPUT
    assert "not valid JSON" in err


@pytest.mark.parametrize("command", ["synapse", "synaptic-table", "profile", "connectivity"])
@pytest.mark.parametrize("where", ["under_a_file", "missing_dir", "a_directory"])
def test_unwritable_output_is_bad_input(command: str, where: str, example_config: Path, tmp_path: Path,
                                        capsys: pytest.CaptureFixture) -> None:
    a_file = tmp_path / "a_file.txt"
    a_file.write_text("x")
    target = {"under_a_file": a_file / "sub", "missing_dir": tmp_path / "missing" / "deeper",
              "a_directory": tmp_path}[where]
    argv = _commands(example_config, target)[command]
    if where == "a_directory":  # the output path itself is a directory
        argv[-1] = tmp_path
    code, _, err = run(argv, capsys)
    assert code == EXIT_BAD_INPUT
    expected = {"under_a_file": "is a file, not a directory", "missing_dir": "does not exist",
                "a_directory": "is a directory"}[where]
    assert expected in err


def test_bad_ranges_and_params_are_bad_input(example_config: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture) -> None:
    code, _, err = run(["profile", example_config, "--cell", "PV", "--fi", "0:500"], capsys)
    assert code == EXIT_BAD_INPUT and "START:STOP:STEP" in err
    code, _, err = run(["profile", example_config, "--cell", "PV", "--fi", "0:500:-5"], capsys)
    assert code == EXIT_BAD_INPUT and "STEP > 0" in err
    code, _, err = run(["profile", example_config, "--cell", "PV", "--zap", "5"], capsys)
    assert code == EXIT_BAD_INPUT and "F0:F1" in err
    code, _, err = run(["synapse", example_config, "--connection", "Exc2PV", "--param", "tau2"], capsys)
    assert code == EXIT_BAD_INPUT and "NAME=VALUE" in err


def test_fit_missing_targets_is_bad_input(example_config: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture) -> None:
    code, _, err = run(["fit", example_config, "--targets", tmp_path / "none.yaml"], capsys)
    assert code == EXIT_BAD_INPUT
    assert "targets file" in err


def test_fit_targets_are_checked_before_fitting(example_config: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture) -> None:
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("connections:\n  Exc2Nowhere: {params: {Use: [0.1, 0.9]}, targets: {simple_ppr: 1}}\n")
    code, _, err = run(["fit", example_config, "--targets", unknown], capsys)
    assert code == EXIT_BAD_INPUT
    assert "no connection type 'Exc2Nowhere'" in err and "Exc2PV" in err
    broken = tmp_path / "broken.yaml"
    broken.write_text("connections: [\n")
    code, _, err = run(["fit", example_config, "--targets", broken], capsys)
    assert code == EXIT_BAD_INPUT and "not valid YAML" in err
    empty = tmp_path / "empty.json"
    empty.write_text("{}")
    code, _, err = run(["fit", example_config, "--targets", empty], capsys)
    assert code == EXIT_BAD_INPUT and "lists 'connections'" in err
    good = tmp_path / "targets.yaml"
    good.write_text("connections:\n  Exc2PV: {params: {Use: [0.1, 0.9]}, targets: {simple_ppr: 0.7}}\n")
    a_file = tmp_path / "a_file.txt"
    a_file.write_text("x")
    for out, expected in ((a_file, "it is a file"), (a_file / "sub", "is a file, not a directory"),
                          (tmp_path / "missing" / "fits", "does not exist")):
        code, _, err = run(["fit", example_config, "--targets", good, "--out", out], capsys)
        assert code == EXIT_BAD_INPUT and expected in err, err
    assert not list(tmp_path.glob("*_fits"))  # nothing ran


def test_fit_without_the_optimizer_says_so(example_config: Path, tmp_path: Path, capsys: pytest.CaptureFixture,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    targets = tmp_path / "targets.yaml"
    targets.write_text("Exc2PV: {}\n")
    monkeypatch.setitem(sys.modules, "bmtool_lab.tuning.optimizer", None)  # import fails
    code, _, err = run(["fit", example_config, "--targets", targets], capsys)
    assert code == EXIT_FAILED
    assert "optimizer not available" in err


# --- connectivity end to end (no NEURON) ------------------------------------------------------
def test_connectivity_csv_with_provenance(example_config: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture) -> None:
    from bmtool_lab.tuning.connectivity import ConnectivityExplorer

    out = tmp_path / "out.csv"
    code, _, err = run(["connectivity", example_config, "--metric", "percent", "--group-by", "pop_name",
                        "--csv", out], capsys)
    assert code == EXIT_OK, err
    df = pd.read_csv(out, index_col=0)
    expected = ConnectivityExplorer(example_config).matrix("percent", group_by="pop_name")
    pd.testing.assert_frame_equal(df, expected, check_names=False, check_index_type=False,
                                  check_column_type=False)
    prov = json.loads((tmp_path / "out.csv.provenance.json").read_text())
    assert prov["config"] == str(example_config.resolve())
    assert prov["config_sha256"] == hashlib.sha256(example_config.read_bytes()).hexdigest()
    assert prov["parameters"]["metric"] == "percent" and prov["parameters"]["group_by"] == "pop_name"
    assert prov["matrix"]["units"] == "%"
    for key in ("bmtool_lab", "neuron", "bmtk", "numpy", "python", "platform", "timestamp", "seed"):
        assert key in prov
    assert prov["neuron"] and prov["bmtk"]


def test_connectivity_to_stdout_and_bmtool_convention(example_config: Path, capsys: pytest.CaptureFixture) -> None:
    code, out, _ = run(["connectivity", example_config, "--metric", "convergence", "--stat", "max"], capsys)
    assert code == EXIT_OK
    assert "target pop_name" in out and "Exc" in out
    code, out, _ = run(["connectivity", example_config, "--csv", "-", "--convention", "bmtool"], capsys)
    assert code == EXIT_OK
    assert out.splitlines()[0].startswith("source pop_name")
    assert '#  "bmtool_lab"' in out  # provenance follows as comment lines


def test_connectivity_unknown_group_by_is_bad_input(example_config: Path, capsys: pytest.CaptureFixture) -> None:
    code, _, err = run(["connectivity", example_config, "--group-by", "no_such_attribute"], capsys)
    assert code == EXIT_BAD_INPUT
    assert "no_such_attribute" in err and "pop_name" in err


def test_connectivity_unknown_population_is_bad_input(example_config: Path, capsys: pytest.CaptureFixture) -> None:
    code, _, err = run(["connectivity", example_config, "--sources", "nowhere"], capsys)
    assert code == EXIT_BAD_INPUT
    assert "nowhere" in err


def test_connections_table_and_json(example_config: Path, capsys: pytest.CaptureFixture) -> None:
    code, out, _ = run(["connections", example_config], capsys)
    assert code == EXIT_OK and "Exc2PV" in out
    code, out, _ = run(["connections", example_config, "--json"], capsys)
    assert code == EXIT_OK
    assert {r["name"] for r in json.loads(out)} >= {"Exc2PV", "PV2Exc"}


# --- progress ---------------------------------------------------------------------------------
def test_progress_in_a_log_writes_a_line_per_quarter() -> None:
    buf = io.StringIO()
    bar = Progress("sweep", 8, stream=buf)
    for _ in range(8):
        bar.step()
    bar.close()
    lines = buf.getvalue().splitlines()
    assert len(lines) == 5  # 0 %, 25 %, 50 %, 75 %, 100 %
    assert lines[-1].startswith("sweep [########################] 8/8 100%")


def test_progress_quiet_writes_nothing() -> None:
    buf = io.StringIO()
    bar = Progress("sweep", 3, stream=buf, enabled=False)
    bar.step(3)
    bar.close()
    assert buf.getvalue() == ""


# --- provenance and session files --------------------------------------------------------------
def test_jsonable_makes_strict_json() -> None:
    import numpy as np

    data = {"a": np.float32(1.5), "b": np.array([1.0, np.nan]), "c": (1, 2), "d": math.inf, "e": Path("/x")}
    text = json.dumps(jsonable(data), allow_nan=False)
    assert json.loads(text) == {"a": 1.5, "b": [1.0, None], "c": [1, 2], "d": None, "e": "/x"}


def test_provenance_hashes_config_circuit_and_dynamics(example_config: Path) -> None:
    dyn = example_config.parent / "components" / "synaptic_models" / "Exc2PV.json"
    prov = provenance(example_config, dynamics=[dyn], parameters={"tau2": 3.0}, seed=7)
    circuit = example_config.parent / "circuit_config.json"
    assert prov["files"][str(circuit.resolve())] == sha256_file(circuit)
    assert prov["dynamics"] == {str(dyn.resolve()): sha256_file(dyn)}
    assert prov["seed"] == 7 and prov["parameters"] == {"tau2": 3.0}
    assert prov["timestamp"].endswith("+00:00")


def test_load_session_rejects_what_is_not_a_session(tmp_path: Path) -> None:
    with pytest.raises(SessionError, match="not a bmtool_lab session"):
        load_session({"kind": "synapse_tuner"})
    with pytest.raises(SessionError, match="newer"):
        load_session({"format": "bmtool_lab.session", "version": 99, "kind": "synapse_tuner"})
    with pytest.raises(SessionError, match="unknown session kind"):
        load_session({"format": "bmtool_lab.session", "version": 1, "kind": "plotter"})
    bad = tmp_path / "s.json"
    bad.write_text("{")
    with pytest.raises(SessionError, match="not valid JSON"):
        load_session(bad)
    with pytest.raises(SessionError, match="cannot read"):
        load_session(tmp_path / "missing.json")


def test_explorer_session_round_trip(example_config: Path, tmp_path: Path) -> None:
    from bmtool_lab.session import export_session, open_session, to_python
    from bmtool_lab.tuning.connectivity import ConnectivityExplorer

    explorer = ConnectivityExplorer(example_config, group_by="ei")
    query = {"metric": "convergence", "group_by": "pop_name", "stat": "max", "count": "synapses"}
    state = export_session(explorer, tmp_path / "conn.session.json", query=query)
    assert json.loads((tmp_path / "conn.session.json").read_text()) == state
    again = open_session(tmp_path / "conn.session.json")
    assert again.group_by == "ei"
    q = dict(state["query"])
    pd.testing.assert_frame_equal(again.matrix(q.pop("metric"), **q), explorer.matrix(**query))
    ns: dict = {}
    exec(to_python(state), ns)
    pd.testing.assert_frame_equal(ns["conn"].matrix(**query), explorer.matrix(**query))


def test_explorer_dashboard_session_restores_the_pickers(example_config: Path) -> None:
    from bmtool_lab.session import export_session, open_session
    from bmtool_lab.tuning.connectivity import ConnectivityExplorer

    explorer = ConnectivityExplorer(example_config)
    dash = explorer.dashboard(metric="divergence")
    dash.stat.value = "max"
    dash.count.value = "synapses"
    state = export_session(dash)
    assert state["dashboard"] and state["query"]["stat"] == "max"
    again = open_session(state)
    assert again.dashboard().query() == dash.query()
