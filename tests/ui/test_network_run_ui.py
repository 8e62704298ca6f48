"""Network runs from the sidebar, as a modeler does them: load the model in the panel, open
"Network run", run BioNet and watch the raster fill in, pin the run, change a synapse in the
tuner (not saved), run again with the unsaved tuning and read the rate difference; click a cell
on the raster to see its membrane report. Every step asserts what is drawn or read."""

from __future__ import annotations

import json
import re

import pytest

from .helpers import assert_fits, open_notebook, screenshot, wait_for_trace, write_notebook

pytestmark = pytest.mark.ui

PANEL = "#bmtool-lab-browser"
RUN = "#jp-right-stack .bmtl-host[data-ready='true'] .bmtl-network-run"
TUNER = "#jp-right-stack .bmtl-host[data-ready='true'] .bmtl-syn-tuner"
MODEL = "net_run_example"
PALETTE0 = (0x1F, 0x77, 0xB4)  # the first group's colour (Exc)


def _raster_sel(which: str) -> str:
    # anywidget may render into the widget's own element or a child of it
    return f"{RUN} :is(.bmtl-run-raster-{which}.bmtl-raster, .bmtl-run-raster-{which} .bmtl-raster)"


def _raster(page, which: str = "current") -> dict:
    """The raster's report of its last draw and a count of pixels in the first group's colour
    inside the data area (the spikes as drawn, not only the element)."""
    return page.eval_on_selector(_raster_sel(which), """(el, rgb) => {
        const c = el.querySelector('canvas');
        const [l, t, w, h] = el.dataset.plot.split(',').map(Number);
        const dpr = c.width / parseFloat(c.style.width);
        const img = c.getContext('2d').getImageData(Math.round(l * dpr), Math.round(t * dpr),
                                                    Math.round(w * dpr), Math.round(h * dpr)).data;
        let n = 0;
        for (let i = 0; i < img.length; i += 4)
            if (img[i] === rgb[0] && img[i + 1] === rgb[1] && img[i + 2] === rgb[2] && img[i + 3] === 255) n++;
        return {spikes: Number(el.dataset.spikes), draws: Number(el.dataset.draws), pixels: n,
                colours: el.dataset.colours, visible: el.offsetParent !== null};
    }""", list(PALETTE0))


def _wait_drawn(page, spikes: int, which: str = "current") -> None:
    """The raster draws on the next animation frame after its data arrive."""
    page.wait_for_function("([sel, n]) => Number(document.querySelector(sel)?.dataset.spikes) === n",
                           arg=[_raster_sel(which), spikes], timeout=30_000)


def _progress(page) -> str:
    return page.inner_text(f"{RUN} .bmtl-run-progress")


def _wait_done(page, timeout_s: float = 180) -> str:
    page.wait_for_function(
        """(sel) => { const p = document.querySelector(sel + ' .bmtl-run-progress');
                      return p && /done|failed|stopped/.test(p.innerText); }""",
        arg=RUN, timeout=timeout_s * 1000)
    return _progress(page)


def _open_network_run(page) -> None:
    page.click(f"{PANEL} .bmtl-btn-network")
    page.wait_for_selector(RUN, state="visible", timeout=120_000)


def test_run_pin_tune_rerun_compare(page, lab_server) -> None:
    name = write_notebook(lab_server.root, "network_run_ui.ipynb",
                          [f"from bmtool_lab.examples import build_example\nbuild_example({MODEL!r})"])
    open_notebook(page, lab_server, name)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function(f"() => {{ const o = document.querySelector('.jp-OutputArea-output');"
                           f" return o && o.innerText.includes('{MODEL}'); }}", timeout=120_000)
    page.evaluate("() => window.jupyterapp.commands.execute('bmtool-lab:open-panel')")
    page.fill(f"{PANEL} .bmtl-browser-config", f"{MODEL}/simulation_config.json")
    page.click(f"{PANEL} .bmtl-btn-load")
    page.wait_for_selector(f"{PANEL} tr[data-name='Exc2Exc'] .bmtl-open-tuner", timeout=60_000)

    _open_network_run(page)
    assert "not run yet" in _progress(page)
    tstop = page.locator(f"{RUN} .widget-text input").first

    # Run 1: progress in simulated ms while it runs, then the raster drawn with every spike.
    tstop.fill("400")
    tstop.press("Enter")
    page.click(f"{RUN} .bmtl-run-go")
    # While BioNet runs: progress in simulated ms and the raster filling in with streamed spikes.
    page.wait_for_function("""(sel) => {
        const title = document.querySelector(sel + ' .bmtl-raster-title')?.innerText || '';
        const live = /running · ([0-9,]+) spikes so far/.exec(title);
        return live && Number(live[1].replace(/,/g, '')) > 0
            && /running: [0-9.]+ \\/ 400 ms/.test(document.querySelector(sel + ' .bmtl-run-progress').innerText);
    }""", arg=RUN, timeout=120_000)
    live = _raster(page)
    assert live["spikes"] > 0 and live["pixels"] > 0, live  # drawn, not only counted
    first = _wait_done(page)
    assert first.startswith("done: 400 ms simulated"), first
    n1 = int(re.search(r"([\d,]+) spikes", first).group(1).replace(",", ""))
    _wait_drawn(page, n1)
    r1 = _raster(page)
    assert n1 > 0 and r1["spikes"] == n1, (first, r1)  # every spike of the run is drawn ...
    assert r1["pixels"] > 0, r1  # ... and visible in the first group's colour inside the plot
    assert r1["colours"].split(",")[:3] == ["#1f77b4", "#ff7f0e", "#2ca02c"], r1
    groups = page.eval_on_selector_all(f"{RUN} .bmtl-run-row", "els => els.map(e => e.dataset.group)")
    assert groups == ["Exc", "PV", "SST"], groups
    assert "the model's files as saved" in page.inner_text(f"{RUN} .bmtl-run-status")
    assert page.locator(f"{RUN} .bmtl-run-change").count() == 0  # nothing to compare with yet

    # Pin it; the pinned raster is not shown while the pinned run is the current one.
    page.click(f"{RUN} .bmtl-run-pin")
    page.wait_for_function("(sel) => document.querySelector(sel + ' .bmtl-run-pin').disabled", arg=RUN)

    # Change Exc2Exc in the tuner, without saving.
    page.click(f"{PANEL} tr[data-name='Exc2Exc'] .bmtl-open-tuner")
    page.wait_for_selector(TUNER, state="visible", timeout=120_000)
    for param, value in (("tau2", "24"), ("initW", "3")):
        box = page.locator(f"{TUNER} .bmtl-syn-param-{param} input[type='number']")
        box.fill(value)
        box.press("Enter")
        page.wait_for_function("([sel, v]) => Number(document.querySelector(sel).value) === Number(v)",
                               arg=[f"{TUNER} .bmtl-syn-param-{param} input[type='number']", value])
    model_file = lab_server.root / MODEL / "components" / "synaptic_models" / "Exc2Exc.json"
    on_disk = json.loads(model_file.read_text())

    # Run 2 with the unsaved tuning: the run says what differed, the rates show the change.
    _open_network_run(page)
    page.click(f"{RUN} .bmtl-run-go")
    page.wait_for_function("(sel) => /starting|running/.test(document.querySelector(sel + ' .bmtl-run-progress')"
                           ".innerText)", arg=RUN, timeout=60_000)  # the new run, not the last one's "done"
    second = _wait_done(page)
    assert second.startswith("done: 400 ms simulated"), second
    status = page.inner_text(f"{RUN} .bmtl-run-status")
    assert "unsaved tuning: Exc2Exc.json" in status and "tau2 8 → 24" in status and "initW 1 → 3" in status, status
    assert json.loads(model_file.read_text()) == on_disk  # the model's file is untouched
    changes = page.eval_on_selector_all(f"{RUN} .bmtl-run-change",
                                        "els => els.map(e => [e.closest('.bmtl-run-row').dataset.group,"
                                        " Number(e.dataset.changeHz), e.innerText])")
    assert [g for g, _, _ in changes] == ["Exc", "PV", "SST"], changes
    exc = changes[0]
    assert exc[1] > 0 and exc[2].startswith("+") and exc[2].endswith("Hz"), changes  # stronger Exc→Exc
    n2 = int(re.search(r"([\d,]+) spikes", second).group(1).replace(",", ""))
    _wait_drawn(page, n2)
    _wait_drawn(page, n1, "pinned")
    pinned = _raster(page, "pinned")
    assert pinned["visible"] and pinned["spikes"] == n1 and pinned["pixels"] > 0, pinned
    current = _raster(page)
    assert current["spikes"] == n2 and n2 != n1, (current, n1, n2)

    # A click on an Exc row of the raster shows that cell's spikes and its soma_v report.
    box = page.eval_on_selector(_raster_sel("current"),
                                "el => { const r = el.querySelector('canvas').getBoundingClientRect();"
                                " return [r.left, r.top, el.dataset.plot.split(',').map(Number)]; }")
    (left, top, (pl, pt, pw, ph)) = box
    page.mouse.click(left + pl + pw * 0.5, top + pt + ph * 0.1)  # Exc holds the first 12 of 20 rows
    page.wait_for_function("(sel) => /cortex node \\d+/.test(document.querySelector(sel + ' .bmtl-run-cell')"
                           ".innerText)", arg=RUN, timeout=30_000)
    info = page.inner_text(f"{RUN} .bmtl-run-cell")
    assert "(Exc)" in info and "v from soma_v.h5" in info, info
    wait_for_trace(page, f"{RUN} .bmtl-trace-panel", min_points=1000)
    screenshot(page, "sidebar-network-run", readme=True)

    assert_fits(page, RUN)
