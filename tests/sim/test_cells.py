"""Every cell kind from a BMTK config built in the test: hoc template, Allen Biophys1
(perisomatic and all-active, through bmtk's own processing), an swc + json pair given directly,
NeuroML through bmtk, and clear errors for point/virtual types and bad templates."""

from __future__ import annotations

import pickle

import pytest
import simjobs
from conftest import ALLEN_FIT, ALLEN_MODS, ALLEN_SWC

from bmtool_lab.model.cell_types import CellType, find_cell_type
from bmtool_lab.sim.errors import SimError
from bmtool_lab.sim.worker import InteractiveWorker

pytestmark = pytest.mark.sim


@pytest.fixture(scope="module")
def worker():
    with InteractiveWorker("cells", timeout_s=120) as w:
        yield w


def test_cell_types_from_the_config(cell_types):
    by_name = {ct.name: ct for ct in cell_types}
    assert set(by_name) == {"BS", "Scnn1a", "Scnn1aAA", "NMLcell", "IF", "LGN", "Args"}
    assert by_name["BS"].kind == "hoc" and by_name["BS"].template_name == "BallStick"
    assert by_name["BS"].population == "net" and by_name["BS"].n_nodes == 2
    assert by_name["Scnn1a"].kind == "allen" and by_name["Scnn1a"].morphology_path.exists()
    assert by_name["Scnn1a"].dynamics_params_path.exists() and by_name["Scnn1a"].attribute("ei") == "e"
    assert by_name["NMLcell"].kind == "nml"
    assert by_name["LGN"].population == "lgn" and not by_name["LGN"].simulatable
    assert "virtual" in by_name["LGN"].reason
    assert not by_name["IF"].simulatable and "point neuron" in by_name["IF"].reason
    assert all(ct.simulatable for n, ct in by_name.items() if n not in ("IF", "LGN"))
    assert pickle.loads(pickle.dumps(by_name["Scnn1a"])) == by_name["Scnn1a"]


def test_hoc_template_builds_and_names_sections(worker, cell_types):
    res = worker.call(simjobs.build_and_probe, cell_type=find_cell_type(cell_types, "BS"))
    assert res["names"] == ["soma", "dend[0]", "dend[1]"]
    assert res["vmax"] > res["vmin"] + 5  # the step depolarised the soma
    assert res["after"] == res["before"]
    assert worker.call(simjobs.section_probe, cell_type=find_cell_type(cell_types, "BS"), name="dend[1]").endswith(
        "dend[1]")
    with pytest.raises(SimError) as info:
        worker.call(simjobs.section_probe, cell_type=find_cell_type(cell_types, "BS"), name="apic[0]")
    assert info.value.kind == "model" and "dend[0..1]" in info.value.message


@pytest.mark.parametrize("name", ["Scnn1a", "Scnn1aAA"])
def test_allen_biophys1_cells_through_bmtk(worker, cell_types, name):
    res = worker.call(simjobs.build_and_probe, cell_type=find_cell_type(cell_types, name), amp_nA=0.4)
    assert {n.split("[")[0] for n in res["names"]} >= {"soma", "dend", "axon"}
    assert sum(n.startswith("axon") for n in res["names"]) == 2  # bmtk's axon stub replaced the axon
    assert res["vmax"] > 0, "the perisomatic model spikes under a 0.4 nA step"
    assert res["after"] == res["before"], "deleting the cell frees all its sections"


def test_allen_swc_json_pair_given_directly(worker, bmtk_model):
    mechs = bmtk_model.parent / "components" / "mechanisms"
    ct = CellType.from_allen(ALLEN_SWC, ALLEN_FIT, mechanisms_dir=mechs)
    assert ct.kind == "allen" and ct.simulatable
    res = worker.call(simjobs.build_and_probe, cell_type=ct, amp_nA=0.4)
    assert res["vmax"] > 0


def test_allen_cell_without_its_mechanisms_is_a_mechanisms_error(cell_types):
    ct = find_cell_type(cell_types, "Scnn1a").with_changes(mechanisms_dir=None)
    with InteractiveWorker("bare", timeout_s=60) as fresh:  # nothing loaded in this one
        with pytest.raises(SimError) as info:
            fresh.call(simjobs.build_and_probe, cell_type=ct)
    assert info.value.kind == "mechanisms" and "NaTs" in info.value.message
    assert str(ALLEN_MODS.name) in info.value.message


def test_neuroml_cell_through_bmtk(worker, cell_types):
    res = worker.call(simjobs.build_and_probe, cell_type=find_cell_type(cell_types, "NMLcell"), amp_nA=0.05)
    assert res["during"] > res["before"]
    assert -75 < res["vmin"] and res["vmax"] < 0  # passive: depolarised a little, no spikes


@pytest.mark.parametrize("name,words", [("IF", "point neuron"), ("LGN", "virtual")])
def test_point_and_virtual_types_are_not_simulatable(worker, cell_types, name, words):
    with pytest.raises(SimError) as info:
        worker.call(simjobs.build_and_probe, cell_type=find_cell_type(cell_types, name))
    assert info.value.kind == "model" and words in info.value.message


def test_template_that_needs_arguments_is_named(worker, cell_types):
    with pytest.raises(SimError) as info:
        worker.call(simjobs.build_and_probe, cell_type=find_cell_type(cell_types, "Args"))
    assert info.value.kind == "model" and "NeedsArgs" in info.value.message and "$1" in info.value.message
    ok = find_cell_type(cell_types, "Args").with_changes(template_args=(15.0,))
    assert worker.call(simjobs.build_and_probe, cell_type=ok)["names"] == ["soma"]


def test_missing_template_and_bad_hoc_file(worker, tmp_path):
    with pytest.raises(SimError) as info:
        worker.call(simjobs.build_and_probe, cell_type=CellType.from_hoc("Nope", templates_dir=tmp_path))
    assert info.value.kind == "model" and "Nope" in info.value.message
    bad = tmp_path / "bad.hoc"
    bad.write_text("begintemplate Broken\npublic soma\ncreate soma\nproc init() { soma { L = } }\nendtemplate Broken\n")
    with pytest.raises(SimError) as info:
        worker.call(simjobs.build_and_probe, cell_type=CellType.from_hoc("Broken", hoc_file=bad))
    assert info.value.kind == "hoc"
    assert "syntax error" in info.value.detail or "error" in info.value.detail.lower()


def test_example_network_cell_types(worker, tmp_path):
    examples = pytest.importorskip("bmtool_lab.examples")
    build_example = getattr(examples, "build_example", None)
    if build_example is None:
        pytest.skip("the example network is not there yet")
    from bmtool_lab.model.cell_types import list_cell_types

    types = [ct for ct in list_cell_types(build_example(tmp_path)) if ct.simulatable]
    assert types
    for ct in types:
        res = worker.call(simjobs.build_and_probe, cell_type=ct)
        assert res["after"] == res["before"]
