"""The connectivity details as a user sees them: a click fills the three histograms with bars
(no bqplot format errors, no negative-size rects: the console fixture fails the test on either),
and "Open synapse tuner" opens the tuner on that connection in the right sidebar, also again
after its panel was closed."""

from __future__ import annotations

import pytest

from .helpers import (
    assert_fits,
    click_matrix_cell,
    open_notebook,
    run_all_cells,
    screenshot,
    write_notebook,
)

pytestmark = pytest.mark.ui

CONN = ".jp-NotebookPanel .bmtl-conn"
SIDE_TUNER = "#jp-right-stack .bmtl-host[data-ready='true'] .bmtl-syn-tuner"
CELLS = ["import bmtool_lab\nfrom bmtool_lab import ConnectivityExplorer\n"
         "config = bmtool_lab.build_example('example_network')\nconn = ConnectivityExplorer(config)\nconn"]


def bar_heights(page, css: str) -> list[float]:
    return page.eval_on_selector_all(f"{CONN} .{css} rect.bar", "els => els.map(e => Number(e.getAttribute('height')))")


def test_details_histograms_and_open_tuner(page, lab_server) -> None:
    open_notebook(page, lab_server, write_notebook(lab_server.root, "conn_details.ipynb", CELLS))
    run_all_cells(page)
    page.wait_for_selector(f"{CONN} .bmtl-conn-heatmap .bmtl-heatmap-canvas[data-ready='true']", timeout=120_000)
    # the Exc → PV cell (row Exc, column PV): 18 connections, one edge type Exc2PV
    click_matrix_cell(page, CONN, "Exc → PV")
    page.wait_for_function(f"() => document.querySelectorAll('{CONN} .bmtl-conn-delay-hist rect.bar').length > 0"
                           f" && [...document.querySelectorAll('{CONN} .bmtl-conn-delay-hist rect.bar')]"
                           ".some(r => Number(r.getAttribute('height')) > 10)", timeout=30_000)
    assert "Exc → PV" in page.inner_text(f"{CONN} .bmtl-conn-summary")
    for css in ("bmtl-conn-degree-hist", "bmtl-conn-weight-hist", "bmtl-conn-delay-hist"):
        heights = bar_heights(page, css)
        assert heights and max(heights) > 10, (css, heights)  # bars a user can see
        widths = page.eval_on_selector_all(f"{CONN} .{css} rect.bar", "els => els.map(e => Number(e.getAttribute('width')))")
        assert min(widths) >= 4, (css, widths)
    # degree histogram: 18 connections onto 4 PV cells, so the counts add up to 4 target cells
    assert page.locator(f"{CONN} .bmtl-conn-degree-hist rect.bar").count() >= 1
    assert_fits(page, f"{CONN} .bmtl-conn-details")
    screenshot(page, "connectivity-details")

    # Open synapse tuner: the tuner on Exc2PV in the right sidebar, and the status says so.
    page.click(f"{CONN} button.bmtl-conn-open-tuner")
    page.wait_for_selector(f"{SIDE_TUNER} .bmtl-trace-panel.bmtl-syn-trace[data-has-signal='true']", timeout=120_000)
    assert "Exc2PV" in page.input_value(f"{SIDE_TUNER} .bmtl-syn-connection select") or \
        "Exc2PV" in page.inner_text(f"{SIDE_TUNER} .bmtl-syn-connection")
    assert "opened the synapse tuner on Exc2PV" in page.inner_text(f"{CONN} .bmtl-conn-status")
    screenshot(page, "connectivity-open-tuner")

    # Close the sidebar panel; the button opens it again.
    page.evaluate("() => [...window.jupyterapp.shell.widgets('right')]"
                  ".find(w => w.id.startsWith('bmtool-lab-host')).close()")
    page.wait_for_function(f"() => !document.querySelector(\"{SIDE_TUNER}\")", timeout=10_000)
    page.click(f"{CONN} button.bmtl-conn-open-tuner")
    page.wait_for_selector(f"{SIDE_TUNER} .bmtl-trace-panel.bmtl-syn-trace[data-has-signal='true']", timeout=60_000)
    assert page.is_visible(SIDE_TUNER)
