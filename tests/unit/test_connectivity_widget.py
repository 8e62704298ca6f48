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
    conn = dash.explorer
    np.testing.assert_allclose(dash.heatmap.color, conn.matrix("percent").to_numpy())
    assert dash.heatmap.row.tolist() == ["A", "B", "in"] and dash.heatmap.column.tolist() == ["A", "B"]
    assert dash.stat.disabled and dash.count.disabled  # percent counts connections, no statistic
    dash.metric.value = "total"
    np.testing.assert_allclose(dash.heatmap.color, [[4, 2], [1, 2], [1, 2]])
    dash.count.value = "synapses"
    np.testing.assert_allclose(dash.heatmap.color, conn.matrix("total", count="synapses").to_numpy())
    dash.metric.value = "convergence"
    assert not dash.stat.disabled
    dash.stat.value = "max"
    np.testing.assert_allclose(dash.heatmap.color, conn.matrix("convergence", stat="max", count="synapses").to_numpy())
    assert "convergence (max)" in dash.figure.title
    dash.sources.value = "inputs"  # a single source group: a 1 × N grid
    assert dash.heatmap.color.shape == (1, 2) and dash.heatmap.row.tolist() == ["in"]


def test_hover_shows_value_counts_and_denominator(dash):
    dash.heatmap._handle_custom_msgs(None, {"event": "hover", "data": {"rowNum": 0, "columnNum": 1, "color": 33.3}})
    text = dash.hover.value
    assert "A → B" in text and "<b>33.3</b> %" in text and "2 total connected pairs / 6 possible pairs" in text


def test_click_fills_the_details(dash):
    assert dash.details.layout.display == "none"
    dash.heatmap.selected = [[0, 1]]  # what a click on the front end syncs back
    assert dash.details.layout.display == "flex"
    assert "2 connections of 6 possible pairs" in dash.summary.value
    assert dash._degree_bars.y.tolist() == [1, 0, 1]  # B cells receive 2 and 0 A sources
    assert "A2B" in dash.edge_types.value
    assert dash._weight_bars.y.sum() == 2 and dash._delay_bars.y.sum() == 2
    dash.select("B", "A")
    assert "1 connections of 6 possible pairs" in dash.summary.value and "B2A" in dash.edge_types.value
    dash.metric.value = "bidirectional"  # a new matrix clears the selection
    assert dash.details.layout.display == "none"


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
    for part, css in ((dash.figure, "bmtl-conn-heatmap"), (dash.metric, "bmtl-conn-metric"),
                      (dash.details, "bmtl-conn-details"), (dash.group_by, "bmtl-conn-groupby"),
                      (dash.export_csv, "bmtl-conn-export-csv"), (dash.open_tuner, "bmtl-conn-open-tuner"),
                      (dash.hover, "bmtl-conn-hover"), (dash.status, "bmtl-conn-status")):
        assert css in part._dom_classes
