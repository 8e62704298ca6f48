"""The cell profiler and the connectivity explorer in the right sidebar at its default width, in
the test's 1500×950 window and in a 1280×800 one: no horizontal scrollbar and no clipped control
(each element's content fits its box) on every profiler tab with its results shown, and in the
explorer with a matrix cell's details (histograms) and the 3D view open. The synapse tuner's
layout check, with its Fit panel open, is in test_tuner_redraw_ui.py."""

from __future__ import annotations

import pytest

from .helpers import (
    assert_fits,
    click_matrix_cell,
    default_sidebar_width,
    open_notebook,
    run_all_cells,
    screenshot,
    wait_for_trace,
    write_notebook,
)

pytestmark = pytest.mark.ui

HOST = "#jp-right-stack .bmtl-host[data-ready='true']"
PROF = f"{HOST} .bmtl-prof"
CONN = f"{HOST} .bmtl-conn"
VIEWPORTS = pytest.mark.parametrize("viewport", [(1500, 950), (1280, 800)], ids=["1500x950", "1280x800"])
# each profiler tab and what shows its result (a table filled by that tab's run)
PROFILER_TABS = (("Passive", ".bmtl-prof-passive-values"), ("Current clamp", ".bmtl-prof-features-values"),
                 ("F–I", ".bmtl-prof-fi-values"), ("ZAP", ".bmtl-prof-zap-values"),
                 ("All cells", ".bmtl-prof-all-values"))


def _open_in_sidebar(page, lab_server, viewport: tuple[int, int], kind: str) -> None:
    """A notebook that opens the example's ``kind`` dashboard in the right sidebar only."""
    page.set_viewport_size({"width": viewport[0], "height": viewport[1]})
    cells = ["import bmtool_lab\nimport bmtool_lab.lab as L\nconfig = bmtool_lab.build_example('example_network')",
             f"L.open_dashboard({kind!r}, str(config), None, 'right')"]
    name = f"layout_{kind}_{viewport[0]}x{viewport[1]}.ipynb"  # its own kernel: no dashboard left from before
    open_notebook(page, lab_server, write_notebook(lab_server.root, name, cells))
    run_all_cells(page)


def _profiler_tab_done(page, title: str, result: str) -> None:
    """Open a profiler tab and wait for its run: the status says so and its table is there."""
    page.click(f"{PROF} .bmtl-prof-tabs .lm-TabBar-tab:has-text('{title}')")
    if title == "All cells":  # the one tab that runs on a click, not on opening
        page.click(f"{PROF} .bmtl-prof-all-run")
    page.wait_for_function("([sel, t]) => document.querySelector(sel).textContent.endsWith(t)",
                           arg=[f"{PROF} .bmtl-prof-status", f": {title} done"], timeout=240_000)
    page.wait_for_selector(f"{PROF} {result}", state="visible", timeout=30_000)


def _shot(page, name: str, viewport: tuple[int, int]) -> None:
    """Screenshots for the note are of the default window only."""
    screenshot(page, f"{name}-{viewport[0]}x{viewport[1]}", readme=viewport == (1500, 950))


@VIEWPORTS
def test_profiler_fits_the_default_sidebar_on_every_tab(page, lab_server, viewport) -> None:
    _open_in_sidebar(page, lab_server, viewport, "profiler")
    wait_for_trace(page, f"{PROF} .bmtl-trace-panel", min_points=50, timeout_s=180)
    default_sidebar_width(page)
    for title, result in PROFILER_TABS:
        _profiler_tab_done(page, title, result)
        page.locator(f"{PROF} .bmtl-prof-tabs").scroll_into_view_if_needed()
        _shot(page, f"sidebar-profiler-{title.lower().replace(' ', '-').replace('–', '')}", viewport)
        assert_fits(page, HOST)
    # A page reload draws every view anew, the F–I and ZAP tabs hidden: no figure is drawn at zero
    # width there (bqplot's negative-size rects are console errors, which fail the test).
    page.reload()
    wait_for_trace(page, f"{PROF} .bmtl-trace-panel", min_points=50, timeout_s=90)
    page.wait_for_selector(f"{PROF} .bmtl-prof-all-values", state="visible", timeout=30_000)
    assert_fits(page, HOST)


@VIEWPORTS
def test_connectivity_fits_the_default_sidebar_with_details_and_3d(page, lab_server, viewport) -> None:
    _open_in_sidebar(page, lab_server, viewport, "connectivity")
    page.wait_for_selector(f"{CONN} .bmtl-conn-heatmap .bmtl-heatmap-canvas[data-ready='true']", timeout=120_000)
    default_sidebar_width(page)
    assert_fits(page, HOST)
    # a matrix cell's details: the three histograms with bars
    click_matrix_cell(page, CONN, "Exc → PV")
    page.wait_for_function("sel => [...document.querySelectorAll(sel)].some(r => Number(r.getAttribute('height')) > 10)",
                           arg=f"{CONN} .bmtl-conn-delay-hist rect.bar", timeout=30_000)
    assert "Exc → PV" in page.inner_text(f"{CONN} .bmtl-conn-summary")
    # the 3D view, drawn
    page.click(f"{CONN} .bmtl-conn-3d .jupyter-widget-Collapse-header, {CONN} .bmtl-conn-3d .lm-Collapse-header")
    page.wait_for_function("sel => Number(document.querySelector(sel)?.dataset.points) > 0",
                           arg=f"{CONN} .bmtl-network3d", timeout=60_000)
    assert_fits(page, HOST)
    _shot(page, "sidebar-connectivity-details-3d", viewport)
