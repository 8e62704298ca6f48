"""The synapse optimizer in a real JupyterLab: start a fit in the Fit panel, see the evaluation
counter and the error plot update, stop it, apply the best to the tuner's sliders, save it and
find it in the dynamics JSON on disk."""

from __future__ import annotations

import json
import time

import pytest

from .helpers import open_notebook, run_all_cells, screenshot

pytestmark = pytest.mark.ui

PANEL = ".jp-NotebookPanel .bmtl-opt-panel"
TUNER = ".jp-NotebookPanel .bmtl-syn-tuner"


def evals(page) -> int:
    el = page.query_selector(f"{PANEL} .bmtl-opt-evals")
    return int(el.get_attribute("data-evals")) if el is not None else 0


def test_start_progress_stop_apply_save(page, lab_server) -> None:
    open_notebook(page, lab_server, "optimizer.ipynb")
    run_all_cells(page)
    page.wait_for_selector(PANEL, timeout=120_000)
    # the notebook's headless cells (a fit, a resume, a batch fit) finish before the last output shows
    page.wait_for_function(
        "() => [...document.querySelectorAll('.jp-NotebookPanel .jp-OutputArea-output')]"
        ".some(el => el.textContent.includes('Exc2PV') && el.textContent.includes('best_params'))",
        timeout=240_000)

    # A long budget, so there is time to watch it and press Stop.
    box = page.locator(f"{PANEL} .bmtl-opt-maxiter input")
    box.fill("400")
    box.press("Enter")
    page.click(f"{PANEL} button.bmtl-opt-start")
    page.wait_for_function(
        "sel => { const el = document.querySelector(sel + ' .bmtl-opt-evals');"
        " return el && Number(el.dataset.evals) >= 20; }", arg=PANEL, timeout=120_000)
    first = evals(page)
    page.wait_for_function(f"sel => Number(document.querySelector(sel + ' .bmtl-opt-evals').dataset.evals) > {first}",
                           arg=PANEL, timeout=60_000)  # the counter keeps increasing
    page.wait_for_function("sel => document.querySelectorAll(sel + ' .bmtl-opt-error-plot .dot').length >= 10",
                           arg=PANEL, timeout=60_000)  # the error plot gets points
    page.wait_for_function("sel => document.querySelector(sel + ' .bmtl-trace-panel.bmtl-opt-trace')"
                           ".dataset.series === '2'", arg=PANEL, timeout=60_000)  # best over the current trace
    screenshot(page, "optimizer-running")

    page.click(f"{PANEL} button.bmtl-opt-stop")
    page.wait_for_function("sel => document.querySelector(sel + ' .bmtl-opt-message').textContent.includes('stopped')",
                           arg=PANEL, timeout=60_000)
    stopped_at = evals(page)
    time.sleep(1.0)
    assert evals(page) == stopped_at  # nothing runs after Stop
    assert page.locator(f"{PANEL} .bmtl-opt-table tr[data-target]").count() == 3
    best_use = float(page.get_attribute(f"{PANEL} .bmtl-opt-param-Use .bmtl-opt-best-value span", "data-value"))

    # Apply: the tuner's own box shows the best value as it shows every value, to 6 significant
    # digits (the tuner keeps the exact value: the saved JSON below holds it to 1e-9).
    page.click(f"{PANEL} button.bmtl-opt-apply")
    page.wait_for_function(
        "([sel, v]) => Number(document.querySelector(sel + ' .bmtl-syn-param-Use input[type=number]').value)"
        " === Number(v.toPrecision(6))", arg=[TUNER, best_use], timeout=30_000)

    # Save: a diff first, then the dynamics JSON on disk holds the fitted value.
    page.click(f"{PANEL} button.bmtl-opt-save")
    diff = page.wait_for_selector(f"{PANEL} .bmtl-opt-diff", timeout=30_000).inner_text()
    assert "Use:" in diff
    page.click(f"{PANEL} button.bmtl-opt-confirm")
    page.wait_for_selector(f"{PANEL} .bmtl-opt-saved", timeout=30_000)
    path = lab_server.root / "example_network" / "components" / "synaptic_models" / "Exc2SST.json"
    saved = json.loads(path.read_text())
    assert saved["Use"] == pytest.approx(best_use, rel=1e-9)
    screenshot(page, "optimizer-saved")

    # The tuner dashboard opens the same panel under its parameters ("Optimize…").
    page.click(f"{TUNER} button.bmtl-syn-optimize")
    page.wait_for_selector(f"{TUNER} .bmtl-syn-fitbox .bmtl-opt-panel .bmtl-opt-param-Use", timeout=30_000)
