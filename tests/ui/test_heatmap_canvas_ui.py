"""CanvasHeatmap in a real JupyterLab: the canvas draws a 150 × 150 grid and a click selects a cell."""

from __future__ import annotations

import json

import pytest

from .helpers import open_notebook, run_all_cells, screenshot

pytestmark = pytest.mark.ui

HEATMAP = ".jp-NotebookPanel .bmtl-heatmap-canvas"

SOURCE = """\
import numpy as np
from bmtool_lab.widgets.heatmap import CanvasHeatmap

m = np.arange(150 * 150, dtype=float).reshape(150, 150)
m[3, 4] = np.nan
hm = CanvasHeatmap(height=500)
hm.set_matrix(m, [f"src{i}" for i in range(150)], [f"tgt{j}" for j in range(150)], title="test grid", units="%")
# echo the front end's selection into the title: proves the click reached the kernel
hm.observe(lambda ch: setattr(hm, "title", f"selected {ch['new']}"), "selected")
hm
"""


def _write_notebook(path) -> None:
    nb = {"nbformat": 4, "nbformat_minor": 5,
          "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
          "cells": [{"cell_type": "code", "id": "heatmap", "metadata": {}, "execution_count": None,
                     "outputs": [], "source": SOURCE}]}
    path.write_text(json.dumps(nb))


def test_canvas_heatmap_draws_and_click_selects(page, lab_server) -> None:
    _write_notebook(lab_server.root / "heatmap_canvas.ipynb")
    open_notebook(page, lab_server, "heatmap_canvas.ipynb")
    run_all_cells(page)
    page.wait_for_function(f"() => document.querySelector('{HEATMAP}')?.dataset.rows === '150'", timeout=120_000)
    data = page.eval_on_selector(HEATMAP, "el => ({...el.dataset})")
    assert data["cols"] == "150" and data["selected"] == "" and int(data["rowStep"]) > 1  # not every label fits
    # column names stand vertical at this density, every k-th; no numbers were given
    assert data["colAngle"] == "90" and int(data["colStep"]) > 1 and json.loads(data["numbers"]) == []
    assert json.loads(data["rowTicks"])[:2] == ["src0", f"src{data['rowStep']}"]
    left, top, width, height = (float(v) for v in data["plot"].split(","))
    # the cells were painted: a pixel inside the plot is not blank
    rgba = page.eval_on_selector(
        f"{HEATMAP} canvas",
        f"c => Array.from(c.getContext('2d').getImageData({left + width / 2} * devicePixelRatio, "
        f"{top + height / 2} * devicePixelRatio, 1, 1).data)")
    assert rgba[3] == 255 and rgba[:3] != [255, 255, 255]

    # click the middle of cell (row 10, col 20); hover first shows the tooltip
    x, y = left + (20 + 0.5) * width / 150, top + (10 + 0.5) * height / 150
    canvas = page.locator(f"{HEATMAP} canvas")
    canvas.hover(position={"x": x, "y": y})
    page.wait_for_selector(f"{HEATMAP} .bmtl-heatmap-tooltip", state="visible", timeout=10_000)
    assert "src10 → tgt20" in page.inner_text(f"{HEATMAP} .bmtl-heatmap-tooltip")
    canvas.click(position={"x": x, "y": y})
    page.wait_for_function(f"() => document.querySelector('{HEATMAP}').dataset.selected === '10,20'",
                           timeout=10_000)
    page.wait_for_function(f"() => document.querySelector('{HEATMAP} .bmtl-heatmap-title')"
                           ".textContent.includes('selected [10, 20]')", timeout=30_000)
    screenshot(page, "canvas-heatmap")
