"""The population graph's data (nodes, edges) equal conn.graph(); a click on an edge does what a
click on the matrix does; the 3D box selection restricts the explorer's queries (issue #18)."""

from __future__ import annotations

import h5py
import numpy as np
import pandas as pd
import pytest
from sonata_factory import five_node_network

from bmtool_lab.tuning.connectivity import ConnectivityExplorer
from bmtool_lab.widgets.network_graph import MAX_EDGE_WIDTH, MIN_EDGE_WIDTH, graph_data

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def five(tmp_path_factory):
    cfg = five_node_network(tmp_path_factory.mktemp("five"))
    return ConnectivityExplorer(cfg), cfg.parent / "network"


def test_graph_data_nodes_and_edges_equal_the_graph_table(five):
    conn, _ = five
    for metric in ("total", "percent", "convergence"):
        g = conn.graph(metric=metric)
        nodes, edges = graph_data(g)
        sizes = g.attrs["group_sizes"]
        assert [n["label"] for n in nodes] == [str(k) for k in sizes]
        assert [n["size"] for n in nodes] == list(sizes.values())
        assert len(edges) == len(g)
        for e, row in zip(edges, g.itertuples(), strict=True):
            assert (e["source_label"], e["target_label"], e["kind"]) == (str(row.source), str(row.target), row.kind)
            assert e["value"] == pytest.approx(row.value)
            assert nodes[e["source"]]["label"] == e["source_label"] and nodes[e["target"]]["label"] == e["target_label"]
        # width ∝ value, per kind (their units differ): the largest of each kind is MAX_EDGE_WIDTH
        for kind, part in g.groupby("kind"):
            top = part["value"].max()
            for e in (e for e in edges if e["kind"] == kind):
                assert e["width"] == pytest.approx(MIN_EDGE_WIDTH + (MAX_EDGE_WIDTH - MIN_EDGE_WIDTH) * e["value"] / top,
                                                   abs=1e-3)
    g = conn.graph(metric="total")
    _, edges = graph_data(g)
    gap = [e for e in edges if e["kind"] == "gap_junction"]
    assert gap and all("↔" in e["text"] and "coupled pairs" in e["text"] for e in gap)
    chem = next(e for e in edges if e["kind"] == "chemical")
    assert chem["text"] == f"{chem['source_label']} → {chem['target_label']}: {chem['value']:g} connections"


def test_dashboard_graph_follows_the_metric_and_a_click_is_a_matrix_click(five):
    from bmtool_lab.widgets.connectivity import ConnectivityDashboard

    conn, _ = five
    dash = ConnectivityDashboard(conn, metric="total", on_open_synapse_tuner=lambda ct: None)
    view = dash.open_graph()
    want = conn.graph(group_by=dash.group_by.value, metric="total")
    assert [e["value"] for e in view.canvas.edges] == list(want["value"])
    assert view.canvas.title == "total [connections]"
    dash.metric.value = "percent"
    want = conn.graph(group_by=dash.group_by.value, metric="percent")
    assert [e["value"] for e in view.canvas.edges] == pytest.approx(list(want["value"]))
    dash.metric.value = "divergence"  # not a graph metric: the graph says what it shows
    assert view.canvas.title.startswith("convergence") and "The graph shows convergence" in view.status.value

    dash.metric.value = "total"
    view3d = dash.open_3d()
    k = next(i for i, e in enumerate(view.canvas.edges) if e["kind"] == "chemical" and e["source"] != e["target"])
    edge = view.canvas.edges[k]
    view._on_msg(view.canvas, {"type": "click", "edge": k}, [])  # the browser's click message
    assert dash.details.layout.display == "flex"
    assert f"{edge['source_label']} → {edge['target_label']}" in dash.summary.value
    r, c = np.asarray(dash.heatmap.selected).ravel()[:2]  # the matrix shows the same cell as chosen
    assert dash._cell(int(r), int(c)) == (edge["source_label"], edge["target_label"])
    assert np.frombuffer(view3d.canvas.highlight, np.uint8).any()  # its cells lit in 3D
    assert dash._involved and not dash.open_tuner.disabled  # the tuner offer of the matrix click
    assert view.canvas.selected_edge == k and "clicked:" in view.status.value
    # and a matrix click marks the graph's edge
    other = next(i for i, e in enumerate(view.canvas.edges) if e["kind"] == "chemical" and i != k)
    dash.select(view.canvas.edges[other]["source_label"], view.canvas.edges[other]["target_label"])
    assert view.canvas.selected_edge == other


def test_graph_csv_and_png_from_the_dashboard(five, tmp_path):
    from bmtool_lab.widgets.connectivity import ConnectivityDashboard

    conn, _ = five
    dash = ConnectivityDashboard(conn, metric="percent")
    view = dash.open_graph()
    dash.export_path.value = str(tmp_path / "conn.csv")
    sent = []
    view.canvas.send = lambda msg, *a, **k: sent.append(msg)
    view.export_csv.click()
    written = tmp_path / "conn_graph.csv"
    assert f"wrote {written}" in view.status.value
    back = pd.read_csv(written)
    want = conn.graph(group_by=dash.group_by.value, metric="percent")
    assert list(back["value"]) == pytest.approx(list(want["value"]))
    assert list(back["kind"]) == list(want["kind"])
    view.export_png.click()
    assert sent == [{"type": "save_png", "name": "conn_graph.png"}]


def test_node_selection_restricts_matrix_details_and_distance(five):
    conn, d = five
    pos = conn.positions()
    picked = pos[pos.node_id.isin([0, 1, 3])][["node_id", "population"]]
    m = conn.matrix("total", sources=picked)
    # by hand (FIVE_NODE_RECURRENT): from 0, 1 (A) and 3 (B): 0→1, 1→0, 0→2 | 0→3, 1→3 | 3→0 | 3→4
    assert m.to_dict("index") == {"A": {"A": 3.0, "B": 2.0}, "B": {"A": 1.0, "B": 1.0}}
    # the same selection as {population: node ids}
    terms = conn.matrix_terms("total", sources={"cortex": [0, 1, 3]})
    assert terms["value"].equals(m)
    assert terms["value"].attrs["source_cells_selected"] == 3
    det = conn.details("A", "B", sources=picked)
    assert det.n_source_cells == 2  # node 0 and 1 are A, node 3 is B
    p = conn.probability_vs_distance(bins=2, sources=picked)
    assert p.attrs["n_source_cells"] == 3
    with pytest.raises(ValueError, match="empty"):
        conn.matrix("total", sources=picked.iloc[:0])
    with pytest.raises(ValueError, match="node_id and population"):
        conn.matrix("total", sources=pd.DataFrame({"node_id": [0]}))


def test_dashboard_uses_the_3d_selection(five):
    from bmtool_lab.widgets.connectivity import ConnectivityDashboard

    conn, _ = five
    dash = ConnectivityDashboard(conn, metric="total")
    assert dash.selected_nodes().empty
    view = dash.open_3d()
    view.canvas.selected = [0, 1]  # a shift-drag box in the browser: the first two cells
    sel = dash.selected_nodes()
    assert list(sel.node_id) == [0, 1] and list(sel.population) == ["cortex", "cortex"]
    dash.use_selection.value = "sources"
    assert "restricted to the 3D selection: 2 source cells" in dash.status.value
    want = conn.matrix("total", group_by=dash.group_by.value, sources=sel)
    assert dash._frames["value"].equals(want)
    view.canvas.selected = [0]  # a new selection re-draws the matrix
    assert "1 source cells" in dash.status.value
    dash.use_selection.value = "off"
    assert dash._frames["value"].equals(conn.matrix("total", group_by=dash.group_by.value))


def test_positions_without_rotations_draw_axes_along_y(five):
    """'cortex' stores x/y/z and no rotation angle at all; 'inputs' (virtual) no position."""
    from bmtool_lab.widgets.network3d import NetworkView3D

    conn, d = five
    with h5py.File(d / "cells_nodes.h5") as f:
        xyz = np.c_[[f[f"nodes/cortex/0/{k}"][()] for k in "xyz"]].T
    pos = conn.positions(populations="all")
    np.testing.assert_array_equal(pos[pos.population == "cortex"][["x", "y", "z"]].to_numpy(), xyz)
    assert pos.attrs["without_positions"] == {"inputs": 2}
    rot = conn.rotations(populations="all")
    assert not rot.rotation_given.any()
    np.testing.assert_array_equal(rot[["axis_x", "axis_y", "axis_z"]].to_numpy(), np.tile([0.0, 1.0, 0.0], (7, 1)))
    view = NetworkView3D(conn, populations="all")
    axes = np.frombuffer(view.canvas.axes, np.float32).reshape(-1, 3)
    np.testing.assert_array_equal(axes, np.tile(np.float32([0, 1, 0]), (5, 1)))
    assert view.without_positions == {"inputs": 2}
