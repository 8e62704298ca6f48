"""The connectivity heatmap's numbers as a user reads them: each readable on its cell (white on
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

# Each number on a cell: its text, and the WCAG contrast ratio of its colour against the cell's fill.
_LABELS_JS = """root => {
  const rgb = (s) => (s.match(/[\\d.]+/g) || []).slice(0, 3).map(Number);
  const lum = (c) => { const l = c.map(v => { v /= 255; return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
                       return 0.2126 * l[0] + 0.7152 * l[1] + 0.0722 * l[2]; };
  const out = [];
  for (const t of root.querySelectorAll('.bmtl-conn-heatmap text.label')) {
    const b = t.getBoundingClientRect();
    const cell = document.elementsFromPoint(b.x + b.width / 2, b.y + b.height / 2)
      .find(e => e.classList && e.classList.contains('heatmapcell'));
    if (!cell) { out.push({text: t.textContent, contrast: 0, cell: null}); continue; }
    const a = lum(rgb(getComputedStyle(t).fill)), c = lum(rgb(getComputedStyle(cell).fill));
    out.push({text: t.textContent, contrast: (Math.max(a, c) + 0.05) / (Math.min(a, c) + 0.05),
              color: getComputedStyle(t).fill, cell: getComputedStyle(cell).fill});
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
    page.wait_for_selector(f"{INLINE} .bmtl-conn-heatmap text.label", timeout=120_000)
    n_cells = page.eval_on_selector_all(f"{INLINE} .bmtl-conn-heatmap rect.heatmapcell", "els => els.length")
    page.wait_for_function("([sel, n]) => document.querySelectorAll(sel).length === n",
                           arg=[f"{INLINE} .bmtl-conn-heatmap text.label", n_cells], timeout=30_000)
    labels = page.eval_on_selector(INLINE, _LABELS_JS)
    assert len(labels) == n_cells >= 9
    assert all(lab["cell"] for lab in labels), labels  # each number sits on its cell
    assert [lab for lab in labels if lab["contrast"] < 4.5] == [], labels  # readable on every cell
    assert [lab["text"] for lab in labels if not _numbers_ok(lab["text"])] == [], labels
    texts = [lab["text"] for lab in labels]
    assert "0" in texts and any("." in t for t in texts), texts  # the example has empty pairs and fractions
    # both ends of the colour map are in use: white and black text are both needed
    assert len({lab["color"] for lab in labels}) == 2, labels

    # The explorer in the right sidebar at its default width: nothing clipped, no horizontal scrollbar.
    page.wait_for_selector(f"{SIDE} .bmtl-conn-heatmap rect.heatmapcell", timeout=120_000)
    page.wait_for_timeout(500)
    assert_fits(page, SIDE)
    screenshot(page, "sidebar-connectivity")
