"""Reading a model's own bmtk hooks by syntax (issue 13): which synapse models and weight
functions its files register, which functions register them, and whether importing a file
would run more than definitions (a run script without a ``__main__`` guard)."""

from __future__ import annotations

from bmtool_lab.model.python_hooks import find_model_hooks, read_hook_file, synapse_hook, weight_hook
from tests.unit.sonata_factory import BMTK_SYNAPSES_PY


def test_bmtk_synapses_py_pattern(tmp_path):
    (tmp_path / "synapses.py").write_text(BMTK_SYNAPSES_PY)
    hooks = find_model_hooks([tmp_path, tmp_path])  # a folder listed twice is read once
    assert len(hooks) == 1
    hook = hooks[0]
    assert hook.synapse_models == (("exp2syn_scaled", "exp2syn_scaled"),)
    assert hook.weight_functions == (("weight_per_synapse", "weight_per_synapse"),)
    assert hook.loaders == ("load",) and hook.unsafe == ""
    assert hook.mechanism_of("exp2syn_scaled") == "Exp2Syn"
    assert synapse_hook(hooks, "exp2syn_scaled") == (hook, "exp2syn_scaled")
    assert weight_hook(hooks, "weight_per_synapse") == (hook, "weight_per_synapse")
    assert synapse_hook(hooks, "Exp2Syn") is None and weight_hook(hooks, None) is None


def test_decorators_registry_order_and_names(tmp_path):
    path = tmp_path / "syns.py"
    path.write_text('''
"""doc"""
import json
from neuron import h
from bmtk.simulator.bionet.pyfunction_cache import synapse_model, synaptic_weight, py_modules
PARAMS = {"a": 1}

@synapse_model
def AMPA_NMDA(syn_params, x, sec):
    v = h.Vector()
    return h.ProbAMPANMDA(x, sec=sec)

@synapse_model(name="gaba_b")
def make_gaba(syn_params, x, sec):
    return h.GABAb(x, sec=sec)

@synaptic_weight(name="wscaled")
def w(edge, src, trg):
    return edge["syn_weight"]

def pyr(syn_params, x, sec):
    return h.Pyr2Pyr(x, sec=sec)

py_modules.add_synapse_model("pyr2pyr", pyr)

if __name__ == "__main__":
    raise SystemExit(run())
''')
    hook = read_hook_file(path)
    assert dict(hook.synapse_models) == {"AMPA_NMDA": "AMPA_NMDA", "gaba_b": "make_gaba", "pyr2pyr": "pyr"}
    assert hook.weight_functions == (("wscaled", "w"),)
    # the first h.Name() that is a mechanism, not h.Vector()
    assert hook.mechanism_of("AMPA_NMDA") == "ProbAMPANMDA" and hook.mechanism_of("pyr") == "Pyr2Pyr"
    assert hook.unsafe == ""  # definitions, a registering call and a __main__ guard only


def test_a_run_script_without_a_main_guard_is_not_imported(tmp_path):
    path = tmp_path / "run_bionet.py"
    path.write_text('''
from bmtk.simulator import bionet
from bmtk.simulator.bionet.pyfunction_cache import add_synapse_model
from neuron import h
def fast(syn_params, x, sec):
    return h.Exp2Syn(x, sec=sec)
add_synapse_model(fast, "fast")
conf = bionet.Config.from_json("config.json")
net = bionet.BioNetwork.from_config(conf)
sim = bionet.BioSimulator.from_config(conf, network=net)
sim.run()
''')
    (tmp_path / "synapses.py").write_text(BMTK_SYNAPSES_PY)
    hooks = {h.path.name: h for h in find_model_hooks([tmp_path])}
    assert set(hooks) == {"run_bionet.py", "synapses.py"}
    assert hooks["run_bionet.py"].synapse_models == (("fast", "fast"),)
    assert "line 8 runs code at import" in hooks["run_bionet.py"].unsafe  # the network build
    assert hooks["synapses.py"].unsafe == ""


def test_files_that_register_nothing_are_ignored(tmp_path):
    (tmp_path / "build.py").write_text("import numpy\nprint('building')\n")
    (tmp_path / "broken.py").write_text("def add_synapse_model(:\n")  # a syntax error is not a hook
    assert find_model_hooks([tmp_path]) == ()
