"""A PointNet (NEST) model in the left BMTool Lab panel: its connection types open the NEST
synapse tuner and its point-neuron types the NEST cell profiler, in the right sidebar, through
the same dashboard-kinds registry as the BioNet dashboards (SynapseTuner(config) is the variant)."""

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

pytest.importorskip("nest", reason="NEST is an optional extra: pip install 'bmtool-lab[nest]'")
pytestmark = pytest.mark.ui

PANEL = "#bmtool-lab-browser"
SIDE = "#jp-right-stack .bmtl-host[data-ready='true']"
CONFIG = "pointnet_panel/simulation_config.json"


def test_panel_opens_the_nest_tuner_and_profiler(page, lab_server) -> None:
    name = write_notebook(lab_server.root, "pointnet_panel.ipynb", [
        "from bmtool_lab.examples.pointnet import build_pointnet_example\n"
        "build_pointnet_example('pointnet_panel')"])
    open_notebook(page, lab_server, name)
    run_all_cells(page)
    wait_for_kernel_settled(lab_server, name, page=page)

    run_command(page, "bmtool-lab:open-panel")
    page.fill(f"{PANEL} .bmtl-browser-config", CONFIG)
    page.click(f"{PANEL} .bmtl-btn-load")
    page.wait_for_selector(f"{PANEL} tr[data-name='LIF2LIF'] .bmtl-open-tuner", timeout=60_000)
    # NEST point neurons get a profiler; the virtual input does not
    assert page.locator(f"{PANEL} tr[data-name='LIF'] .bmtl-open-profiler").count() == 1
    assert page.locator(f"{PANEL} tr[data-name='input'] .bmtl-open-profiler").count() == 0

    page.click(f"{PANEL} tr[data-name='LIF2LIF'] .bmtl-open-tuner")
    wait_for_trace(page, f"{SIDE} .bmtl-syn-pointnet .bmtl-trace-panel", min_points=1000, timeout_s=120)
    assert "iaf_psc_alpha" in page.inner_text(f"{SIDE} .bmtl-syn-pointnet .bmtl-syn-info")

    page.click(f"{PANEL} tr[data-name='GLIF'] .bmtl-open-profiler")
    page.wait_for_selector(f"{SIDE} .bmtl-prof-pointnet", timeout=120_000)
    cell = page.locator(f"{SIDE} .bmtl-prof-pointnet .bmtl-prof-cell select")
    assert "GLIF" in cell.input_value()
    # what the profiler shows of the picked cell: its NEST model, described by a NEST worker
    page.wait_for_function("sel => (document.querySelector(sel)?.innerText || '').includes('glif_psc')",
                           arg=f"{SIDE} .bmtl-prof-pointnet .bmtl-prof-info", timeout=120_000)
