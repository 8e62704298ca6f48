"""The connectivity explorer in a real JupyterLab: switch metric, hover, click a cell (on the canvas
heatmap), see details."""

from __future__ import annotations

import json
import time

import pytest

from .helpers import matrix_cells, open_notebook, run_all_cells, screenshot

pytestmark = pytest.mark.ui

HEATMAP = ".jp-NotebookPanel .bmtl-conn .bmtl-conn-heatmap"
CANVAS = f"{HEATMAP} .bmtl-heatmap-canvas[data-ready='true']"


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


def drawn(page) -> dict:
    """What the heatmap's canvas reports it drew (grid shape, plot area, tick labels, numbers)."""
    return page.eval_on_selector(CANVAS, "el => ({...el.dataset})")


def test_explorer_switch_hover_click(page, lab_server) -> None:
    open_notebook(page, lab_server, "connectivity.ipynb")
    run_all_cells(page)
    page.wait_for_selector(CANVAS, timeout=120_000)
    # percent of the example network: sources Exc, PV, SST, Thal x targets Exc, PV, SST
    data = drawn(page)
    assert int(data["rows"]) * int(data["cols"]) >= 9
    rows, cols = json.loads(data["rowTicks"]), json.loads(data["colTicks"])
    assert "Exc" in rows and "PV" in rows and "Exc" in cols and "PV" in cols  # group names on both axes
    assert "percent" in page.inner_text(f"{HEATMAP} .bmtl-heatmap-title")

    # Switch the metric: the heatmap redraws with other numbers (the status line says which).
    status = page.inner_text(".jp-NotebookPanel .bmtl-conn .bmtl-conn-status")
    numbers = data["numbers"]
    metric = page.query_selector(".jp-NotebookPanel .bmtl-conn .bmtl-conn-metric select")
    metric.select_option(label="total") if "total" in metric.inner_text() else metric.select_option(index=0)
    wait_text(page, ".jp-NotebookPanel .bmtl-conn .bmtl-conn-status", lambda t: t != status)
    page.wait_for_function("([sel, before]) => document.querySelector(sel).dataset.numbers !== before",
                           arg=[CANVAS, numbers], timeout=30_000)

    # Hover: the hover line shows a value with its counts.
    canvas = page.locator(f"{CANVAS} canvas")
    (_r, _c, first), *_ = matrix_cells(page, ".jp-NotebookPanel .bmtl-conn")
    canvas.hover(position=first)
    hover = wait_text(page, ".bmtl-conn-hover", lambda t: "→" in t)
    assert any(ch.isdigit() for ch in hover)

    # Click: the details area fills in (counts, edge types, histograms), the cell is outlined.
    canvas.click(position=first)
    details = wait_text(page, ".jp-NotebookPanel .bmtl-conn .bmtl-conn-summary", lambda t: "→" in t)
    assert any(ch.isdigit() for ch in details)
    page.wait_for_function("sel => document.querySelector(sel).dataset.selected === '0,0'", arg=CANVAS,
                           timeout=10_000)
    screenshot(page, "connectivity-explorer", readme=True)
