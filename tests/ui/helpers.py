"""Helpers for driving a real JupyterLab in Chromium."""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# README screenshots are written only when asked (`make screenshots` sets this), so a test run
# leaves the tracked docs/screenshots/*.png alone.
README_SHOTS = Path(os.environ["BMTOOL_LAB_SCREENSHOTS"]) if os.environ.get("BMTOOL_LAB_SCREENSHOTS") else None


def open_notebook(page, lab, name: str, timeout_s: float = 90) -> None:
    """Open ``name`` in a fresh workspace and wait until its kernel is idle and stable.

    JupyterLab may swap the kernel once right after a notebook opens; running cells before
    that sends them to a dead kernel, so we wait until the session's kernel id stays put.
    """
    page.goto(f"{lab.url}/lab/workspaces/{uuid.uuid4().hex}/tree/{name}?reset&token={lab.token}")
    page.wait_for_function("() => window.jupyterapp !== undefined", timeout=timeout_s * 1000)
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=timeout_s * 1000)
    wait_for_kernel_settled(lab, name, timeout_s, page)


def wait_for_kernel_settled(server, name: str, timeout_s: float = 90, page=None) -> None:
    """Wait until ``name``'s kernel is idle and its id has stayed put for 2 s."""
    deadline = time.monotonic() + timeout_s
    last_id, stable_since = None, time.monotonic()
    while time.monotonic() < deadline:
        sessions = json.loads(server.api("/api/sessions"))
        mine = [s for s in sessions if s["path"].endswith(name)]
        kid = mine[0]["kernel"]["id"] if mine else None
        state = mine[0]["kernel"]["execution_state"] if mine else None
        if kid != last_id:
            last_id, stable_since = kid, time.monotonic()
        elif kid and state == "idle" and time.monotonic() - stable_since > 2.0:
            indicator = page.query_selector(".jp-NotebookPanel .jp-Notebook-ExecutionIndicator") if page else None
            if indicator is None or indicator.get_attribute("data-status") in (None, "idle"):
                return
        time.sleep(0.3)
    raise TimeoutError(f"the kernel of {name} did not settle in {timeout_s} s")


def run_command(page, command: str, args: dict | None = None):
    return page.evaluate("([c, a]) => window.jupyterapp.commands.execute(c, a)", [command, args or {}])


def run_all_cells(page) -> None:
    run_command(page, "notebook:run-all-cells")


def wait_for_trace(page, selector: str, min_points: int = 1000, timeout_s: float = 120) -> dict:
    """Wait until a trace panel under ``selector`` has drawn real data; return its data-* attributes."""
    page.wait_for_function(
        """([sel, n]) => {
            const el = document.querySelector(sel);
            return el && Number(el.dataset.points) >= n && el.dataset.hasSignal === "true";
        }""",
        arg=[selector, min_points],
        timeout=timeout_s * 1000,
    )
    return page.eval_on_selector(selector, "el => ({...el.dataset})")


def canvas_checksum(page, selector: str) -> int:
    """A cheap hash of the pixels of the first canvas under ``selector`` (did the plot redraw?)."""
    return page.eval_on_selector(
        f"{selector} canvas",
        """c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                  let h = 0; for (let i = 0; i < d.length; i += 53) h = (h * 31 + d[i]) | 0; return h; }""")


def screenshot(page, name: str, readme: bool = False) -> Path:
    """Save a PNG into test-artifacts/ (and docs/screenshots/ for the README when ``readme``)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    if readme and README_SHOTS is not None:
        README_SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(README_SHOTS / f"{name}.png"))
    return path
