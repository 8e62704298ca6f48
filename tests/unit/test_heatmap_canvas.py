"""CanvasHeatmap traits, and the connectivity dashboard on it with a large grid (headless)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import traitlets
from sonata_factory import random_network

pytestmark = pytest.mark.unit

pytest.importorskip("anywidget")


def test_values_round_trip_as_float32_bytes():
    from bmtool_lab.widgets.heatmap import CanvasHeatmap

    m = np.array([[0.0, 1.5, np.nan], [2.0, -1.0, 1e6]])
    hm = CanvasHeatmap()
    hm.set_matrix(m, ["a", "b"], ["x", "y", "z"], title="t", units="%")
    assert hm.n_rows == 2 and hm.n_cols == 3 and hm.row_labels == ["a", "b"] and hm.col_labels == ["x", "y", "z"]
    assert isinstance(hm.values, bytes) and len(hm.values) == 6 * 4  # row-major float32
    np.testing.assert_array_equal(np.frombuffer(hm.values, np.float32).reshape(2, 3), m.astype(np.float32))
    np.testing.assert_array_equal(hm.matrix(), m.astype(np.float32))  # NaN survives
    assert hm.title == "t" and hm.units == "%"
    # a DataFrame brings its labels; numbers become strings
    hm.set_matrix(pd.DataFrame([[1.0]], index=[7], columns=["c"]))
    assert hm.row_labels == ["7"] and hm.col_labels == ["c"] and hm.matrix().tolist() == [[1.0]]
    with pytest.raises(ValueError, match="2-D"):
        hm.set_matrix(np.zeros(3))
    with pytest.raises(ValueError, match="labels"):
        hm.set_matrix(np.zeros((2, 2)), ["a"], ["x", "y"])


def test_cell_text_is_per_cell_and_replaced_with_the_matrix():
    from bmtool_lab.widgets.heatmap import CanvasHeatmap

    hm = CanvasHeatmap()
    hm.set_matrix(np.eye(2), cell_text=np.array([["1", "0"], ["0", "1"]]), cell_text_colors=["black", "white"] * 2)
    assert hm.cell_text == ["1", "0", "0", "1"] and hm.cell_text_colors == ["black", "white", "black", "white"]
    hm.set_matrix(np.eye(3))  # no text given: none shown
    assert hm.cell_text == [] and hm.cell_text_colors == []
    with pytest.raises(ValueError, match="cell_text"):
        hm.set_matrix(np.eye(2), cell_text=["1"])


def test_selection_is_a_cell_or_empty_and_cleared_by_new_data():
    from bmtool_lab.widgets.heatmap import CanvasHeatmap

    hm = CanvasHeatmap()
    hm.set_matrix(np.ones((3, 4)))
    seen = []
    hm.observe(lambda ch: seen.append(ch["new"]), "selected")
    hm.selected = (2, 3.0)  # front ends send JSON numbers; normalised to ints
    assert hm.selected == [2, 3]
    hm.hovered = [1, 1]
    with pytest.raises(traitlets.TraitError):
        hm.selected = [1, 2, 3]
    hm.set_matrix(np.ones((2, 2)))
    assert hm.selected == [] and hm.hovered == [] and seen == [[2, 3], []]


@pytest.fixture(scope="module")
def big_dash(tmp_path_factory):
    pytest.importorskip("bqplot")
    from bmtool_lab.tuning.connectivity import ConnectivityExplorer
    from bmtool_lab.widgets.connectivity import ConnectivityDashboard

    names = [f"g{i:03d}" for i in range(120)]
    ring = {(names[i], names[(i + 1) % len(names)]): 1.0 for i in range(len(names))}  # g_i → g_i+1, all pairs
    cfg = random_network(tmp_path_factory.mktemp("big"), {n: 2 for n in names}, ring)
    return ConnectivityDashboard(ConnectivityExplorer(cfg), group_by="pop_name")


def test_large_grid_on_the_canvas_heatmap(big_dash):
    from bmtool_lab.widgets.connectivity import MAX_NUMBERED_CELLS
    from bmtool_lab.widgets.heatmap import CanvasHeatmap

    dash = big_dash
    hm = dash.heatmap
    assert isinstance(hm, CanvasHeatmap) and hm in dash.figure.children and dash.figure in dash.children
    assert 120 * 120 > MAX_NUMBERED_CELLS and hm.cell_text == []  # too many cells to number: not sent
    expected = dash.explorer.matrix("percent", group_by="pop_name")
    assert (hm.n_rows, hm.n_cols) == expected.shape == (120, 120)
    np.testing.assert_allclose(hm.matrix(), expected.to_numpy(np.float32))
    assert hm.row_labels[:2] == ["g000", "g001"] and "percent" in hm.title and "120 source × 120 target" in dash.status.value
    # hover text and click details
    hm.hovered = [0, 1]
    assert "g000 → g001" in dash.hover.value and "<b>100</b> %" in dash.hover.value
    assert dash.details.layout.display == "none"
    hm.selected = [0, 1]
    assert dash.details.layout.display == "flex"
    assert "g000 → g001" in dash.summary.value and "4 connections of 4 possible pairs" in dash.summary.value
    dash.select("g005", "g006")
    assert hm.selected == [5, 6] and "g005 → g006" in dash.summary.value
    dash.metric.value = "total"  # a new matrix clears the selection and redraws the canvas
    assert hm.selected == [] and dash.details.layout.display == "none"
    np.testing.assert_allclose(hm.matrix(), dash.explorer.matrix("total", group_by="pop_name").to_numpy(np.float32))


def test_coarse_grouping_on_the_same_heatmap(big_dash):
    dash = big_dash
    hm = dash.heatmap
    dash.group_by.value = "model_type"  # one group: 1 × 1, numbered
    assert dash.heatmap is hm and hm.matrix().shape == (1, 1) and len(hm.cell_text) == 1
    hm.selected = [0, 0]
    assert dash.details.layout.display == "flex"
    dash.group_by.value = "pop_name"
    assert dash.heatmap is hm and hm.n_rows == 120 and hm.cell_text == []
