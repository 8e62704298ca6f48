"""What the synapse tuner and its Fit panel say about units, definitions and saving, as a user
reads them: currents in pA in the plot, the table, the pulse amplitudes, the cursor readout and
the optimizer's amplitude target; "(1)" for dimensionless values on the sliders and in the save
diff; what simple PPR and PPR mean; which runs a fit makes, in words, at the tuner's frequency;
no log scale offered for erev; "Saved 1 change" that goes away, and a line that says whether
anything is unsaved."""

from __future__ import annotations

import re

import pytest

from .helpers import open_notebook, run_all_cells, trace_state, wait_for_trace, write_notebook
from .test_synapse_tuner_ui import TUNER, metric, set_param, version, wait_new_frame

pytestmark = pytest.mark.ui

PANEL = f"{TUNER} .bmtl-opt-panel"
CELLS = ["from bmtool_lab import SynapseTuner, build_example\n"
         "tuner = SynapseTuner(build_example('units_example'))  # its own copy: this test saves into it\n"
         "tuner.select('Exc2PV')\n"
         "tuner"]


def _row_text(page, key: str) -> str:
    return page.inner_text(f"{TUNER} .bmtl-syn-metrics tr[data-metric='{key}']")


def test_units_definitions_and_save_state(page, lab_server) -> None:
    open_notebook(page, lab_server, write_notebook(lab_server.root, "tuner_units.ipynb", CELLS))
    run_all_cells(page)
    wait_for_trace(page, f"{TUNER} .bmtl-trace-panel", min_points=50, timeout_s=180)
    page.wait_for_selector(f"{TUNER} .bmtl-syn-metrics tr[data-metric='simple_ppr']", timeout=60_000)

    # Currents in pA: the table's amplitude is as large as the plotted PSC (both in pA, not nA).
    assert _row_text(page, "amplitude").split("\t")[-1].strip() == "pA", _row_text(page, "amplitude")
    s = trace_state(page, f"{TUNER} .bmtl-trace-panel")
    peak_pa = max(abs(s["dataYMin"]), abs(s["dataYMax"]))
    amp = abs(float(metric(page, "amplitude")))
    assert 0.2 * peak_pa < amp < 1.5 * peak_pa, (amp, peak_pa)
    amps = _row_text(page, "amplitudes")
    assert amps.startswith("pulse amplitudes (pA)"), amps
    first = float(amps.split("\t")[1].split(",")[0])
    assert 0.2 * peak_pa < abs(first) < 1.5 * peak_pa, (first, peak_pa)

    # The cursor readout under the plot has units: hover the plot.
    over = page.locator(f"{TUNER} .bmtl-trace-panel .u-over")
    box = over.bounding_box()
    over.hover(position={"x": box["width"] * 0.3, "y": box["height"] / 2})
    values = page.eval_on_selector_all(f"{TUNER} .bmtl-trace-panel .u-legend .u-value",
                                       "els => els.map(e => e.textContent)")
    assert values[0].endswith(" ms") and values[1].endswith(" pA"), values

    # What simple PPR and PPR mean: a tooltip on each label and a line in the metrics help.
    assert "A₂/A₁" in page.get_attribute(f"{TUNER} tr[data-metric='simple_ppr'] td", "title")
    assert "(A₂ − A₁)/N" in page.get_attribute(f"{TUNER} tr[data-metric='ppr'] td", "title")
    page.click(f"{TUNER} .bmtl-syn-metrics-help summary")
    help_text = page.inner_text(f"{TUNER} .bmtl-syn-metrics-help")
    assert "simple PPR = A₂/A₁" in help_text and "PPR = (A₂ − A₁)/N" in help_text, help_text

    # Dimensionless: "(1)" on the slider and in the save diff, never "fraction".
    assert page.inner_text(f"{TUNER} .bmtl-syn-param-Use .bmtl-syn-param-label") == "Use (1)"
    assert page.inner_text(f"{TUNER} .bmtl-syn-save-state") == "nothing unsaved"
    v = version(page)
    set_param(page, "Use", 0.4)
    wait_new_frame(page, v)
    assert page.inner_text(f"{TUNER} .bmtl-syn-save-state") == "unsaved changes"
    page.click(f"{TUNER} button.bmtl-syn-save")
    diff = page.wait_for_selector(f"{TUNER} .bmtl-syn-diff", timeout=30_000).inner_text()
    assert "Use: 0.5 -> 0.4 (1)" in diff and "fraction" not in diff, diff

    # Saving says so once, then the note goes and the state line says nothing is unsaved.
    page.click(f"{TUNER} button.bmtl-syn-confirm")
    page.wait_for_selector(f"{TUNER} .bmtl-syn-message .bmtl-ok", timeout=30_000)
    assert re.match(r"Saved 1 change to .*Exc2PV\.json", page.inner_text(f"{TUNER} .bmtl-syn-message"))
    page.wait_for_function("sel => document.querySelector(sel).innerText === 'nothing unsaved'",
                           arg=f"{TUNER} .bmtl-syn-save-state", timeout=10_000)
    page.wait_for_function("sel => document.querySelector(sel).innerText.trim() === ''",
                           arg=f"{TUNER} .bmtl-syn-message", timeout=15_000)
    page.click(f"{TUNER} button.bmtl-syn-save")
    page.wait_for_function("sel => document.querySelector(sel)?.innerText.includes('nothing unsaved')",
                           arg=f"{TUNER} .bmtl-syn-diff", timeout=30_000)
    page.click(f"{TUNER} button.bmtl-syn-cancel")

    # The tuner at 40 Hz: the Fit panel says in words that its train runs at 40 Hz.
    freq = page.locator(f"{TUNER} .bmtl-syn-freq input")
    v = version(page)
    freq.fill("40")
    freq.press("Enter")
    wait_new_frame(page, v)
    page.click(f"{TUNER} button.bmtl-syn-optimize")
    note = f"{PANEL} .bmtl-opt-protocol-note .bmtl-opt-runs"
    page.wait_for_selector(note, timeout=60_000)
    text = page.inner_text(note)
    assert "This fit runs a train of 8 pulses at 40 Hz" in text and "for simple PPR" in text, text
    assert "at 20 Hz" not in text, text
    # a target under another protocol is named with it
    proto = page.locator(f"{PANEL} .bmtl-opt-target-simple_ppr input[type='text']")
    proto.fill("20Hz")
    proto.press("Tab")
    page.wait_for_function("sel => document.querySelector(sel).innerText.includes('at 20 Hz')",
                           arg=note, timeout=30_000)
    text = page.inner_text(note)
    assert re.search(r"at 20 Hz.*for simple PPR", text) and re.search(r"at 40 Hz.*for induction", text), text

    # Log scale only where the bounds are > 0; the amplitude target and its definitions say their units.
    def log_shown(name: str) -> bool:
        return page.eval_on_selector(f"{PANEL} .bmtl-opt-param-{name} .bmtl-opt-log",
                                     "el => getComputedStyle(el).visibility === 'visible'")
    assert log_shown("Dep") and not log_shown("erev")
    assert page.inner_text(f"{PANEL} .bmtl-opt-target-amplitude").startswith("amplitude (pA)")
    assert "(A₂ − A₁)/N" in page.get_attribute(f"{PANEL} .bmtl-opt-target-ppr .bmtl-opt-metric", "title")
