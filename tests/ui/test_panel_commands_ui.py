"""The left panel's dashboard commands come from one table of dashboard kinds
(js/lab/dashboard_kinds.ts, kept equal to bmtool_lab.tuning.kinds.KINDS by a unit test): each is
in the command palette under its title, and running one opens that dashboard where its kind
says (the cell profiler in the right sidebar, connectivity in a main-area tab)."""

from __future__ import annotations

import pytest

from .helpers import (
    open_notebook,
    run_all_cells,
    run_command,
    wait_for_kernel_settled,
    wait_for_trace,
    write_notebook,
)

pytestmark = pytest.mark.ui

PANEL = "#bmtool-lab-browser"
HOST = ".bmtl-host[data-ready='true']"
EXAMPLE = "example_network/simulation_config.json"
COMMANDS = {"bmtool-lab:open-tuner": "BMTool Lab: synapse tuner",
            "bmtool-lab:open-profiler": "BMTool Lab: cell profiler",
            "bmtool-lab:open-connectivity": "BMTool Lab: connectivity",
            "bmtool-lab:open-network-run": "BMTool Lab: network run"}


def test_dashboard_commands_open_their_kind(page, lab_server) -> None:
    # A notebook (and kernel) of its own: the dashboards it opens live in that kernel, and a later
    # test reloading the quickstart's kernel would otherwise get them restored into its layout.
    name = write_notebook(lab_server.root, "panel_commands.ipynb", ["import bmtool_lab\nbmtool_lab.build_example(\"example_network\")"])
    open_notebook(page, lab_server, name)
    run_all_cells(page)
    wait_for_kernel_settled(lab_server, name, page=page)
    labels = page.evaluate("(ids) => ids.map((id) => window.jupyterapp.commands.hasCommand(id) "
                           "? window.jupyterapp.commands.label(id) : null)", list(COMMANDS))
    assert labels == list(COMMANDS.values())

    run_command(page, "bmtool-lab:open-panel")
    page.fill(f"{PANEL} .bmtl-browser-config", EXAMPLE)
    page.click(f"{PANEL} .bmtl-btn-load")
    page.wait_for_selector(f"{PANEL} .bmtl-open-profiler", timeout=60_000)

    run_command(page, "bmtool-lab:open-profiler")
    # the profiler in the right sidebar, with its first run (the passive step) drawn
    wait_for_trace(page, f"#jp-right-stack {HOST} .bmtl-prof .bmtl-trace-panel", min_points=50, timeout_s=180)
    run_command(page, "bmtool-lab:open-connectivity")
    # connectivity in a main-area tab: the matrix drawn, one row and column per pop_name
    heatmap = f"#jp-main-dock-panel {HOST} .bmtl-conn .bmtl-heatmap-canvas[data-ready='true']"
    page.wait_for_selector(heatmap, timeout=120_000)
    drawn = page.eval_on_selector(heatmap, "el => [Number(el.dataset.rows), Number(el.dataset.cols)]")
    assert drawn[0] >= 3 and drawn[1] >= 3, drawn  # Exc, PV, SST (+ Thal as a source)
    assert page.locator(f"#jp-right-stack {HOST} .bmtl-conn").count() == 0
