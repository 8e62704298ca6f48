"""The PointNet (NEST) synapse tuner in a real JupyterLab: the dashboard draws NEST's V_m trace,
a synapse parameter typed in reruns on NEST and changes the PPR, a cell what-if (tau_m) reruns
too, and the −I_syn view is in pA."""

from __future__ import annotations

import pytest

from .helpers import (
    assert_trace_drawn,
    canvas_checksum,
    open_notebook,
    run_all_cells,
    wait_for_trace,
    write_notebook,
)

pytest.importorskip("nest", reason="NEST is an optional extra: pip install 'bmtool-lab[nest]'")
pytestmark = pytest.mark.ui

TUNER = ".jp-NotebookPanel .bmtl-syn-pointnet"
PANEL = f"{TUNER} .bmtl-trace-panel"
CELLS = [
    "from bmtool_lab import SynapseTuner\n"
    "from bmtool_lab.examples.pointnet import build_pointnet_example\n"
    "tuner = SynapseTuner(build_pointnet_example('pointnet_ui'), connection='LIF2LIF')\n"
    "tuner",
]


def version(page) -> int:
    return int(page.eval_on_selector(PANEL, "el => Number(el.dataset.version)"))


def wait_new_frame(page, after: int, timeout_s: float = 60) -> None:
    page.wait_for_function(
        f"sel => {{ const el = document.querySelector(sel); return el && Number(el.dataset.version) > {after} "
        "&& el.querySelector('.bmtl-trace-status').textContent.startsWith('done'); }",
        arg=PANEL, timeout=timeout_s * 1000)


def type_value(page, row: str, value: float) -> None:
    box = page.locator(f"{TUNER} {row} input[type='number']")
    box.fill(str(value))
    box.press("Enter")
    box.blur()


def ppr(page) -> str:
    return page.inner_text(f"{TUNER} .bmtl-syn-metrics tr[data-metric='simple_ppr'] td.bmtl-val")


def test_pointnet_tuner_dashboard_reruns_on_nest(page, lab_server) -> None:
    open_notebook(page, lab_server, write_notebook(lab_server.root, "pointnet_ui.ipynb", CELLS))
    run_all_cells(page)
    wait_for_trace(page, PANEL, min_points=1000)
    assert "iaf_psc_alpha" in page.inner_text(f"{TUNER} .bmtl-syn-info")
    assert page.locator(f"{TUNER} .bmtl-syn-cell-params .bmtl-syn-param-tau_m").count() == 1
    page.wait_for_selector(f"{TUNER} .bmtl-syn-metrics tr[data-metric='simple_ppr']", timeout=60_000)
    before = ppr(page)

    v, pixels = version(page), canvas_checksum(page, PANEL)
    type_value(page, ".bmtl-syn-params .bmtl-syn-param-U", 0.9)
    wait_new_frame(page, v)
    page.wait_for_function("([sel, old]) => document.querySelector(sel)?.innerText !== old",
                           arg=[f"{TUNER} .bmtl-syn-metrics tr[data-metric='simple_ppr'] td.bmtl-val", before],
                           timeout=30_000)
    # tsodyks2: pulse 1 meets the initial u = 0.45, pulse 2 releases U·x2, so A2/A1 scales with U
    assert float(ppr(page)) == pytest.approx(float(before) * 0.9 / 0.45, rel=2e-3)
    assert canvas_checksum(page, PANEL) != pixels

    v = version(page)
    type_value(page, ".bmtl-syn-cell-params .bmtl-syn-param-tau_m", 20.0)
    wait_new_frame(page, v)
    assert "bmtl-err" not in page.inner_html(f"{TUNER} .bmtl-syn-message")

    v = version(page)
    page.click(f"{TUNER} .bmtl-syn-clamp button:has-text('I_syn')")
    wait_new_frame(page, v)
    assert "−I_syn" in page.inner_text(PANEL)
    drawn = assert_trace_drawn(page, PANEL, version=version(page))
    assert drawn["dataYMin"] < 0  # the clamp's current for an excitatory synapse is inward (negative)
    # the hover readout gives the value with its unit (pA), at the cursor's time
    over = page.locator(f"{PANEL} .u-over").first  # uPlot's plot area, which takes the pointer
    over.scroll_into_view_if_needed()
    box = over.bounding_box()
    over.hover(position={"x": 0.3 * box["width"], "y": 0.5 * box["height"]})
    page.wait_for_function("sel => /−I_syn[^\\n]*pA/.test(document.querySelector(sel)?.innerText || '')",
                           arg=PANEL, timeout=10_000)
