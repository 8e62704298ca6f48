"""The cell profiler in a real JupyterLab and Chromium: pick a cell, run F–I and watch the curve
fill in, change a conductance and watch it re-run."""

from __future__ import annotations

import base64
import json
import time

import pytest

from .helpers import open_notebook, run_all_cells, screenshot, wait_for_trace

pytestmark = pytest.mark.ui

ROOT = ".jp-NotebookPanel .bmtl-prof"
DOTS = f"{ROOT} .bmtl-prof-fi-plot .object_grp path.dot"  # one SVG path per F–I point


def _dots(page) -> list[str]:
    """The F–I scatter points drawn right now, as rounded screen positions."""
    return page.eval_on_selector_all(DOTS, """els => els.map(e => {
        const r = e.getBoundingClientRect();
        return `${Math.round(r.x + r.width / 2)},${Math.round(r.y + r.height / 2)}`;
    })""")


def _watch_fi(page, n_steps: int, timeout_s: float = 240.0) -> list[int]:
    """Poll the number of drawn F–I points until all ``n_steps`` are there; the counts seen."""
    seen: list[int] = []
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        n = len(_dots(page))
        if not seen or seen[-1] != n:
            seen.append(n)
        summary = page.inner_text(f"{ROOT} .bmtl-prof-fi-summary")
        if n == n_steps and "rheobase" in summary:
            return seen
        time.sleep(0.03)
    raise AssertionError(f"the F–I curve did not fill in: counts seen {seen}")


def test_pick_a_cell_run_fi_change_a_conductance(page, lab_server) -> None:
    open_notebook(page, lab_server, "cell_profiling.ipynb")
    run_all_cells(page)

    # The dashboard comes up on the first cell type with a passive run: trace plus dashed fit.
    wait_for_trace(page, f"{ROOT} .bmtl-trace-panel", min_points=50, timeout_s=180)
    page.wait_for_selector(f"{ROOT} .bmtl-prof-passive-values", timeout=60_000)
    assert "R_in" in page.inner_text(f"{ROOT} .bmtl-prof-passive-table")
    panel = page.eval_on_selector(f"{ROOT} .bmtl-trace-panel", "el => ({...el.dataset})")
    assert panel["series"] == "2" and panel["error"] == "false"  # v and the fitted curve
    page.locator(f"{ROOT} .bmtl-trace-panel").scroll_into_view_if_needed()
    screenshot(page, "profiler-passive-fit")

    # Pick PV, then the F–I tab; 0–200 pA by 20 pA is 11 steps, run in parallel.
    page.select_option(f"{ROOT} .bmtl-prof-cell select", "PV")
    page.click(f"{ROOT} .bmtl-prof-tabs .lm-TabBar-tab:has-text('F–I')")
    page.wait_for_selector(f"{ROOT} .bmtl-prof-fi-run", state="visible")
    page.click(f"{ROOT} .bmtl-prof-fi-run")
    seen = _watch_fi(page, 11)
    assert any(0 < n < 11 for n in seen), f"the curve should fill in step by step, saw {seen}"
    first = _dots(page)
    summary = page.inner_text(f"{ROOT} .bmtl-prof-fi-summary")
    assert "rheobase" in summary and "pA" in summary
    screenshot(page, "profiler-fi-curve", readme=True)

    # Change a conductance (PV soma gkbar, typed into its exact-value box): the F–I re-runs.
    box = page.locator(f"{ROOT} .bmtl-prof-param-soma-gkbar_wb_ex input[type='number']")
    box.fill("0.03")
    box.press("Enter")
    page.wait_for_function("sel => document.querySelectorAll(sel).length < 11", arg=DOTS, timeout=30_000)
    _watch_fi(page, 11)
    after = _dots(page)
    assert after != first, "halving gK must change the F–I curve"
    # exactly that change is in effect (showing the sliders changed nothing), and exported as JSON
    href = page.get_attribute(f"{ROOT} .bmtl-prof-export-params", "href")
    doc = json.loads(base64.b64decode(href.split(",", 1)[1]))
    assert doc["cell"] == "PV" and doc["changes"] == {"soma": {"gkbar_wb_ex": 0.03}}
    assert doc["template_values"] == {"soma": {"gkbar_wb_ex": 0.06}}
    assert "error" not in page.inner_text(f"{ROOT} .bmtl-prof-status").lower()
    screenshot(page, "profiler-fi-after-conductance-change")
