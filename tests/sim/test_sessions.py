"""Sessions re-open to the same state: the metrics of a run before export and after re-opening
(and after running the exported Python snippet) are the same."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import pytest

from bmtool_lab.session import SessionError, export_session, open_session, to_python
from bmtool_lab.tuning.profiler import CellProfiler
from bmtool_lab.tuning.synapse import SynapseTuner

pytestmark = pytest.mark.sim


def same_metrics(a: dict, b: dict, rel: float = 1e-9) -> bool:
    """Equal metrics (NaN equals NaN; lists element-wise)."""
    if a.keys() != b.keys():
        return False
    for k in a:
        x, y = a[k], b[k]
        if isinstance(x, list):
            if len(x) != len(y) or not all(math.isclose(p, q, rel_tol=rel, abs_tol=1e-15) for p, q in zip(x, y, strict=True)):
                return False
        elif isinstance(x, float) and math.isnan(x):
            if not (isinstance(y, float) and math.isnan(y)):
                return False
        elif isinstance(x, (int, float)):
            if not math.isclose(x, y, rel_tol=rel, abs_tol=1e-15):
                return False
        elif x != y:
            return False
    return True


def test_tuner_session_reopens_to_the_same_state(example_config: Path, tmp_path: Path) -> None:
    with SynapseTuner(example_config, connection="Exc2PV") as tuner:
        tuner.set_protocol(freq=20, delay=125)
        tuner.set_params(tau2=4.0, Use=0.3)
        pinned = tuner.run_train()
        tuner.pin()
        tuner.set_params(Dep=200.0)  # the current parameters differ from the pinned run's
        tuner.select("PV2Exc")
        tuner.set_params(tau2=10.0)  # unsaved tuning of another connection
        tuner.select("Exc2PV")
        before = tuner.run_train()
        path = tmp_path / "tuner.session.json"
        state = export_session(tuner, path)
        snippet = to_python(tuner)
        protocol, params, unsaved = tuner.protocol, tuner.params, sorted(tuner.unsaved)
    assert json.loads(path.read_text()) == state
    assert state["selection"] == "Exc2PV" and state["protocol_changes"] == {"freq_hz": 20, "delay_ms": 125}
    assert state["provenance"]["dynamics"]  # hashes of Exc2PV.json and PV2Exc.json

    with open_session(path) as again:
        assert again.name == "Exc2PV" and again.protocol == protocol and again.params == params
        assert sorted(again.unsaved) == unsaved
        assert again.pinned is not None and again.pinned.params == pinned.params
        assert same_metrics(again.pinned.metrics, pinned.metrics)
        assert same_metrics(again.run_train().metrics, before.metrics)
        again.select("PV2Exc")
        assert again.params["tau2"] == 10.0

    assert "SynapseTuner(" in snippet and "tuner.set_params(tau2=4.0, Use=0.3, Dep=200.0)" in snippet
    ns: dict = {}
    exec(snippet, ns)
    with ns["tuner"] as from_code:
        assert from_code.name == "Exc2PV" and from_code.protocol == protocol and from_code.params == params
        assert same_metrics(from_code.pinned.metrics, pinned.metrics)


def test_bmtool_convention_session(example_config: Path) -> None:
    with SynapseTuner(example_config, connection="PV2Exc", convention="bmtool") as tuner:
        before = tuner.run_single()
        state = export_session(tuner)
    assert state["convention"] == "bmtool" and state["protocol_changes"] == {}  # bmtool's defaults: implied
    assert "convention='bmtool'" in to_python(state)
    with open_session(state, rerun_pinned=False) as again:
        assert again.convention == "bmtool" and not again.protocol.cvode
        assert same_metrics(again.run_single().metrics, before.metrics)


def test_changed_files_warn_and_session_values_win(fresh_example: Path) -> None:
    with SynapseTuner(fresh_example, connection="PV2Exc") as tuner:
        tuner.set_params(tau2=12.0)
        state = export_session(tuner)
    dyn = fresh_example.parent / "components" / "synaptic_models" / "PV2Exc.json"
    data = json.loads(dyn.read_text())
    data["tau1"] = 0.7
    dyn.write_text(json.dumps(data))
    with pytest.warns(UserWarning, match="changed since the session was exported"):
        again = open_session(state)
    with again:
        assert again.params["tau1"] == 0.5 and again.params["tau2"] == 12.0  # the session's values


def test_tuner_without_a_config_cannot_be_exported(tmp_path: Path) -> None:
    class Bare:  # what a template-built tuner looks like to the session code
        config = None

    Bare.__name__ = "SynapseTuner"
    with pytest.raises(SessionError, match="BMTK config"):
        export_session(Bare())


def test_profiler_session_reopens_to_the_same_state(example_config: Path, tmp_path: Path) -> None:
    with CellProfiler(example_config) as prof:
        prof.select("SST")
        prof.threshold_mV = -10.0
        prof.set_run_settings("SST", dt=0.05)
        prof.set_cell_params({"soma": {"cm": 1.5}})
        before = prof.passive().to_dict()
        state = export_session(prof, tmp_path / "prof.session.json")
        snippet = to_python(prof)
        settings, params = prof.settings_for(), prof.cell_params()
    assert state["run_changes"] == {"SST": {"dt": 0.05}}
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # nothing changed on disk: no warning
        again = open_session(tmp_path / "prof.session.json")
    with again:
        assert again.current == "SST" and again.threshold_mV == -10.0
        assert again.settings_for() == settings and again.cell_params() == params
        assert same_metrics(again.passive().to_dict(), before)
    assert "prof.set_run_settings('SST', dt=0.05)" in snippet
    ns: dict = {}
    exec(snippet, ns)
    with ns["prof"] as from_code:
        assert from_code.current == "SST" and from_code.settings_for() == settings
        assert from_code.cell_params() == params and from_code.threshold_mV == -10.0
