"""The connectivity heatmap's numbers as a user reads them on its canvas: each readable on its cell (white on
the dark end of viridis, black on the light end), written one way (0 as "0", at most 3
significant digits, no trailing zeros), and the picker rows wrapping instead of clipping in
the right sidebar at its default width."""

from __future__ import annotations

import re

import pytest

from .helpers import assert_fits, open_notebook, run_all_cells, screenshot, write_notebook

pytestmark = pytest.mark.ui

INLINE = ".jp-NotebookPanel .bmtl-conn"
SIDE = "#jp-right-stack .bmtl-host[data-ready='true'] .bmtl-conn"
CELLS = ["import bmtool_lab\nimport bmtool_lab.lab as L\nfrom bmtool_lab import ConnectivityExplorer\n"
         "config = bmtool_lab.build_example('example_network')\nconn = ConnectivityExplorer(config)\nconn",
         "L.open_dashboard('connectivity', str(config), None, 'right')"]

# Each number the heatmap drew on a cell: its text and colour as drawn, the cell's fill read back
# from the canvas (a pixel near the cell's corner, off the text and the white lines), the WCAG
# contrast ratio of the two, and whether a pixel of the text's colour is near the cell's centre.
_LABELS_JS = """root => {
  const hm = root.querySelector('.bmtl-conn-heatmap .bmtl-heatmap-canvas');
  const canvas = hm.querySelector('canvas');
  const ctx = canvas.getContext('2d');
  const dpr = canvas.width / canvas.getBoundingClientRect().width;
  const [left, top, width, height] = hm.dataset.plot.split(',').map(Number);
  const nr = Number(hm.dataset.rows), nc = Number(hm.dataset.cols), cw = width / nc, ch = height / nr;
  const px = (x, y) => Array.from(ctx.getImageData(Math.round(x * dpr), Math.round(y * dpr), 1, 1).data).slice(0, 3);
  const lum = (c) => { const l = c.map(v => { v /= 255; return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
                       return 0.2126 * l[0] + 0.7152 * l[1] + 0.0722 * l[2]; };
  const ink = {white: [255, 255, 255], black: [0, 0, 0]};
  const out = [];
  for (const [r, c, text, color] of JSON.parse(hm.dataset.numbers)) {
    const x0 = left + c * cw, y0 = top + r * ch;
    const cell = px(x0 + 4, y0 + 4);
    const want = ink[color];
    let inked = false;
    for (let dx = -12; dx <= 12 && !inked; dx++) {
      for (let dy = -6; dy <= 6 && !inked; dy++) {
        const p = px(x0 + cw / 2 + dx, y0 + ch / 2 + dy);
        inked = Math.max(...p.map((v, i) => Math.abs(v - want[i]))) < 48;
      }
    }
    const a = lum(want), b = lum(cell);
    out.push({r, c, text, color, cell, inked, contrast: (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)});
  }
  return out;
}"""


def _numbers_ok(text: str) -> bool:
    """One way of writing a number: "0", "150", "13.6", "0.523"; never "0.00", "5.0" or 4+ digits after a point."""
    if text == "–":
        return True
    if not re.fullmatch(r"-?\d+(\.\d+)?", text):
        return False
    if "." in text:
        return not text.endswith("0") and len(text.replace("-", "").replace(".", "").lstrip("0")) <= 3
    return True


def test_heatmap_numbers_readable_and_pickers_wrap(page, lab_server) -> None:
    open_notebook(page, lab_server, write_notebook(lab_server.root, "heatmap_labels.ipynb", CELLS))
    run_all_cells(page)
    page.wait_for_selector(f"{INLINE} .bmtl-conn-heatmap .bmtl-heatmap-canvas[data-ready='true']", timeout=120_000)
    shape = page.eval_on_selector(f"{INLINE} .bmtl-heatmap-canvas", "el => [Number(el.dataset.rows), Number(el.dataset.cols)]")
    n_cells = shape[0] * shape[1]
    labels = page.eval_on_selector(INLINE, _LABELS_JS)
    assert len(labels) == n_cells >= 9
    # each number sits on its own cell, and is drawn there in its colour
    assert sorted((lab["r"], lab["c"]) for lab in labels) == [(r, c) for r in range(shape[0]) for c in range(shape[1])]
    assert [lab for lab in labels if not lab["inked"]] == [], labels
    assert [lab for lab in labels if lab["contrast"] < 4.5] == [], labels  # readable on every cell
    assert [lab["text"] for lab in labels if not _numbers_ok(lab["text"])] == [], labels
    texts = [lab["text"] for lab in labels]
    assert "0" in texts and any("." in t for t in texts), texts  # the example has empty pairs and fractions
    # both ends of the colour map are in use: white and black text are both needed
    assert len({lab["color"] for lab in labels}) == 2, labels

    # The explorer in the right sidebar at its default width: nothing clipped, no horizontal scrollbar.
    page.wait_for_selector(f"{SIDE} .bmtl-conn-heatmap .bmtl-heatmap-canvas[data-ready='true']", timeout=120_000)
    page.wait_for_timeout(500)
    assert_fits(page, SIDE)
    screenshot(page, "sidebar-connectivity")
