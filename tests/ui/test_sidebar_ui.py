"""The BMTool Lab panel and sidebar in a real JupyterLab: open the tuner from the panel into the
right sidebar, see it in sync with an inline view, copy it as code, survive a page reload, and
close cleanly on a kernel restart; bad configs are reported and the panel stays usable."""

from __future__ import annotations

import json
import time

import pytest

from .helpers import open_notebook, run_all_cells, run_command, screenshot, wait_for_trace

pytestmark = pytest.mark.ui

PANEL = "#bmtool-lab-browser"
SIDE_TUNER = "#jp-right-stack .bmtl-host[data-ready='true'] .bmtl-syn-tuner"
INLINE_TUNER = ".jp-NotebookPanel .jp-OutputArea .bmtl-syn-tuner"
EXAMPLE = "example_network/simulation_config.json"


def add_cell_and_run(page, code: str) -> None:
    page.evaluate(
        """async (code) => {
            const app = window.jupyterapp;
            const nb = app.shell.currentWidget;
            nb.content.activeCellIndex = nb.content.widgets.length - 1;
            await app.commands.execute('notebook:insert-cell-below');
            nb.content.activeCell.model.sharedModel.setSource(code);
            await app.commands.execute('notebook:run-cell');
        }""",
        code,
    )


def load_config(page, path: str) -> None:
    run_command(page, "bmtool-lab:open-panel")
    page.wait_for_selector(PANEL, state="visible")
    page.fill(f"{PANEL} .bmtl-browser-config", path)
    page.click(f"{PANEL} .bmtl-btn-load")


def tau2_value(page, root: str) -> str:
    return page.input_value(f"{root} .bmtl-syn-param-tau2 input[type='number']")


def test_panel_sidebar_sync_copy_reload_restart(page, lab_server) -> None:
    open_notebook(page, lab_server, "quickstart.ipynb")
    run_all_cells(page)
    wait_for_trace(page, ".jp-NotebookPanel .bmtl-demo .bmtl-trace-panel")

    # Bad input first: a JSON that is not a BMTK config, then a config whose files are missing.
    load_config(page, "example_network/components/synaptic_models/Exc2PV.json")
    page.wait_for_selector(f"{PANEL} .bmtl-browser-message.bmtl-error", timeout=30_000)
    assert "not a BMTK network config" in page.inner_text(f"{PANEL} .bmtl-browser-message")
    bad = {"networks": {"nodes": [{"nodes_file": "nowhere/nodes.h5", "node_types_file": "nowhere/types.csv"}]}}
    (lab_server.root / "broken_config.json").write_text(json.dumps(bad))
    load_config(page, "broken_config.json")
    page.wait_for_selector(f"{PANEL} .bmtl-problem", timeout=30_000)
    assert "does not exist" in page.inner_text(f"{PANEL} .bmtl-browser-details")

    # The example config: find it from the file browser's folder, load it, open the tuner on Exc2PV.
    page.click(f"{PANEL} .bmtl-btn-find")
    page.wait_for_selector(f"{PANEL} .bmtl-config-item:text-is('{EXAMPLE}')", timeout=30_000)
    page.click(f"{PANEL} .bmtl-config-item:text-is('{EXAMPLE}')")
    page.wait_for_selector(f"{PANEL} tr[data-name='Exc2PV'] .bmtl-open-tuner", timeout=60_000)
    page.click(f"{PANEL} tr[data-name='Exc2PV'] .bmtl-open-tuner")
    wait_for_trace(page, f"{SIDE_TUNER} .bmtl-trace-panel", min_points=50)
    screenshot(page, "sidebar-tuner", readme=True)

    # The same controller inline: one model, two views.
    add_cell_and_run(page, f"import bmtool_lab.lab as L\nL._controller('tuner', {EXAMPLE!r})")
    wait_for_trace(page, f"{INLINE_TUNER} .bmtl-trace-panel", min_points=50)
    box = page.locator(f"{SIDE_TUNER} .bmtl-syn-param-tau2 input[type='number']")
    box.fill("7")
    box.press("Enter")
    box.blur()
    deadline = time.monotonic() + 30
    while tau2_value(page, INLINE_TUNER) != "7" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert tau2_value(page, INLINE_TUNER) == "7"
    page.wait_for_function(
        "([a, b]) => document.querySelector(a).dataset.version === document.querySelector(b).dataset.version",
        arg=[f"{SIDE_TUNER} .bmtl-trace-panel", f"{INLINE_TUNER} .bmtl-trace-panel"], timeout=30_000)

    # Copy as code: a cell that recreates the dashboard in this state.
    n_tuners = page.locator(INLINE_TUNER).count()
    page.click("#jp-right-stack .bmtl-host:has(.bmtl-syn-tuner) .bmtl-host-copy")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.jp-NotebookPanel .jp-Cell .cm-content')]"
        ".some(e => e.innerText.includes('SynapseTuner('))", timeout=30_000)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-cell')")
    page.wait_for_function(f"n => document.querySelectorAll({INLINE_TUNER!r}).length > n", arg=n_tuners,
                           timeout=60_000)
    recreated = page.locator(INLINE_TUNER).nth(n_tuners)
    assert recreated.locator(".bmtl-syn-param-tau2 input[type='number']").input_value() == "7"

    # A page reload brings the sidebar dashboard back (ipywidgets restores live models).
    page.reload()
    page.wait_for_function("() => window.jupyterapp !== undefined", timeout=60_000)
    wait_for_trace(page, f"{SIDE_TUNER} .bmtl-trace-panel", min_points=50, timeout_s=90)
    screenshot(page, "sidebar-after-reload")

    # A kernel restart closes the sidebar dashboards with a message, not dead widgets.
    page.wait_for_selector(".jp-NotebookPanel", timeout=60_000)
    page.evaluate("() => window.jupyterapp.shell.activateById(document.querySelector('.jp-NotebookPanel').id)")
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:restart-kernel'); }")
    page.click(".jp-Dialog .jp-mod-accept", timeout=30_000)
    page.wait_for_function(
        "() => { const hosts = [...document.querySelectorAll('#jp-right-stack .bmtl-host')];"
        " return hosts.length >= 2 && hosts.every(h => h.dataset.ready === 'closed'); }", timeout=60_000)
    notes = page.eval_on_selector_all("#jp-right-stack .bmtl-host .bmtl-host-closed", "els => els.map(e => e.textContent)")
    assert notes and all("restarted" in n and "re-run" in n for n in notes), notes
    # no dead controls are left in the sidebar
    assert page.locator("#jp-right-stack .bmtl-host .bmtl-syn-tuner").count() == 0
    screenshot(page, "sidebar-after-kernel-restart")
