"""A model's own synapse and weight functions (bmtk's ``synapses.py`` with ``add_synapse_model``
and ``add_weight_function``, issue 13): the tuner builds the synapse with the model's function
and takes the NetCon weight from its weight function, as BioNet does, says so, and is checked
against the Exp2Syn closed form. The function here renames and computes its parameters
(``reversal`` -> e, ``rise_ms`` -> tau1, tau2 = rise_ms · decay_factor), so setting the file's
keys by name, as before, built a default Exp2Syn (tau2 10 ms) with syn_weight 0.001."""

from __future__ import annotations

import json

import pytest

from bmtool_lab import SynapseTuner
from bmtool_lab.tuning.synapse import TunerError
from tests.unit.sonata_factory import bmtk_model

pytestmark = pytest.mark.sim

HOLD_MV = -70.0


@pytest.fixture(scope="module")
def hooked(tmp_path_factory):
    return bmtk_model(tmp_path_factory.mktemp("hooked"), "dot", synapses_py=True)


def scaled(tn: SynapseTuner):
    tn.select("Scaled")
    tn.set_protocol(t_start_ms=50.0, hold_mV=HOLD_MV, window_ms=60.0)
    return tn


def test_the_models_function_builds_the_synapse_and_its_weight_function_the_weight(hooked):
    with SynapseTuner(hooked) as tn:
        scaled(tn)
        assert tn.mechanism == "Exp2Syn"
        # weight_per_synapse: syn_weight 0.001 µS · 2 · the source's strength (HCOCell2: 1.0)
        assert tn._st().weight_uS == pytest.approx(0.002, rel=1e-12)
        res = tn.run_single()
        assert any("exp2syn_scaled()" in n and "add_synapse_model" in n for n in res.notes), res.notes
        assert any("weight function 'weight_per_synapse'" in n for n in res.notes), res.notes
        # Exp2Syn's closed form under voltage clamp: peak = w · |V_hold − e| (its factor normalises
        # the peak to 1): 0.002 µS · 70 mV = 0.14 nA
        assert res.no_response is None
        assert res.metrics["amplitude"] == pytest.approx(0.002 * abs(HOLD_MV - 0.0), rel=2e-3)
        tau_8 = res.metrics["decay_tau_ms"]
        assert tau_8 == pytest.approx(0.5 * 8.0, rel=0.05)  # tau2 = rise_ms · decay_factor
        # the file's own key drives the function: halving decay_factor halves the decay
        assert {"reversal", "rise_ms", "decay_factor"} <= {p.name for p in tn.param_specs}
        tn.set_params(decay_factor=4.0)
        tau_4 = tn.run_single().metrics["decay_tau_ms"]
        assert tau_4 == pytest.approx(0.5 * 4.0, rel=0.06) and tau_4 < 0.6 * tau_8
        # a mechanism parameter the function overwrites does nothing in BioNet either: said so
        tn.set_params(tau2=50.0)
        res = tn.run_single()
        assert res.metrics["decay_tau_ms"] == pytest.approx(tau_4, rel=1e-3)
        assert any("tau2: the model's exp2syn_scaled() sets 2" in n for n in res.notes), res.notes


def test_a_failing_model_function_is_a_clear_error(tmp_path):
    config = bmtk_model(tmp_path, "dot", synapses_py=True)
    dyn = tmp_path / "bio_components" / "synaptic_models" / "Scaled.json"
    dyn.write_text(json.dumps({"reversal": 0.0, "rise_ms": 0.5}))  # no decay_factor
    with SynapseTuner(config) as tn:
        with pytest.raises(Exception, match=r"exp2syn_scaled\(\) failed: KeyError: 'decay_factor'"):
            tn.select("Scaled")
        tn.select("GABA_InhToExc")  # the worker survives: the other connections still run
        tn.set_protocol(t_start_ms=50.0, hold_mV=-40.0)
        assert tn.run_single().metrics["amplitude"] > 0


def test_a_hook_file_that_runs_code_at_import_is_not_run(tmp_path):
    config = bmtk_model(tmp_path, "dot", synapses_py=True)
    syn_py = tmp_path / "model" / "synapses.py"
    syn_py.write_text(syn_py.read_text() + "\nprint('building the network...')\n")
    with SynapseTuner(config) as tn:
        with pytest.raises(TunerError, match=r"synapses.py registers 'exp2syn_scaled'.*not run: line \d+ runs code"):
            tn.select("Scaled")
