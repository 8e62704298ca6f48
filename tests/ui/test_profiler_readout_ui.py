"""What the cell profiler's tables and ZAP plot say, as a user reads them: eFEL features by
their names with units, numbers that are zero to rounding shown as 0 (never "-0" or 1e-15), a
legend for |Z| and phase, axis labels clear of their ticks, "no resonance" for a cell whose
impedance only falls, and the same f_res in the ZAP tab and the All-cells table."""

from __future__ import annotations

import re

import pytest

from .helpers import open_notebook, run_all_cells, wait_for_trace

pytestmark = pytest.mark.ui

ROOT = ".jp-NotebookPanel .bmtl-prof"
ZAP = f"{ROOT} .bmtl-prof-zap-plot"
NOISE = re.compile(r"^-0(\.0*)?$|e-(1[2-9]|[2-9]\d)$")  # "-0", "-0.00", 1.3e-15: zero written as noise


def _table(page, selector: str) -> dict[str, tuple[str, str]]:
    """A profiler table as the user reads it: {label: (value, unit)}."""
    rows = page.eval_on_selector_all(f"{selector} tr", "rs => rs.map(r => [...r.cells].map(c => c.innerText))")
    return {r[0]: (r[1], r[2] if len(r) > 2 else "") for r in rows if len(r) >= 2}


def _wait_done(page, what: str) -> None:
    """Wait until the status line says ``what`` ("PV: Passive") is done: the tables are its."""
    page.wait_for_function("([sel, t]) => document.querySelector(sel).textContent.includes(t)",
                           arg=[f"{ROOT} .bmtl-prof-status", f"{what} done"], timeout=120_000)


# the current clamp's run is done and its table shows spikes (the 100 pA run before it had none)
_SPIKES_SHOWN = """root => {
    const done = document.querySelector(root + ' .bmtl-prof-status').textContent.endsWith('Current clamp done');
    const row = [...document.querySelectorAll(root + ' .bmtl-prof-features tr')]
        .find(r => r.cells[0] && r.cells[0].innerText === 'spikes in step');
    return done && row !== undefined && Number(row.cells[1].innerText) > 0;
}"""


def _tab(page, title: str) -> None:
    page.click(f"{ROOT} .bmtl-prof-tabs .lm-TabBar-tab:has-text('{title}')")


def _axis_overlaps(page) -> list[dict]:
    """Each vertical axis of the ZAP plot whose label box overlaps one of its tick labels."""
    return page.eval_on_selector(ZAP, """fig => {
        const hit = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
        const out = [];
        for (const axis of fig.querySelectorAll('g.axis')) {
          const label = axis.querySelector('text.axislabel');
          if (!label || !label.textContent) continue;
          const lb = label.getBoundingClientRect();
          const ticks = [...axis.querySelectorAll('.tick text')].map(t => t.getBoundingClientRect())
            .filter(r => r.width > 0);
          if (ticks.some(t => hit(lb, t))) out.push({label: label.textContent});
        }
        return out;
    }""")


def test_feature_names_zero_legend_and_resonance(page, lab_server) -> None:
    open_notebook(page, lab_server, "cell_profiling.ipynb")
    run_all_cells(page)
    wait_for_trace(page, f"{ROOT} .bmtl-trace-panel", min_points=50, timeout_s=180)

    # PV has no Ih: its sag ratio is zero to rounding and reads "0", like every value in the table.
    page.select_option(f"{ROOT} .bmtl-prof-cell select", "PV")
    _wait_done(page, "PV: Passive")
    passive = _table(page, f"{ROOT} .bmtl-prof-passive-table")
    assert not [v for v, _ in passive.values() if NOISE.search(v)], passive
    assert abs(float(passive["sag ratio"][0])) < 0.05, passive

    # Current clamp: eFEL features by name, with units in their own column. The default 100 pA
    # step is below PV's rheobase (~130 pA): no spikes, no AP features ("–"); 300 pA fires.
    _tab(page, "Current clamp")
    _wait_done(page, "PV: Current clamp")
    assert _table(page, f"{ROOT} .bmtl-prof-features")["AP amplitude"][0] == "–"
    amp = page.locator(f"{ROOT} .bmtl-prof-clamp-amp input")
    amp.fill("0.3")
    amp.press("Enter")
    page.wait_for_function(_SPIKES_SHOWN, arg=ROOT, timeout=120_000)
    features = _table(page, f"{ROOT} .bmtl-prof-features")
    assert features["AP amplitude"][1] == "mV" and float(features["AP amplitude"][0]) > 30, features
    assert not [k for k in features if "_" in k], features  # no raw eFEL names
    assert not [v for v, _ in features.values() if NOISE.search(v)], features

    # ZAP over 3 s: legend for both lines, labels clear of their ticks, and PV (low-pass) has no resonance.
    _tab(page, "ZAP")
    dur = page.locator(f"{ROOT} .bmtl-prof-zap-dur input")
    dur.fill("3000")
    dur.press("Enter")
    _wait_done(page, "PV: ZAP")
    legend = page.eval_on_selector_all(f"{ROOT} .bmtl-prof-zap-legend .bmtl-prof-legend-item",
                                       "els => els.map(e => [e.textContent, getComputedStyle(e.firstChild).borderTopStyle])")
    assert legend == [["|Z| (MΩ)", "solid"], ["phase (rad)", "dashed"]], legend  # the lines' styles, named
    assert _axis_overlaps(page) == []
    zap = _table(page, f"{ROOT} .bmtl-prof-zap-summary")
    assert zap["resonance"][0] == "none", zap
    assert "no resonance" in page.inner_text(f"{ROOT} .bmtl-prof-zap-summary")

    # Exc has Ih: whatever the ZAP tab says of it, the All-cells table says the same.
    page.select_option(f"{ROOT} .bmtl-prof-cell select", "Exc")
    _wait_done(page, "Exc: ZAP")
    exc = _table(page, f"{ROOT} .bmtl-prof-zap-summary")["resonance"][0]
    _tab(page, "All cells")
    page.click(f"{ROOT} .bmtl-prof-all-run")
    page.wait_for_selector(f"{ROOT} .bmtl-prof-all-values", timeout=240_000)
    by_cell = {cell: _table(page, f"{ROOT} .bmtl-prof-all-values table[data-caption='{cell}']")
               for cell in ("Exc", "PV", "SST")}
    assert by_cell["Exc"]["resonance"][0] == exc, (exc, by_cell)
    assert by_cell["PV"]["resonance"][0] == "none", by_cell
    assert by_cell["Exc"]["rheobase"][1] == "pA", by_cell  # the F–I tab's unit
    assert not [v for t in by_cell.values() for v, _ in t.values() if NOISE.search(v)], by_cell
