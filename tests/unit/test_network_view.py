"""Positions, rotations and the population graph of the explorer equal the h5 values (issue #18)."""

from __future__ import annotations

import h5py
import numpy as np
import pandas as pd
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

from bmtool_lab.analysis.geometry import cell_axes, rotation_matrices
from bmtool_lab.tuning.connectivity import ConnectivityExplorer

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def layered(tmp_path_factory):
    """Three populations: 'cortex' (positions, all three angles, two node types), 'bare' (no
    positions, no angles), 'tilted' (x/y/z datasets, only the z angle) and virtual 'inputs'."""
    base = tmp_path_factory.mktemp("layered")
    d = network_dir(base)
    rng = np.random.default_rng(3)
    n = 40
    cortex_pos = rng.uniform(-200, 200, (n, 3))
    angles = rng.uniform(-np.pi, np.pi, (n, 3))
    tilted_pos = rng.uniform(0, 50, (6, 3))
    tilted_z = rng.uniform(-1, 1, 6)
    nodes = write_nodes(
        d / "nodes.h5", d / "node_types.csv",
        {
            "cortex": Nodes(node_type_id=np.r_[np.ones(30, int), np.full(10, 2)], positions=cortex_pos,
                            attrs={"rotation_angle_xaxis": angles[:, 0], "rotation_angle_yaxis": angles[:, 1],
                                   "rotation_angle_zaxis": angles[:, 2]}),
            "bare": Nodes(node_type_id=[3, 3, 3]),
            "tilted": Nodes(node_type_id=[4] * 6, positions=tilted_pos, xyz=True,
                            attrs={"rotation_angle_zaxis": tilted_z}),
            "inputs": Nodes(node_type_id=[5, 5]),
        },
        [
            {"node_type_id": 1, "pop_name": "Pyr", "model_type": "biophysical"},
            {"node_type_id": 2, "pop_name": "PV", "model_type": "biophysical"},
            {"node_type_id": 3, "pop_name": "Bare", "model_type": "biophysical"},
            {"node_type_id": 4, "pop_name": "Tilt", "model_type": "biophysical"},
            {"node_type_id": 5, "pop_name": "in", "model_type": "virtual"},
        ],
    )
    src = rng.integers(0, n, 200)
    tgt = rng.integers(0, n, 200)
    keep = src != tgt
    et = np.where(src[keep] < 30, 10, 11)
    edges = write_edges(
        d / "edges.h5", d / "edge_types.csv",
        {"rec": Edges(src[keep], tgt[keep], "cortex", "cortex", et, nsyns=np.ones(keep.sum(), int)),
         "feed": Edges([0, 1, 0], [0, 1, 2], "inputs", "bare", 12, nsyns=[1, 1, 1])},
        [{"edge_type_id": 10, "model_template": "Exp2Syn", "dynamics_params": "e.json"},
         {"edge_type_id": 11, "model_template": "Exp2Syn", "dynamics_params": "i.json"},
         {"edge_type_id": 12, "model_template": "Exp2Syn", "dynamics_params": "e.json"}],
    )
    cfg = write_config(base, [nodes], [edges])
    return ConnectivityExplorer(cfg), d / "nodes.h5"


def test_positions_equal_the_h5_for_every_node(layered):
    conn, h5 = layered
    df = conn.positions()
    assert list(df.columns) == ["node_id", "population", "group", "x", "y", "z"]
    assert set(df.population) == {"cortex", "bare", "tilted"}  # virtual inputs left out by default
    with h5py.File(h5) as f:
        cortex = f["nodes/cortex/0/positions"][()]
        tilted = np.c_[[f[f"nodes/tilted/0/{k}"][()] for k in "xyz"]].T
    c = df[df.population == "cortex"]
    np.testing.assert_array_equal(c[["x", "y", "z"]].to_numpy(), cortex)
    np.testing.assert_array_equal(df[df.population == "tilted"][["x", "y", "z"]].to_numpy(), tilted)
    assert list(c.group) == ["Pyr"] * 30 + ["PV"] * 10
    # no positions: listed with NaN and counted, never placed at the origin
    bare = df[df.population == "bare"]
    assert len(bare) == 3 and bare[["x", "y", "z"]].isna().all().all()
    assert df.attrs["without_positions"] == {"bare": 3}
    assert df.attrs["units"]["x"] == "µm"
    assert set(conn.positions(populations="all").population) == {"cortex", "bare", "tilted", "inputs"}
    assert set(conn.positions(group_by="population").group) == {"cortex", "bare", "tilted"}


def test_rotations_equal_the_h5_angles_and_axes_follow_bionet(layered):
    conn, h5 = layered
    df = conn.rotations()
    with h5py.File(h5) as f:
        ax, ay, az = (f[f"nodes/cortex/0/rotation_angle_{k}axis"][()] for k in "xyz")
        tz = f["nodes/tilted/0/rotation_angle_zaxis"][()]
    c = df[df.population == "cortex"]
    np.testing.assert_array_equal(c.rotation_angle_xaxis, ax)
    np.testing.assert_array_equal(c.rotation_angle_yaxis, ay)
    np.testing.assert_array_equal(c.rotation_angle_zaxis, az)
    axes = c[["axis_x", "axis_y", "axis_z"]].to_numpy()
    np.testing.assert_allclose(np.linalg.norm(axes, axis=1), 1.0, rtol=1e-12)
    # only z given: the x and y angles are 0 as BioNet uses them, and +y turns in the xy plane
    t = df[df.population == "tilted"]
    assert (t.rotation_angle_xaxis == 0).all() and t.rotation_given.all()
    np.testing.assert_allclose(t.axis_x, -np.sin(tz), atol=1e-12)
    np.testing.assert_allclose(t.axis_y, np.cos(tz), atol=1e-12)
    np.testing.assert_allclose(t.axis_z, 0.0, atol=1e-12)
    b = df[df.population == "bare"]
    assert not b.rotation_given.any()
    np.testing.assert_array_equal(b[["axis_x", "axis_y", "axis_z"]].to_numpy(), np.tile([0.0, 1.0, 0.0], (3, 1)))


def test_rotation_closed_forms():
    q = np.pi / 2
    # about x by 90°: +y → +z; about y: +z → +x (so y is unchanged); about z by 90°: +y → −x
    np.testing.assert_allclose(cell_axes([q], [0], [0])[0], [0, 0, 1], atol=1e-15)
    np.testing.assert_allclose(cell_axes([0], [q], [0])[0], [0, 1, 0], atol=1e-15)
    np.testing.assert_allclose(rotation_matrices([0], [q], [0])[0] @ [0, 0, 1], [1, 0, 0], atol=1e-15)
    np.testing.assert_allclose(cell_axes([0], [0], [q])[0], [-1, 0, 0], atol=1e-15)
    # the order is Rx·Ry·Rz: z first, then y, then x
    r = rotation_matrices([q], [q], [q])[0]
    rx, ry, rz = (rotation_matrices(*a)[0] for a in (([q], [0], [0]), ([0], [q], [0]), ([0], [0], [q])))
    np.testing.assert_allclose(r, rx @ ry @ rz, atol=1e-15)
    assert not np.allclose(r, rz @ ry @ rx)


def test_graph_edges_equal_the_matrix(layered, tmp_path):
    conn, _ = layered
    g = conn.graph(metric="total")
    m = conn.matrix("total")
    for _, row in g.iterrows():
        assert row.value == m.at[row.source, row.target] and row.kind == "chemical"
    nonzero = int((m.to_numpy() > 0).sum())
    assert len(g) == nonzero
    sizes = g.attrs["group_sizes"]
    assert sizes["Pyr"] == 30 and sizes["PV"] == 10 and sizes["Bare"] == 3 and sizes["in"] == 2
    assert (g.n_source == [sizes[s] for s in g.source]).all()
    p = conn.graph(metric="percent")
    mp = conn.matrix("percent")
    for _, row in p.iterrows():
        assert row.value == pytest.approx(mp.at[row.source, row.target])
    with pytest.raises(ValueError, match="graph metric"):
        conn.graph(metric="divergence_of_nothing")


def test_graph_gap_junctions_are_their_own_kind(tmp_path):
    conn = ConnectivityExplorer(five_node_network(tmp_path))
    g = conn.graph(metric="total", sources="cortex", targets="cortex")
    gap = g[g.kind == "gap_junction"]
    assert len(gap) > 0
    pairs = conn.matrix_terms("gap_percent", sources="cortex", targets="cortex")["numerator"]
    for _, row in gap.iterrows():
        assert row.value == pairs.at[row.source, row.target]
    chem = g[g.kind == "chemical"]
    m = conn.matrix("total", sources="cortex", targets="cortex")
    assert {(r.source, r.target) for r in chem.itertuples()} == {
        (s, t) for s in m.index for t in m.columns if m.at[s, t] > 0}


def test_3d_view_sends_binary_cells_and_highlights_a_matrix_cell(layered):
    from bmtool_lab.widgets.connectivity import ConnectivityDashboard

    conn, _ = layered
    dash = ConnectivityDashboard(conn, metric="total")
    view = dash.open_3d()
    canvas = view.canvas
    pos = conn.positions()
    drawn = pos.dropna(subset=["x", "y", "z"])
    xyz = np.frombuffer(canvas.positions, np.float32).reshape(-1, 3)
    np.testing.assert_array_equal(xyz, drawn[["x", "y", "z"]].to_numpy(np.float32))  # float32 bytes, no JSON lists
    assert len(canvas.axes) == xyz.nbytes and view.without_positions == {"bare": 3}
    assert "without positions, not drawn: bare (3)" in view.status.value
    codes = np.frombuffer(canvas.groups, np.uint16)
    assert [canvas.group_labels[c] for c in codes] == list(drawn.group.astype(str))
    dash.select("Pyr", "PV")  # a click on the matrix cell
    flags = np.frombuffer(canvas.highlight, np.uint8)
    assert (flags == 1).sum() == 30 and (flags == 2).sum() == 10
    assert "highlighted: Pyr (sources, red) → PV (targets, blue), 40 cells" in view.status.value
    canvas.selected = [0, 1, 35]  # a box selection in the browser
    sel = view.selected_nodes()
    assert list(sel.node_id) == [0, 1, 35] and list(sel.group) == ["Pyr", "Pyr", "PV"]
    # 46 cells drawn: all of them while moving by default; with preview_max 10, 1 in 5 and the status says so
    assert canvas.preview_every() == 1 and "while moving" not in view.status.value
    canvas.preview_max = 10
    assert canvas.preview_every() == 5 and "while moving, 1 in 5 cells is drawn" in view.status.value


def test_cli_positions_writes_csv_and_png(layered, tmp_path, capsys):
    from bmtool_lab.cli import main

    conn, h5 = layered
    csv, png = tmp_path / "pos.csv", tmp_path / "pos.png"
    assert main(["positions", str(conn.config.path), "--csv", str(csv), "--png", str(png)]) == 0
    err = capsys.readouterr().err
    assert "cells without positions" in err and "bare (3)" in err
    import pandas as pd

    df = pd.read_csv(csv)
    with h5py.File(h5) as f:
        cortex = f["nodes/cortex/0/positions"][()]
    np.testing.assert_allclose(df[df.population == "cortex"][["x", "y", "z"]].to_numpy(), cortex, rtol=1e-15)
    assert {"axis_x", "rotation_angle_zaxis", "rotation_given"} <= set(df.columns)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert main(["positions", str(conn.config.path), "--group-by", "no_such_attr"]) == 2


def test_3d_view_exports_positions_csv_and_png(layered, tmp_path):
    from bmtool_lab.widgets.network3d import NetworkView3D

    conn, h5 = layered
    view = NetworkView3D(conn)
    out = view.to_csv(tmp_path / "cells.csv")
    back = pd.read_csv(out)
    with h5py.File(h5) as f:
        cortex = f["nodes/cortex/0/positions"][()]
        az = f["nodes/cortex/0/rotation_angle_zaxis"][()]
    c = back[back.population == "cortex"]
    np.testing.assert_allclose(c[["x", "y", "z"]].to_numpy(), cortex, rtol=1e-15)
    np.testing.assert_allclose(c.rotation_angle_zaxis, az, rtol=1e-15)
    assert back[back.population == "bare"][["x", "y", "z"]].isna().all().all()  # listed, not placed
    assert {"axis_x", "axis_y", "axis_z", "rotation_given", "group"} <= set(back.columns)
    view.export_csv.click()
    assert f"wrote {view.default_csv()}" in view.status.value and view.default_csv().exists()
    sent = []
    view.canvas.send = lambda msg, *a, **k: sent.append(msg)
    view.export_png.click()
    assert sent == [{"type": "save_png", "name": "network3d.png"}]
    assert "asked the browser to save network3d.png" in view.status.value
