"""SONATA readers: several populations per file, both edge layouts, node attributes, caching, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sonata_factory import (
    FIVE_NODE_RECURRENT,
    Edges,
    Nodes,
    five_node_network,
    network_dir,
    write_config,
    write_edges,
    write_nodes,
)

from bmtool_lab.model import sonata, sonata_populations
from bmtool_lab.model.sonata import (
    AttributeNotFoundError,
    SonataError,
    SonataNetwork,
    column_values,
    read_types_table,
    truthy,
)

pytestmark = pytest.mark.unit


@pytest.fixture
def five(tmp_path) -> SonataNetwork:
    return SonataNetwork(five_node_network(tmp_path))


def test_every_population_of_every_file(five):
    assert five.node_population_names == ["cortex", "inputs"]  # one nodes file, two populations
    assert five.edge_population_names == ["recurrent", "thalamic", "electrical"]
    thal = five.edge_population("thalamic")
    assert (thal.source_population, thal.target_population) == ("inputs", "cortex")  # from the h5 attrs
    assert five.node_population("inputs").is_virtual and not five.node_population("cortex").is_virtual
    assert five.resolve_node_populations("all") == ["cortex", "inputs"]
    assert five.resolve_node_populations(["inputs", "cortex"]) == ["cortex", "inputs"]


def test_node_attributes_from_csv_and_groups(five):
    cortex = five.node_population("cortex")
    codes, labels = cortex.labels("pop_name")
    assert labels == ["A", "B"] and codes.tolist() == [0, 0, 0, 1, 1]
    assert cortex.values("ei").tolist() == ["e", "e", "e", "i", "i"]
    np.testing.assert_array_equal(cortex.positions()[:, 0], [0, 10, 20, 100, 110])  # from x/y/z datasets
    assert np.isnan(five.node_population("inputs").positions()).all()
    assert {"pop_name", "ei", "x", "y", "z", "node_type_id"} <= set(cortex.attribute_names())
    with pytest.raises(AttributeNotFoundError, match="no attribute 'layer'.*ei, model_template"):
        cortex.values("layer")


def test_group_datasets_override_types_and_positions_dataset(tmp_path):
    d = network_dir(tmp_path)
    pos = np.arange(12, dtype=float).reshape(4, 3)
    nodes = write_nodes(d / "n.h5", d / "n.csv",
                        {"v1": Nodes([1, 1, 2, 2], positions=pos, attrs={"layer": np.array(["L2", "L4", "L4", "L5"])})},
                        [{"node_type_id": 1, "pop_name": "Exc", "layer": "L1"}, {"node_type_id": 2, "pop_name": "PV"}])
    net = SonataNetwork(write_config(tmp_path, [nodes]))
    v1 = net.node_population("v1")
    np.testing.assert_array_equal(v1.positions(), pos)  # a (N, 3) "positions" dataset, as BMTK writes
    codes, labels = v1.labels("layer")  # h5 group values win over the CSV column
    assert labels == ["L2", "L4", "L5"] and codes.tolist() == [0, 1, 1, 2]


def test_node_ids_that_are_not_rows(tmp_path):
    d = network_dir(tmp_path)
    nodes = write_nodes(d / "n.h5", d / "n.csv", {"cortex": Nodes([1, 1, 1], node_id=np.array([30, 10, 20]))},
                        [{"node_type_id": 1, "pop_name": "A"}])
    net = SonataNetwork(write_config(tmp_path, [nodes]))
    cortex = net.node_population("cortex")
    assert cortex.rows(np.array([10, 20, 30, 10])).tolist() == [1, 2, 0, 1]
    with pytest.raises(SonataError, match="node ids 11 .*out of step"):
        cortex.rows(np.array([10, 11]))


def test_edge_layouts_of_bmtk(tmp_path):
    """BMTK writes rules with nsyns into group 0 and add_properties edges (one row per synapse,
    per-edge syn_weight) into group 1."""
    d = network_dir(tmp_path)
    nodes = write_nodes(d / "n.h5", d / "n.csv", {"cortex": Nodes([1, 1, 1])}, [{"node_type_id": 1, "pop_name": "A"}])
    e = Edges([0, 1, 2, 2], [1, 2, 0, 1], "cortex", "cortex", [5, 5, 6, 6], attrs={
        "nsyns": np.array([3, 2, 0, 0]), "syn_weight": np.array([0, 0, 0.25, 0.75])},
        group=np.array([0, 0, 1, 1]), group_attrs={0: ["nsyns"], 1: ["syn_weight"]})
    edges = write_edges(d / "e.h5", d / "e.csv", {"cortex_local": e},
                        [{"edge_type_id": 5, "syn_weight": 0.1, "delay": 1.0}, {"edge_type_id": 6, "delay": 2.0}])
    net = SonataNetwork(write_config(tmp_path, [nodes], [edges]))
    pop = net.edge_population("cortex_local")
    assert pop.synapse_counts().tolist() == [3, 2, 1, 1]  # group 1 rows have no nsyns: one synapse each
    np.testing.assert_allclose(pop.values("syn_weight"), [0.1, 0.1, 0.25, 0.75])  # CSV fills group 0
    np.testing.assert_allclose(pop.values("delay"), [1, 1, 2, 2])
    assert pop.edge_attribute_names() == ["nsyns", "syn_weight"]
    with pytest.raises(AttributeNotFoundError, match="'afferent_section_id'.*delay, edge_type_id"):
        pop.values("afferent_section_id")


def test_per_synapse_layout_has_no_synapse_counts(tmp_path):
    from sonata_factory import per_synapse

    d = network_dir(tmp_path)
    nodes = write_nodes(d / "n.h5", d / "n.csv", {"cortex": Nodes([1, 1])}, [{"node_type_id": 1, "pop_name": "A"}])
    e = per_synapse(Edges([0, 1], [1, 0], "cortex", "cortex", 1, nsyns=[2, 3]))
    edges = write_edges(d / "e.h5", d / "e.csv", {"syn": e}, [{"edge_type_id": 1}])
    pop = SonataNetwork(write_config(tmp_path, [nodes], [edges])).edge_population("syn")
    assert pop.synapse_counts() is None
    assert pop.source_node_ids().tolist() == [0, 0, 1, 1, 1]


def test_population_names_from_old_files(tmp_path):
    d = network_dir(tmp_path)
    nodes = write_nodes(d / "n.h5", d / "n.csv", {"cortex": Nodes([1, 1])}, [{"node_type_id": 1, "pop_name": "A"}])
    old = Edges([0], [1], "cortex", "cortex", 1, write_population_attr=False)
    e1 = write_edges(d / "e1.h5", d / "e1.csv", {"cortex_to_cortex": old}, [{"edge_type_id": 1}])
    with pytest.warns(UserWarning, match="assuming cortex -> cortex"):
        SonataNetwork(write_config(tmp_path, [nodes], [e1]))
    e2 = write_edges(d / "e2.h5", d / "e2.csv", {"local": old}, [{"edge_type_id": 1}])
    with pytest.raises(SonataError, match="'local'.*lack the 'node_population' attribute"):
        SonataNetwork(write_config(tmp_path, [nodes], [e2], name="c2.json"))


def test_unknown_edge_type(tmp_path):
    d = network_dir(tmp_path)
    nodes = write_nodes(d / "n.h5", d / "n.csv", {"cortex": Nodes([1, 1])}, [{"node_type_id": 1, "pop_name": "A"}])
    edges = write_edges(d / "e.h5", d / "e.csv", {"local": Edges([0], [1], "cortex", "cortex", 7)},
                        [{"edge_type_id": 1, "delay": 1.0}])
    pop = SonataNetwork(write_config(tmp_path, [nodes], [edges])).edge_population("local")
    with pytest.raises(SonataError, match="edge_type_id 7 that the types CSV does not define"):
        pop.values("delay")


def test_cache_is_shared_read_only_and_invalidated(tmp_path, monkeypatch):
    cfg = five_node_network(tmp_path)
    pop = SonataNetwork(cfg).edge_population("recurrent")
    first = pop.source_node_ids()
    assert pop.source_node_ids() is first  # read once
    with pytest.raises(ValueError):
        first[0] = 99
    d = tmp_path / "network"
    write_edges(d / "cells_edges.h5", d / "cells_edge_types.csv",
                {"recurrent": Edges([4, 4, 4], [0, 1, 2], "cortex", "cortex", 10)}, [{"edge_type_id": 10}])
    again = SonataNetwork(cfg).edge_population("recurrent")
    assert again.source_node_ids().tolist() == [4, 4, 4]


def test_chunked_reads_convert_dtypes(tmp_path, monkeypatch):
    monkeypatch.setattr(sonata_populations, "READ_CHUNK", 3)
    sonata.clear_cache()
    net = SonataNetwork(five_node_network(tmp_path))
    rec = net.edge_population("recurrent")
    assert rec.source_node_ids().dtype == np.int32  # uint64 on disk, values fit in int32
    np.testing.assert_array_equal(rec.source_node_ids(), FIVE_NODE_RECURRENT[:, 0])
    np.testing.assert_allclose(rec.values("syn_weight"), FIVE_NODE_RECURRENT[:, 4])
    sonata.clear_cache()


def test_ids_beyond_int32_stay_int64(tmp_path, monkeypatch):
    monkeypatch.setattr(sonata_populations, "READ_CHUNK", 2)
    d = network_dir(tmp_path)
    big = np.array([5, 2**31 + 7, 2**40])
    nodes = write_nodes(d / "n.h5", d / "n.csv", {"huge": Nodes([1, 1, 1], node_id=big)},
                        [{"node_type_id": 1, "pop_name": "A"}])
    edges = write_edges(d / "e.h5", d / "e.csv", {"far": Edges([2**40], [5], "huge", "huge", 1)}, [{"edge_type_id": 1}])
    net = SonataNetwork(write_config(tmp_path, [nodes], [edges]))
    huge = net.node_population("huge")
    assert huge.node_ids().dtype == np.int64 and huge.node_ids().tolist() == big.tolist()
    far = net.edge_population("far")
    assert huge.rows(far.source_node_ids()).tolist() == [2]


def test_types_csv_as_bmtk_writes_it(tmp_path):
    # an empty field (two spaces) for None, NULL for NaN, quoted lists: pandas 2 and 3 alike
    p = tmp_path / "node_types.csv"
    p.write_text('node_type_id morphology pop_name ei dims\n100  Exc e "[1, 2]"\n101 NULL PV NULL NULL\n')
    df = read_types_table(p, "node_type_id")
    assert df.index.tolist() == [100, 101]
    assert column_values(df, "pop_name").tolist() == ["Exc", "PV"]
    assert pd.isna(column_values(df, "morphology")).all()  # an all-missing column is float NaN
    assert column_values(df, "ei").tolist() == ["e", None]
    assert column_values(df, "dims")[0] == "[1, 2]"
    aligned = tmp_path / "aligned.csv"
    aligned.write_text("node_type_id   pop_name\n1     Exc\n")
    assert column_values(read_types_table(aligned, "node_type_id"), "pop_name").tolist() == ["Exc"]
    bad = tmp_path / "bad.csv"
    bad.write_text("id name\n1 x\n")
    with pytest.raises(SonataError, match="no 'node_type_id' column"):
        read_types_table(bad, "node_type_id")
    assert [truthy(v) for v in (True, "True", "true", 1, 1.0, None, float("nan"), "False", 0)] == [
        True, True, True, True, True, False, False, False, False]


def test_real_bmtk_builder_output(tmp_path):
    pytest.importorskip("bmtk.builder")
    from bmtk.builder import NetworkBuilder

    net = NetworkBuilder("v1")
    net.add_nodes(N=3, pop_name="Exc", model_type="biophysical", positions=np.zeros((3, 3)), morphology=None)
    net.add_nodes(N=2, pop_name="PV", model_type="biophysical", positions=np.ones((2, 3)), morphology=None)
    net.add_edges(source={"pop_name": "Exc"}, target={"pop_name": "PV"}, connection_rule=2, syn_weight=0.1,
                  dynamics_params="Exc2PV.json", model_template="exp2syn", delay=1.0)
    cm = net.add_edges(source={"pop_name": "PV"}, target={"pop_name": "Exc"}, connection_rule=1,
                       dynamics_params="PV2Exc.json", model_template="exp2syn", delay=1.0)
    cm.add_properties("syn_weight", rule=lambda s, t: 0.5, dtypes=float)
    net.build()
    net.save(output_dir=str(tmp_path / "network"))
    d = tmp_path / "network"
    cfg = write_config(tmp_path, [(d / "v1_nodes.h5", d / "v1_node_types.csv")],
                       [(d / "v1_v1_edges.h5", d / "v1_v1_edge_types.csv")])
    from bmtool_lab.tuning.connectivity import ConnectivityExplorer

    conn = ConnectivityExplorer(cfg)
    total = conn.matrix("total", count="synapses")
    assert total.loc["Exc", "PV"] == 3 * 2 * 2 and total.loc["PV", "Exc"] == 2 * 3
    assert conn.matrix("percent").loc["Exc", "PV"] == 100.0
    assert conn.network.node_population("v1").labels("pop_name")[1] == ["Exc", "PV"]


# --- config paths: bmtk's "$BASE_DIR": "." and friends, opened from another folder -------------
@pytest.fixture(scope="module")
def bmtk_models(tmp_path_factory):
    from sonata_factory import bmtk_model

    root = tmp_path_factory.mktemp("bmtk_styles")
    return {style: bmtk_model(root / style, style) for style in ("dot", "subdir", "configdir", "bare")}


@pytest.mark.parametrize("style", ["dot", "subdir", "configdir", "bare"])
def test_relative_config_paths_resolve_from_another_folder(bmtk_models, style, tmp_path, monkeypatch):
    from bmtool_lab.model.config import RULE_ABSOLUTE, RULE_CONFIG_DIR, load_config
    from bmtool_lab.model.connection_types import list_connection_types

    monkeypatch.chdir(tmp_path)  # neither the model's folder nor its parent
    cfg = load_config(bmtk_models[style])
    model = bmtk_models[style].parent
    assert cfg.mechanisms_dir == model.parent / "bio_components" / "mechanisms"
    assert cfg.nodes[0].nodes_file == model / "network" / "slice_nodes.h5"
    assert cfg.missing_files() == []
    assert all(rp.path.is_absolute() for rp in cfg.paths)
    rule = RULE_ABSOLUTE if style == "configdir" else RULE_CONFIG_DIR
    assert set(cfg.path_rules()) == {rule}
    if style == "subdir":  # written by the circuit config in configs/ ("$BASE_DIR": "..")
        rp = next(r for r in cfg.paths if r.key == "components.mechanisms_dir")
        assert rp.config == model / "configs" / "circuit_config.json" and rp.written.startswith("..")
    names = {ct.name for ct in list_connection_types(cfg)}
    assert "GABA_InhToExc" in names and len(names) == 3


def test_relative_paths_prefer_the_current_folder_when_they_exist_there(bmtk_models, tmp_path, monkeypatch):
    """bmtk's rule first: a model run from its own folder means what BioNet would open."""
    import shutil

    from bmtool_lab.model.config import RULE_CONFIG_DIR, RULE_CWD, load_config

    model = bmtk_models["dot"].parent
    monkeypatch.chdir(model)
    cfg = load_config("simulation_config.json")
    assert set(cfg.path_rules()) == {RULE_CWD}
    assert cfg.templates_dir == model.parent / "bio_components" / "templates"
    # a folder holding only a network/ of its own: the network from there, the rest from the config
    other = tmp_path / "elsewhere"
    shutil.copytree(model / "network", other / "network")
    monkeypatch.chdir(other)
    cfg = load_config(bmtk_models["dot"])
    assert cfg.nodes[0].nodes_file == other / "network" / "slice_nodes.h5"
    assert next(r for r in cfg.paths if r.key == "components.mechanisms_dir").rule == RULE_CONFIG_DIR


def test_a_relative_node_sets_file_and_a_missing_one(bmtk_models, tmp_path, monkeypatch):
    import json

    from bmtool_lab.model.config import load_config

    path = bmtk_models["configdir"]
    raw = json.loads(path.read_text())
    raw.pop("node_sets")
    raw["node_sets_file"] = "node_sets.json"
    (path.parent / "node_sets.json").write_text(json.dumps({"hco": {"population": "hco_net"}}))
    other = path.parent / "with_node_sets_file.json"
    other.write_text(json.dumps(raw))
    monkeypatch.chdir(tmp_path)
    assert load_config(other).node_sets == {"hco": {"population": "hco_net"}}
    raw["node_sets_file"] = "missing_node_sets.json"
    other.write_text(json.dumps(raw))
    cfg = load_config(other)  # bmtk itself would fail with a bare FileNotFoundError
    assert any("missing_node_sets.json does not exist" in p for p in cfg.missing_files())
