"""The connectivity dashboard, built headless (ipywidgets without a front end)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sonata_factory import five_node_network

from bmtool_lab.tuning.connectivity import ConnectivityExplorer

pytestmark = pytest.mark.unit

pytest.importorskip("bqplot")


@pytest.fixture
def dash(tmp_path):
    from bmtool_lab.widgets.connectivity import ConnectivityDashboard

    conn = ConnectivityExplorer(five_node_network(tmp_path))
    return ConnectivityDashboard(conn)


def test_metric_switch_redraws_the_heatmap(dash):
    from bmtool_lab.widgets.heatmap import CanvasHeatmap

    conn = dash.explorer
    assert isinstance(dash.heatmap, CanvasHeatmap)  # the one renderer, for every grid size
    np.testing.assert_allclose(dash.heatmap.matrix(), conn.matrix("percent").to_numpy())
    assert dash.heatmap.row_labels == ["A", "B", "in"] and dash.heatmap.col_labels == ["A", "B"]
    assert dash.heatmap.row_title == "source pop_name" and dash.heatmap.col_title == "target pop_name"
    assert dash.stat.disabled and dash.count.disabled  # percent counts connections, no statistic
    dash.metric.value = "total"
    np.testing.assert_allclose(dash.heatmap.matrix(), [[4, 2], [1, 2], [1, 2]])
    assert dash.heatmap.title == "total [connections]" and (dash.heatmap.vmin, dash.heatmap.vmax) == (0.0, 4.0)
    dash.count.value = "synapses"
    np.testing.assert_allclose(dash.heatmap.matrix(), conn.matrix("total", count="synapses").to_numpy())
    dash.metric.value = "convergence"
    assert not dash.stat.disabled
    dash.stat.value = "max"
    np.testing.assert_allclose(dash.heatmap.matrix(), conn.matrix("convergence", stat="max", count="synapses").to_numpy())
    assert "convergence (max)" in dash.heatmap.title
    dash.sources.value = "inputs"  # a single source group: a 1 × N grid
    assert dash.heatmap.matrix().shape == (1, 2) and dash.heatmap.row_labels == ["in"]


def test_numbers_on_the_cells_in_a_readable_colour(dash):
    from bmtool_lab.widgets.connectivity_parts import text_colours

    dash.metric.value = "total"
    hm = dash.heatmap
    assert hm.cell_text == ["4", "2", "1", "2", "1", "2"]  # row-major, written as the hover line writes them
    # white on the dark (low) end of viridis, black on the light (high) end: the rules of connectivity_parts
    assert hm.cell_text_colors == text_colours(hm.matrix(), 0.0, 4.0)
    assert hm.cell_text_colors[0] == "black" and hm.cell_text_colors[2] == "white"
    dash.metric.value = "percent"
    assert hm.cell_text[1] == "33.3" and len(hm.cell_text_colors) == 6


def test_hover_shows_value_counts_and_denominator(dash):
    dash.heatmap.hovered = [0, 1]  # what the front end syncs back when the pointer enters a cell
    text = dash.hover.value
    assert "A → B" in text and "<b>33.3</b> %" in text and "2 total connected pairs / 6 possible pairs" in text
    dash.heatmap.hovered = []  # the pointer left: the last text stays
    assert "A → B" in dash.hover.value


def test_click_fills_the_details(dash):
    assert dash.details.layout.display == "none"
    dash.heatmap.selected = [0, 1]  # what a click on the front end syncs back
    assert dash.details.layout.display == "flex"
    assert "2 connections of 6 possible pairs" in dash.summary.value
    assert dash._degree_bars.y.tolist() == [1, 0, 1]  # B cells receive 2 and 0 A sources
    assert "A2B" in dash.edge_types.value
    assert dash._weight_bars.y.sum() == 2 and dash._delay_bars.y.sum() == 2
    dash.select("B", "A")
    assert "1 connections of 6 possible pairs" in dash.summary.value and "B2A" in dash.edge_types.value
    assert dash.heatmap.selected == [1, 0]  # the chosen cell is outlined
    dash.metric.value = "bidirectional"  # a new matrix clears the selection
    assert dash.details.layout.display == "none" and dash.heatmap.selected == []


def test_synapse_tuner_button_hook(dash):
    dash.select("A", "A")
    # by default the button opens this config's synapse tuner in the sidebar
    assert not dash.open_tuner.disabled
    assert dash.on_open_synapse_tuner == dash._open_tuner_in_sidebar
    dash.on_open_synapse_tuner = None
    assert dash.open_tuner.disabled and "not available" in dash.open_tuner.tooltip
    opened = []
    dash.on_open_synapse_tuner = opened.append
    assert not dash.open_tuner.disabled
    assert [name for name, _ in dash.tuner_type.options] == ["A2A (recurrent:10)", "A2A (recurrent:14)"]  # no gap
    dash.tuner_type.value = 1
    dash.open_tuner.click()
    assert [t.key for t in opened] == [("recurrent", 14)]


def test_export_csv_and_errors_in_the_status_line(dash, tmp_path):
    dash.export_path.value = str(tmp_path / "out" / "percent.csv")
    dash.export_csv.click()
    df = pd.read_csv(tmp_path / "out" / "percent.csv", index_col=0)
    np.testing.assert_allclose(df.to_numpy(), dash.explorer.matrix("percent").to_numpy())
    assert "wrote" in dash.status.value
    sent = []
    dash.heatmap.send = sent.append
    dash.export_png.click()  # the canvas saves itself in the browser
    assert sent == [{"type": "save_png", "name": "percent.png"}] and "percent.png" in dash.status.value
    dash.sources.value = "inputs"
    dash.targets.value = "inputs"  # no edges: reported, not raised
    assert "no edges run from inputs to inputs" in dash.status.value


def test_stable_css_classes_and_lazy_display(tmp_path):
    conn = ConnectivityExplorer(five_node_network(tmp_path))
    bundle = conn._repr_mimebundle_()
    data = bundle[0] if isinstance(bundle, tuple) else bundle
    assert "application/vnd.jupyter.widget-view+json" in data
    dash = conn.dashboard()
    assert "bmtl-conn" in dash._dom_classes
    for part, css in ((dash.figure, "bmtl-conn-heatmap"), (dash.heatmap, "bmtl-conn-canvas-heatmap"), (dash.metric, "bmtl-conn-metric"),
                      (dash.details, "bmtl-conn-details"), (dash.group_by, "bmtl-conn-groupby"),
                      (dash.export_csv, "bmtl-conn-export-csv"), (dash.open_tuner, "bmtl-conn-open-tuner"),
                      (dash.hover, "bmtl-conn-hover"), (dash.status, "bmtl-conn-status")):
        assert css in part._dom_classes
