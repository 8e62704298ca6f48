"""list_connection_types: one type per (edge population, edge_type_id), named like bmtool."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sonata_factory import (
    Edges,
    Nodes,
    five_node_network,
    network_dir,
    write_config,
    write_edges,
    write_nodes,
)

from bmtool_lab.model.connection_types import (
    connection_type_by_name,
    default_group_attribute,
    list_connection_types,
)

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def types(tmp_path_factory):
    return {t.name: t for t in list_connection_types(five_node_network(tmp_path_factory.mktemp("types")))}


def test_names_are_unique_and_follow_the_dynamics_file(types):
    assert list(types) == ["A2A (recurrent:10)", "A2B", "B2A", "B2B", "A2A (recurrent:14)", "Gap (recurrent)",
                           "AMPA", "Gap (electrical)"]
    # ids repeat across files: the identity is (edge population, edge_type_id)
    assert types["Gap (electrical)"].key == ("electrical", 10) != types["A2A (recurrent:10)"].key


def test_fields_from_the_edge_types_csv(types):
    t = types["A2A (recurrent:10)"]
    assert (t.source_population, t.target_population) == ("cortex", "cortex")
    assert t.source_groups == ("A",) and t.target_groups == ("A",)
    assert (t.n_edges, t.n_synapses) == (4, 7)
    assert t.model_template == "Exp2Syn" and t.dynamics_params == "A2A.json"
    assert t.dynamics_path.name == "A2A.json" and t.dynamics_path.exists()
    assert t.load_dynamics()["tau2"] == 3.0
    assert (t.syn_weight, t.delay) == (0.5, 1.0)
    assert t.target_sections == ("somatic", "basal") and t.distance_range == (0.0, 150.0)
    assert t.attrs["source_query"] == "pop_name=='A'"
    assert not t.is_gap_junction and t.group_attribute == "pop_name"
    assert "syn_weight" in t.edge_properties
    assert types["A2B"].target_sections == ("somatic",)


def test_fallbacks(types):
    a2b = types["A2B"]  # no syn_weight in the CSV: the mean of the per-edge values
    assert a2b.syn_weight == pytest.approx(1.5) and a2b.attrs["syn_weight_source"] == "edges (mean)"
    assert types["B2B"].model_template == "exp2syn"  # from the JSON's level_of_detail
    ampa = types["AMPA"]
    assert ampa.source_groups == ("in",) and ampa.target_groups == ("A", "B")
    assert (ampa.n_edges, ampa.n_synapses) == (3, 4)
    assert "AMPA" in ampa.describe() and "in → A/B" in ampa.describe()


def test_gap_junction_types_are_flagged(types):
    assert types["Gap (recurrent)"].is_gap_junction and types["Gap (electrical)"].is_gap_junction
    assert "gap junction" in types["Gap (electrical)"].describe()


def test_types_without_dynamics_file_and_without_pop_name(tmp_path):
    d = network_dir(tmp_path)
    nodes = write_nodes(d / "n.h5", d / "n.csv", {"cortex": Nodes([7, 7, 8])},
                        [{"node_type_id": 7, "model_name": "pyr"}, {"node_type_id": 8, "model_name": "bask"}])
    edges = write_edges(d / "e.h5", d / "e.csv", {"local": Edges([0, 2], [2, 0], "cortex", "cortex", [1, 2])},
                        [{"edge_type_id": 1, "model_template": "Exp2Syn"}, {"edge_type_id": 2},
                         {"edge_type_id": 3, "dynamics_params": "unused.json"}])
    found = list_connection_types(write_config(tmp_path, [nodes], [edges]))
    assert [t.name for t in found] == ["local:1", "local:2", "unused"]
    assert found[0].group_attribute == "model_name" and found[0].source_groups == ("pyr",)
    assert found[2].n_edges == 0  # a CSV type without edges (one population in the file)
    assert found[1].dynamics_path is None and found[1].syn_weight is None
    with pytest.raises(FileNotFoundError, match="names no dynamics_params"):
        found[1].load_dynamics()
    with pytest.raises(KeyError, match="no connection type 'x'; the network has: local:1"):
        connection_type_by_name(found, "x")
    assert connection_type_by_name(found, "unused") is found[2]


def test_default_group_attribute():
    assert default_group_attribute(["model_name", "pop_name"]) == "pop_name"
    assert default_group_attribute(["cell_name", "x"]) == "cell_name"
    assert default_group_attribute(np.array(["x"])) == "node_type_id"


# --- traits of third-party bmtk models (built with bmtk's NetworkBuilder) -----------------------
@pytest.fixture(scope="module")
def bmtk_dot(tmp_path_factory):
    from sonata_factory import bmtk_model

    return bmtk_model(tmp_path_factory.mktemp("bmtk_traits"), "dot", synapses_py=True)


def test_node_types_sharing_a_pop_name_and_cell_name_only(bmtk_dot):
    from bmtool_lab.model.cell_types import find_cell_type, list_cell_types

    cells = list_cell_types(bmtk_dot)
    assert sorted(c.key for c in cells) == ["hco_net:HCOCell1", "hco_net:HCOCell2", "lgn:tON",
                                            "slice:ScnnA", "slice:ScnnB"]
    # cell_name only (was: "no cell type 'hco_net:HCOCell2'; choices: type_100, type_101")
    assert find_cell_type(cells, "hco_net:HCOCell2").node_type_id == 101
    # by node_type_id, in every spelling
    for q in ("slice:101", "slice:type_101", "ScnnB", "slice:ScnnB"):
        assert find_cell_type(cells, q).key == "slice:ScnnB", q
    # a shared pop_name: the error names choices, and each choice works
    with pytest.raises(KeyError) as err:
        find_cell_type(cells, "slice:Scnn1a")
    msg = err.value.args[0]
    assert "slice:Scnn1a" in msg and "slice:ScnnA" in msg and "slice:ScnnB" in msg
    assert "say population:name" not in msg
    for choice in ("slice:ScnnA", "slice:ScnnB"):
        assert find_cell_type(cells, choice).key == choice
    with pytest.raises(KeyError) as err:
        find_cell_type(cells, "nothing")
    for choice in err.value.args[0].split("choices: ")[1].split(", "):
        assert find_cell_type(cells, choice).key == choice


def test_two_node_types_sharing_a_pop_name_without_other_names(tmp_path):
    from bmtk.builder.networks import NetworkBuilder

    from bmtool_lab.model.cell_types import find_cell_type, list_cell_types
    from bmtool_lab.model.config import load_config

    net = NetworkBuilder("v1")
    for _ in range(2):  # bmtk's STP example: one node type per synapse model, one pop_name
        net.add_nodes(N=1, pop_name="Scnn1a", model_type="biophysical", model_template="hoc:X")
    net.build()
    net.save(output_dir=str(tmp_path / "network"))
    (tmp_path / "config.json").write_text(json.dumps({"networks": {"nodes": [
        {"nodes_file": "network/v1_nodes.h5", "node_types_file": "network/v1_node_types.csv"}]}}))
    cells = list_cell_types(load_config(tmp_path / "config.json"))
    assert sorted(c.key for c in cells) == ["v1:type_100", "v1:type_101"]
    with pytest.raises(KeyError) as err:
        find_cell_type(cells, "v1:Scnn1a")
    assert "v1:type_100, v1:type_101" in err.value.args[0]


def test_connection_types_name_their_target_node_types_and_scalar_distance_range(bmtk_dot):
    from bmtool_lab.model.cell_types import cell_type_of, list_cell_types

    types = {ct.name: ct for ct in list_connection_types(bmtk_dot)}
    cells = list_cell_types(bmtk_dot)
    lgn = types["AMPA_ExcToExc (lgn_to_slice)"]
    assert lgn.distance_range == (0.0, 99999999.0)  # BioNet: [0.0, float(value)]
    assert lgn.target_node_type_ids == (100,)
    gaba = types["GABA_InhToExc"]
    assert gaba.distance_range == (0.0, 150.0)
    assert gaba.target_groups == ("Scnn1a",)  # one pop_name for both node types...
    assert cell_type_of(cells, gaba.target_population, gaba.target_node_type_ids, gaba.target_groups).key \
        == "slice:ScnnB"  # ...but the node type of its targets decides
    hco = types["AMPA_ExcToExc (hco_net_to_hco_net)"]
    assert cell_type_of(cells, "hco_net", hco.target_node_type_ids).key == "hco_net:HCOCell2"
