"""The connectivity dashboard's population graph in a real JupyterLab: one circle per group and one
edge per non-zero connection (the gap junction dashed), a hovered edge reads its value, a click on
an edge shows its details, lights its cells in the 3D view (pixels read back) and offers the
synapse tuner, which opens from there; the graph PNG downloads; a 3D box selection restricts the
matrix; the graph fits the default right sidebar."""

from __future__ import annotations

import pytest

from .helpers import (
    assert_fits,
    default_sidebar_width,
    open_notebook,
    run_all_cells,
    screenshot,
    write_notebook,
)
from .test_connectivity_details_ui import CONN, SIDE_TUNER
from .test_network3d_ui import BLUE_TGT, CELLS, COUNT_COLOURS, RED_SRC

pytestmark = pytest.mark.ui

GRAPH = f"{CONN} .bmtl-graph"
VIEW = f"{CONN} .bmtl-network3d"
HEADER = ".jupyter-widget-Collapse-header, {0} .p-Collapse-header, {0} .lm-Collapse-header"
# the example's groups and its non-zero total matrix (conn.graph(metric='total')), gap junction last
GROUPS = ["Exc", "PV", "SST", "Thal"]
CHEMICAL = {("Exc", "Exc"): 18, ("Exc", "PV"): 18, ("Exc", "SST"): 15, ("PV", "Exc"): 20, ("PV", "PV"): 3,
            ("SST", "Exc"): 16, ("Thal", "Exc"): 55, ("Thal", "PV"): 21}

# the page point (CSS px) halfway along edge k's path, where a pointer is on its stroke
EDGE_MIDPOINT = """(el, k) => {
  const p = el.querySelector(`path.bmtl-graph-hit[data-edge="${k}"]`);
  const q = p.getPointAtLength(p.getTotalLength() / 2);
  const m = p.getScreenCTM();
  return [m.a * q.x + m.c * q.y + m.e, m.b * q.x + m.d * q.y + m.f];
}"""


def _open(page, css: str, conn: str = CONN) -> None:
    sel = f"{conn} {css}"
    page.click(f"{sel} " + HEADER.format(sel))


def _edge(page, source: str, target: str, kind: str = "chemical") -> int:
    return int(page.get_attribute(f"{GRAPH} path.bmtl-graph-edge[data-source='{source}'][data-target='{target}']"
                                  f"[data-kind='{kind}']", "data-edge"))


def _point_at(page, k: int) -> tuple[float, float]:
    page.locator(f"{GRAPH} svg").scroll_into_view_if_needed()
    return page.eval_on_selector(GRAPH, EDGE_MIDPOINT, k)


def test_graph_nodes_edges_hover_click_details_3d_and_tuner(page, lab_server) -> None:
    open_notebook(page, lab_server, write_notebook(lab_server.root, "network_graph.ipynb", CELLS))
    run_all_cells(page)
    page.wait_for_selector(f"{CONN} .bmtl-conn-heatmap .bmtl-heatmap-canvas[data-ready='true']", timeout=120_000)
    _open(page, ".bmtl-conn-3d")
    page.wait_for_function(f"() => Number(document.querySelector('{VIEW}')?.dataset.points) > 0", timeout=60_000)
    _open(page, ".bmtl-conn-graph")
    page.wait_for_function(f"() => Number(document.querySelector('{GRAPH}')?.dataset.edges) > 0", timeout=60_000)

    # what is drawn: a circle per group, labelled, and an edge per non-zero connection
    data = page.eval_on_selector(GRAPH, "el => ({...el.dataset})")
    assert data["nodes"] == "4" and data["edges"] == str(len(CHEMICAL) + 1), data
    assert page.eval_on_selector_all(f"{GRAPH} circle.bmtl-graph-node", "els => els.map(e => e.dataset.label)") == GROUPS
    assert page.eval_on_selector_all(f"{GRAPH} text.bmtl-graph-label", "els => els.map(e => e.textContent)") == GROUPS
    sizes = page.eval_on_selector_all(f"{GRAPH} circle.bmtl-graph-node", "els => els.map(e => Number(e.getAttribute('r')))")
    assert sizes[0] == pytest.approx(sizes[1] * 3 ** 0.5, rel=1e-3)  # area ∝ cells: 12 Exc, 4 PV
    edges = page.eval_on_selector_all(f"{GRAPH} path.bmtl-graph-edge", """els => els.map(e => [e.dataset.source,
        e.dataset.target, e.dataset.kind, Number(e.dataset.value), e.getAttribute('stroke-dasharray')])""")
    chem = {(s, t): v for s, t, k, v, _ in edges if k == "chemical"}
    assert chem == CHEMICAL
    gap = [e for e in edges if e[2] == "gap_junction"]
    assert [(s, t, v) for s, t, _, v, _ in gap] == [("PV", "PV", 6)] and gap[0][4]  # dashed
    assert page.locator(f"{GRAPH} path.bmtl-graph-arrow").count() == len(CHEMICAL)  # gap junctions: no arrow

    # hover an edge: its value
    k = _edge(page, "Exc", "PV")
    x, y = _point_at(page, k)
    page.mouse.move(x, y)
    page.wait_for_function(f"() => document.querySelector('{GRAPH}').dataset.hovered === 'Exc → PV: 18 connections'",
                           timeout=10_000)
    assert page.inner_text(f"{GRAPH} .bmtl-graph-readout") == "Exc → PV: 18 connections"
    screenshot(page, "network-graph")

    # click it: the details of Exc → PV, its cells lit in 3D, the edge marked, the tuner offered
    page.mouse.click(x, y)
    page.wait_for_function(f"() => document.querySelector('{CONN} .bmtl-conn-summary').textContent.includes('Exc → PV')",
                           timeout=30_000)
    page.wait_for_function(f"() => Number(document.querySelector('{VIEW}').dataset.highlighted) > 0", timeout=30_000)
    lit = page.eval_on_selector(VIEW, COUNT_COLOURS, [RED_SRC, BLUE_TGT])
    assert lit["counts"][0] > 30 and lit["counts"][1] > 10, lit
    assert "highlighted: Exc (sources, red) → PV (targets, blue)" in page.inner_text(f"{CONN} .bmtl-network3d-status")
    page.wait_for_function(f"() => document.querySelector('{GRAPH}').dataset.selectedEdge === '{k}'", timeout=10_000)
    assert page.get_attribute(f"{GRAPH} path.bmtl-graph-edge[data-edge='{k}']", "stroke") == "#111111"
    assert "clicked: Exc → PV: 18 connections" in page.inner_text(f"{CONN} .bmtl-graph-status")
    page.wait_for_selector(f"{CONN} button.bmtl-conn-open-tuner:not([disabled])", timeout=10_000)

    # the graph PNG downloads
    with page.expect_download(timeout=30_000) as dl:
        page.click(f"{CONN} button.bmtl-graph-export-png")
    assert dl.value.suggested_filename == "connectivity_graph_total.png"
    assert open(dl.value.path(), "rb").read(8) == b"\x89PNG\r\n\x1a\n"

    # Open synapse tuner, offered by the graph's click: the tuner on Exc2PV in the right sidebar
    page.click(f"{CONN} button.bmtl-conn-open-tuner")
    page.wait_for_selector(f"{SIDE_TUNER} .bmtl-trace-panel.bmtl-syn-trace[data-has-signal='true']", timeout=120_000)
    assert "opened the synapse tuner on Exc2PV" in page.inner_text(f"{CONN} .bmtl-conn-status")
    screenshot(page, "network-graph-tuner")


def test_3d_box_selection_restricts_the_matrix_and_graph_fits_the_sidebar(page, lab_server) -> None:
    page.set_viewport_size({"width": 1500, "height": 950})
    cells = ["import bmtool_lab\nimport bmtool_lab.lab as L\nconfig = bmtool_lab.build_example('example_network')",
             "L.open_dashboard('connectivity', str(config), None, 'right')"]
    open_notebook(page, lab_server, write_notebook(lab_server.root, "graph_sidebar.ipynb", cells))
    run_all_cells(page)
    host = "#jp-right-stack .bmtl-host[data-ready='true']"
    conn = f"{host} .bmtl-conn"
    graph, view = f"{conn} .bmtl-graph", f"{conn} .bmtl-network3d"
    page.wait_for_selector(f"{conn} .bmtl-conn-heatmap .bmtl-heatmap-canvas[data-ready='true']", timeout=120_000)
    default_sidebar_width(page)
    _open(page, ".bmtl-conn-graph", conn)
    page.wait_for_function(f"() => Number(document.querySelector(\"{graph}\")?.dataset.edges) > 0",
                           timeout=60_000)
    page.locator(f"{graph} svg").scroll_into_view_if_needed()
    assert_fits(page, host)
    screenshot(page, "sidebar-connectivity-graph")

    # a shift-drag box over the 3D view picks cells; "cells: 3D selection: sources" uses them
    _open(page, ".bmtl-conn-3d", conn)
    page.wait_for_function(f"() => Number(document.querySelector(\"{view}\")?.dataset.points) > 0",
                           timeout=60_000)
    assert_fits(page, host)
    canvas = page.locator(f"{view} canvas")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    page.keyboard.down("Shift")
    page.mouse.move(box["x"] + 2, box["y"] + 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] - 2, steps=6)
    page.mouse.up()
    page.keyboard.up("Shift")
    page.wait_for_function(f"() => Number(document.querySelector(\"{view}\").dataset.selected) > 0",
                           timeout=10_000)
    n = int(page.get_attribute(view, "data-selected"))
    page.select_option(f"{conn} .bmtl-conn-use-selection select", label="3D selection: sources")
    page.wait_for_function("([sel, t]) => document.querySelector(sel).textContent.includes(t)",
                           arg=[f"{conn} .bmtl-conn-status", f"restricted to the 3D selection: {n} source cells"],
                           timeout=30_000)
    assert_fits(page, host)
