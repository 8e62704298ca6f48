"""The quick start in a real JupyterLab and Chromium: run it, see the trace, use the panel."""

from __future__ import annotations

import pytest

from .helpers import open_notebook, run_all_cells, run_command, screenshot, wait_for_trace

pytestmark = pytest.mark.ui


def test_quickstart_streams_a_trace_and_opens_the_panel(page, lab_server) -> None:
    open_notebook(page, lab_server, "quickstart.ipynb")
    run_all_cells(page)

    inline = ".jp-NotebookPanel .bmtl-demo .bmtl-trace-panel"
    wait_for_trace(page, inline, min_points=1000)  # the trace grows while NEURON runs...
    page.wait_for_function(
        "sel => document.querySelector(sel + ' .bmtl-trace-status').textContent.startsWith('done')",
        arg=inline, timeout=60_000)
    data = page.eval_on_selector(inline, "el => ({...el.dataset})")
    # ...and ends whole: 400 ms at dt = 0.025 ms, as float32 bytes, drawn.
    assert int(data["points"]) == 16001
    assert data["error"] == "false"
    status = page.inner_text(f"{inline} .bmtl-trace-status")
    assert "spikes" in status and "Hz" in status
    # uPlot drew onto its canvas (not just an empty element).
    assert page.eval_on_selector(f"{inline} canvas", "c => c.width > 100 && c.height > 100")

    # The last cell showed the same controller in the right sidebar: one model, two views.
    side = ".jp-SidePanel .bmtl-host[data-ready='true'] .bmtl-trace-panel, " \
           "#jp-right-stack .bmtl-host[data-ready='true'] .bmtl-trace-panel"
    side_data = wait_for_trace(page, side, min_points=1000)
    assert side_data["version"] == page.eval_on_selector(inline, "el => el.dataset.version")
    screenshot(page, "quickstart-inline-and-sidebar")

    # The BMTool Lab panel (left bar) reads the example network through the kernel.
    run_command(page, "bmtool-lab:open-panel")
    panel = page.wait_for_selector("#bmtool-lab-browser", state="visible")
    page.fill("#bmtool-lab-browser .bmtl-browser-config", "example_network/simulation_config.json")
    page.click("#bmtool-lab-browser .bmtl-btn-load")
    page.wait_for_selector("#bmtool-lab-browser .bmtl-table td:text-is('Exc2PV')", timeout=60_000)
    text = panel.inner_text()
    assert "cortex" in text and "thalamus" in text and "Exp2SynSTP" in text
    assert "Problems" not in text, text
    screenshot(page, "quickstart-model-browser", readme=True)

    # Moving the inline slider re-runs the simulation and both views update.
    before = int(page.eval_on_selector(inline, "el => el.dataset.version"))
    slider = page.query_selector(".jp-NotebookPanel .bmtl-demo-amp .noUi-handle, "
                                 ".jp-NotebookPanel .bmtl-demo-amp .slider-container input")
    assert slider is not None
    slider.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function(f"sel => Number(document.querySelector(sel).dataset.version) > {before}",
                           arg=inline, timeout=60_000)
