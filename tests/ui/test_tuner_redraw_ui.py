"""What a user sees after every parameter change of the synapse tuner, inline and in the sidebar:
the trace is drawn inside the plot area with the new data (the panel's drawn ranges contain the
data, every point is in view, the line's colour is found across the data's x extent). Covers a
slider drag (one Undo per drag), a typed value, Undo, Redo and the optimizer's Apply, and the
layout at the default right-sidebar width."""

from __future__ import annotations

import pytest

from .helpers import (
    assert_fits,
    assert_trace_drawn,
    default_sidebar_width,
    drag_slider,
    open_notebook,
    run_all_cells,
    screenshot,
    trace_state,
    wait_for_trace,
    write_notebook,
)

pytestmark = pytest.mark.ui

INLINE = ".jp-NotebookPanel .jp-OutputArea .bmtl-syn-tuner"
SIDE = "#jp-right-stack .bmtl-host[data-ready='true'] .bmtl-syn-tuner"

CELLS = [
    "import bmtool_lab\nfrom bmtool_lab import SynapseTuner\n"
    "config = bmtool_lab.build_example('example_network')\n"
    "tuner = SynapseTuner(config, connection='Exc2PV')\ntuner",
    "bmtool_lab.open_sidebar(tuner, title='Synapse tuner: Exc2PV')",
]


def version(page, root: str) -> int:
    return int(trace_state(page, f"{root} .bmtl-trace-panel.bmtl-syn-trace")["version"])


def wait_drawn(page, root: str, after: int, timeout_s: float = 60) -> dict:
    """Wait for a finished frame newer than ``after`` (status "done…") and check it as drawn."""
    sel = f"{root} .bmtl-trace-panel.bmtl-syn-trace"
    page.wait_for_function(
        "([sel, v]) => { const el = document.querySelector(sel); return el && Number(el.dataset.version) > v"
        " && el.dataset.drawnVersion === el.dataset.version"
        " && el.querySelector('.bmtl-trace-status').textContent.startsWith('done'); }",
        arg=[sel, after], timeout=timeout_s * 1000)
    page.wait_for_timeout(150)  # a later frame may still be on its way: settle, then check the last one
    s = trace_state(page, sel)
    return assert_trace_drawn(page, sel, version=int(s["version"]))


def box_value(page, root: str, name: str) -> float:
    return float(page.input_value(f"{root} .bmtl-syn-param-{name} input[type='number']"))


def type_value(page, root: str, name: str, value: float) -> None:
    box = page.locator(f"{root} .bmtl-syn-param-{name} input[type='number']")
    box.fill(str(value))
    box.press("Enter")
    box.blur()


def test_every_parameter_change_draws_the_trace(page, lab_server) -> None:
    open_notebook(page, lab_server, write_notebook(lab_server.root, "tuner_redraw.ipynb", CELLS))
    run_all_cells(page)
    wait_for_trace(page, f"{INLINE} .bmtl-trace-panel.bmtl-syn-trace", min_points=50)
    wait_for_trace(page, f"{SIDE} .bmtl-trace-panel.bmtl-syn-trace", min_points=50)
    for root in (INLINE, SIDE):
        assert_trace_drawn(page, f"{root} .bmtl-trace-panel.bmtl-syn-trace")
    tau2_0 = box_value(page, INLINE, "tau2")

    # A typed value (sidebar): both views redraw with the new data.
    v = version(page, SIDE)
    y_before = trace_state(page, f"{SIDE} .bmtl-trace-panel.bmtl-syn-trace")["dataYMin"]
    type_value(page, SIDE, "tau2", round(tau2_0 * 2, 3))
    s = wait_drawn(page, SIDE, v)
    wait_drawn(page, INLINE, v)
    assert s["dataYMin"] != y_before  # new data, not the old frame
    assert box_value(page, INLINE, "tau2") == pytest.approx(tau2_0 * 2)

    # A slider drag (inline): the trace follows, and the whole drag is one Undo step.
    v = version(page, INLINE)
    use_0 = box_value(page, INLINE, "Use")
    drag_slider(page, f"{INLINE} .bmtl-syn-param-Use", 0.85, steps=10)
    wait_drawn(page, INLINE, v)
    page.wait_for_timeout(1200)
    use_1 = box_value(page, INLINE, "Use")
    assert use_1 > use_0 + 0.1, (use_0, use_1)
    wait_drawn(page, SIDE, v)

    # Undo once: Use is back where the drag started; the trace is drawn.
    v = version(page, INLINE)
    page.click(f"{INLINE} button.bmtl-syn-undo")
    wait_drawn(page, INLINE, v)
    assert box_value(page, INLINE, "Use") == pytest.approx(use_0)
    assert box_value(page, INLINE, "tau2") == pytest.approx(tau2_0 * 2)
    # Undo again: the typed tau2 goes; then nothing is left to undo.
    v = version(page, SIDE)
    page.click(f"{SIDE} button.bmtl-syn-undo")
    wait_drawn(page, SIDE, v)
    wait_drawn(page, INLINE, v)
    assert box_value(page, SIDE, "tau2") == pytest.approx(tau2_0)
    assert page.locator(f"{SIDE} button.bmtl-syn-undo").is_disabled()
    # Redo: the typed value comes back.
    v = version(page, SIDE)
    page.click(f"{SIDE} button.bmtl-syn-redo")
    wait_drawn(page, SIDE, v)
    assert box_value(page, SIDE, "tau2") == pytest.approx(tau2_0 * 2)

    # A holding potential away from rest: the clamp's settling transient at t = 0 is left out of
    # the y autoscale (still drawn, clipped), so the PSCs fill the plot.
    v = version(page, SIDE)
    box = page.locator(f"{SIDE} .bmtl-syn-hold input")
    box.fill("-40")
    box.press("Enter")
    box.blur()
    s = wait_drawn(page, SIDE, v)
    assert 0 < s["yFromMs"] < 300, s
    assert s["allYMin"] < s["yMin"] - 5 * (s["yMax"] - s["yMin"]), s  # the transient is far off-scale
    v = version(page, SIDE)
    box.fill("-70")
    box.press("Enter")
    box.blur()
    wait_drawn(page, SIDE, v)

    # The optimizer's Apply: a short fit, then Apply sets its best on the sliders and redraws.
    page.click(f"{INLINE} button.bmtl-syn-optimize")
    fit = f"{INLINE} .bmtl-syn-fitbox .bmtl-opt-panel"
    page.wait_for_selector(f"{fit} .bmtl-opt-param-Use", timeout=30_000)
    for cls, value in (("maxiter", "1"), ("popsize", "2"), ("target-simple_ppr", "1.2")):
        box = page.locator(f"{fit} .bmtl-opt-{cls} input[type='number']").first
        box.fill(value)
        box.press("Enter")
    page.click(f"{fit} button.bmtl-opt-start")
    page.wait_for_function("sel => !document.querySelector(sel + ' button.bmtl-opt-apply').disabled",
                           arg=fit, timeout=180_000)
    best_use = float(page.get_attribute(f"{fit} .bmtl-opt-param-Use .bmtl-opt-best-value span", "data-value"))
    v = version(page, INLINE)
    page.click(f"{fit} button.bmtl-opt-apply")
    wait_drawn(page, INLINE, v)
    wait_drawn(page, SIDE, v)
    assert box_value(page, INLINE, "Use") == pytest.approx(best_use, rel=1e-6)
    # Apply is one Undo step.
    v = version(page, INLINE)
    page.click(f"{INLINE} button.bmtl-syn-undo")
    wait_drawn(page, INLINE, v)
    assert box_value(page, INLINE, "tau2") == pytest.approx(tau2_0 * 2)


@pytest.mark.parametrize("viewport", [(1500, 950), (1280, 800)], ids=["1500x950", "1280x800"])
def test_tuner_fits_the_default_sidebar(page, lab_server, viewport) -> None:
    """At the right sidebar's default width nothing scrolls sideways and no control is clipped,
    with the Fit panel and the save preview open too."""
    page.set_viewport_size({"width": viewport[0], "height": viewport[1]})
    open_notebook(page, lab_server, write_notebook(lab_server.root, "tuner_layout.ipynb", CELLS))
    run_all_cells(page)
    wait_for_trace(page, f"{SIDE} .bmtl-trace-panel.bmtl-syn-trace", min_points=50)
    assert_trace_drawn(page, f"{SIDE} .bmtl-trace-panel.bmtl-syn-trace")
    default_sidebar_width(page)
    screenshot(page, f"sidebar-tuner-{viewport[0]}x{viewport[1]}", readme=viewport == (1500, 950))
    assert_fits(page, "#jp-right-stack .bmtl-host[data-ready='true']")
    page.click(f"{SIDE} button.bmtl-syn-optimize")
    page.wait_for_selector(f"{SIDE} .bmtl-opt-panel .bmtl-opt-param-Use", timeout=30_000)
    page.click(f"{SIDE} button.bmtl-syn-save")
    page.wait_for_selector(f"{SIDE} .bmtl-syn-diff", timeout=30_000)
    page.wait_for_timeout(500)
    screenshot(page, f"sidebar-tuner-fit-{viewport[0]}x{viewport[1]}", readme=viewport == (1500, 950))
    assert_fits(page, "#jp-right-stack .bmtl-host[data-ready='true']")
