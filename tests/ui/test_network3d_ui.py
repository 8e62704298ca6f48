"""The connectivity dashboard's 3D view in a real JupyterLab: the cells are drawn in their group
colours (pixels read back from the WebGL canvas), a drag orbits, and a click on a matrix cell
paints its source cells red and its target cells blue. A second view, with the moving preview at
1 in 4 cells, shows the preview and its note while the mouse is held and every cell once it is
let go, and downloads the 3D PNG."""

from __future__ import annotations

import pytest

from .helpers import click_matrix_cell, open_notebook, run_all_cells, screenshot, write_notebook

pytestmark = pytest.mark.ui

CONN = ".jp-NotebookPanel .bmtl-conn"
VIEW = f"{CONN} .bmtl-network3d"
CELLS = ["import bmtool_lab\nfrom bmtool_lab import ConnectivityExplorer\n"
         "config = bmtool_lab.build_example('example_network')\nconn = ConnectivityExplorer(config)\n"
         "dash = conn.dashboard(metric='total')\ndash"]

# counts pixels near each colour (RGB 0-255, tolerance per channel) on the canvas as drawn
COUNT_COLOURS = """(el, colours) => {
  const c = el.querySelector('canvas');
  const gl = c.getContext('webgl', {preserveDrawingBuffer: true});
  const px = new Uint8Array(c.width * c.height * 4);
  gl.readPixels(0, 0, c.width, c.height, gl.RGBA, gl.UNSIGNED_BYTE, px);
  const counts = colours.map(() => 0);
  let nonWhite = 0;
  for (let i = 0; i < px.length; i += 4) {
    if (px[i] < 245 || px[i + 1] < 245 || px[i + 2] < 245) nonWhite++;
    colours.forEach((rgb, k) => {
      if (Math.abs(px[i] - rgb[0]) < 30 && Math.abs(px[i + 1] - rgb[1]) < 30 && Math.abs(px[i + 2] - rgb[2]) < 30) counts[k]++;
    });
  }
  return {counts, nonWhite};
}"""

# the same dashboard with its 3D view opened from the kernel and the moving preview at 5 cells
# (the example's 20: 1 in 4 drawn while moving; 1.5·10⁴ by default, where 10⁵ cells need it)
CELLS_PREVIEW = [CELLS[0].removesuffix("dash") + "view = dash.open_3d()\nview.canvas.preview_max = 5\ndash"]

BLUE_TAB10, ORANGE_TAB10 = [31, 119, 180], [255, 127, 14]
RED_SRC, BLUE_TGT = [217, 26, 26], [26, 89, 242]


def test_3d_view_draws_cells_orbits_and_highlights_a_matrix_cell(page, lab_server) -> None:
    open_notebook(page, lab_server, write_notebook(lab_server.root, "network3d.ipynb", CELLS))
    run_all_cells(page)
    page.wait_for_selector(f"{CONN} .bmtl-conn-heatmap .bmtl-heatmap-canvas[data-ready='true']", timeout=120_000)
    page.click(f"{CONN} .bmtl-conn-3d .jupyter-widget-Collapse-header, {CONN} .bmtl-conn-3d .p-Collapse-header, "
               f"{CONN} .bmtl-conn-3d .lm-Collapse-header")
    page.wait_for_function(f"() => Number(document.querySelector('{VIEW}')?.dataset.points) > 0", timeout=60_000)
    data = page.eval_on_selector(VIEW, "el => ({...el.dataset})")
    assert data["gl"] == "webgl" and int(data["points"]) == 20 and data["hiddenPoints"] == "0"
    first = page.eval_on_selector(VIEW, COUNT_COLOURS, [BLUE_TAB10, ORANGE_TAB10])
    assert first["nonWhite"] > 100, first  # points, not an empty canvas
    assert first["counts"][0] > 30 and first["counts"][1] > 10, first  # the first two groups' colours
    assert "cells drawn" in page.inner_text(f"{CONN} .bmtl-network3d-status")
    screenshot(page, "network-3d")

    # drag orbits: a new frame, the cells still drawn
    page.locator(f"{VIEW} canvas").scroll_into_view_if_needed()  # the mouse acts on the viewport only
    box = page.locator(f"{VIEW} canvas").bounding_box()
    frames = int(data["frames"])
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2 + 80, box["y"] + box["height"] / 2 + 20, steps=5)
    page.mouse.up()
    page.wait_for_function(f"() => Number(document.querySelector('{VIEW}').dataset.frames) > {frames}", timeout=10_000)
    assert page.eval_on_selector(VIEW, COUNT_COLOURS, [BLUE_TAB10])["nonWhite"] > 100

    # hide the first group from the legend: fewer points drawn
    page.click(f"{VIEW} .bmtl-network3d-group >> nth=0")
    page.wait_for_function(f"() => Number(document.querySelector('{VIEW}').dataset.hiddenPoints) > 0", timeout=10_000)
    page.click(f"{VIEW} .bmtl-network3d-group >> nth=0")
    page.wait_for_function(f"() => document.querySelector('{VIEW}').dataset.hiddenPoints === '0'", timeout=10_000)

    # a click on the Exc → PV matrix cell highlights its cells in 3D
    click_matrix_cell(page, CONN, "Exc → PV")
    page.wait_for_function(f"() => Number(document.querySelector('{VIEW}').dataset.highlighted) > 0", timeout=30_000)
    lit = page.eval_on_selector(VIEW, COUNT_COLOURS, [RED_SRC, BLUE_TGT])
    assert lit["counts"][0] > 30 and lit["counts"][1] > 10, lit
    assert "highlighted: Exc (sources, red) → PV (targets, blue)" in page.inner_text(f"{CONN} .bmtl-network3d-status")
    screenshot(page, "network-3d-highlight")


def test_3d_view_draws_a_preview_while_moving_and_every_cell_after(page, lab_server) -> None:
    open_notebook(page, lab_server, write_notebook(lab_server.root, "network3d_preview.ipynb", CELLS_PREVIEW))
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    run_all_cells(page)
    page.wait_for_function(f"() => Number(document.querySelector('{VIEW}')?.dataset.points) > 0", timeout=120_000)
    page.wait_for_function(f"() => document.querySelector('{VIEW}').dataset.previewEvery === '4'", timeout=30_000)
    status = page.inner_text(f"{CONN} .bmtl-network3d-status")
    assert "while moving, 1 in 4 cells is drawn" in status, status
    note = page.locator(f"{VIEW} .bmtl-network3d-note")
    assert not note.is_visible()
    full = page.eval_on_selector(VIEW, COUNT_COLOURS, [BLUE_TAB10])["nonWhite"]
    assert full > 100

    page.locator(f"{VIEW} canvas").scroll_into_view_if_needed()
    box = page.locator(f"{VIEW} canvas").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx, cy)
    page.mouse.down()
    page.mouse.move(cx + 60, cy + 10, steps=6)
    # held: the preview (5 of the 20 cells, no axes) and its note
    page.wait_for_function(f"() => document.querySelector('{VIEW}').dataset.preview === '1'", timeout=10_000)
    assert note.is_visible() and note.inner_text() == "preview: 1 in 4 cells while moving"
    moving = page.eval_on_selector(VIEW, COUNT_COLOURS, [BLUE_TAB10])["nonWhite"]
    assert 0 < moving < full / 2, (moving, full)
    page.wait_for_timeout(400)  # a pause with the button held keeps the preview
    assert page.eval_on_selector(VIEW, "el => el.dataset.preview") == "1" and note.is_visible()
    page.mouse.up()
    # let go: every cell again, the note gone
    page.wait_for_function(f"() => document.querySelector('{VIEW}').dataset.preview === '0'", timeout=10_000)
    assert not note.is_visible()
    after = page.eval_on_selector(VIEW, COUNT_COLOURS, [BLUE_TAB10])["nonWhite"]
    assert after > 2 * moving, (after, moving)

    # the wheel zooms with the preview too, and settles to the full frame
    page.mouse.move(cx, cy)
    page.mouse.wheel(0, -200)
    page.wait_for_function(f"() => document.querySelector('{VIEW}').dataset.preview === '1'", timeout=10_000)
    page.wait_for_function(f"() => document.querySelector('{VIEW}').dataset.preview === '0'", timeout=10_000)
    assert page.eval_on_selector(VIEW, COUNT_COLOURS, [BLUE_TAB10])["nonWhite"] > 100
    screenshot(page, "network-3d-after-preview")

    # the 3D PNG downloads: the view as drawn, every cell (not the preview)
    with page.expect_download(timeout=30_000) as dl:
        page.click(f"{CONN} button.bmtl-network3d-export-png")
    assert dl.value.suggested_filename == "network3d.png"
    png = open(dl.value.path(), "rb").read()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 2000
    assert page.eval_on_selector(VIEW, "el => el.dataset.preview") == "0"
    assert not errors, errors
