"""The connectivity explorer in a real JupyterLab: switch metric, hover, click a cell, see details."""

from __future__ import annotations

import time

import pytest

from .helpers import open_notebook, run_all_cells, screenshot

pytestmark = pytest.mark.ui

HEATMAP = ".jp-NotebookPanel .bmtl-conn .bmtl-conn-heatmap"


def wait_text(page, selector: str, predicate, timeout_s: float = 30) -> str:
    """Poll a locator's text until ``predicate(text)`` holds (locators wait for re-rendered nodes)."""
    loc = page.locator(selector).first
    deadline = time.monotonic() + timeout_s
    text = ""
    while time.monotonic() < deadline:
        try:
            text = loc.inner_text(timeout=2000)
        except Exception:
            text = ""
        if predicate(text):
            return text
        time.sleep(0.2)
    raise AssertionError(f"{selector}: text never matched, last {text!r}")


def cell_count(page) -> int:
    return page.eval_on_selector_all(f"{HEATMAP} rect.heatmapcell", "els => els.length")


def test_explorer_switch_hover_click(page, lab_server) -> None:
    open_notebook(page, lab_server, "connectivity.ipynb")
    run_all_cells(page)
    page.wait_for_selector(f"{HEATMAP} rect.heatmapcell", timeout=120_000)
    # percent of the example network: sources Exc, PV, SST, Thal x targets Exc, PV, SST
    assert cell_count(page) >= 9
    labels = page.inner_text(HEATMAP)
    assert "Exc" in labels and "PV" in labels

    # Switch the metric: the heatmap redraws with other numbers (the status line says which).
    status = page.inner_text(".jp-NotebookPanel .bmtl-conn .bmtl-conn-status")
    metric = page.query_selector(".jp-NotebookPanel .bmtl-conn .bmtl-conn-metric select")
    metric.select_option(label="total") if "total" in metric.inner_text() else metric.select_option(index=0)
    wait_text(page, ".jp-NotebookPanel .bmtl-conn .bmtl-conn-status", lambda t: t != status)

    # Hover: the hover line shows a value with its counts.
    cells = page.query_selector_all(f"{HEATMAP} rect.heatmapcell")
    cells[0].hover()
    hover = wait_text(page, ".bmtl-conn-hover", lambda t: "→" in t)
    assert any(ch.isdigit() for ch in hover)

    # Click: the details area fills in (counts, edge types, histograms).
    # bqplot's tooltip follows the pointer: click near the cell's corner, off the tooltip.
    cells[0].hover(position={"x": 4, "y": 4})
    cells[0].click(position={"x": 4, "y": 4})
    details = wait_text(page, ".jp-NotebookPanel .bmtl-conn .bmtl-conn-summary", lambda t: "→" in t)
    assert any(ch.isdigit() for ch in details)
    screenshot(page, "connectivity-explorer", readme=True)
