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


def write_notebook(root: Path, name: str, cells: list[str]) -> str:
    """Write a small notebook of code ``cells`` into the server's root folder (not the repository)."""
    nb = {
        "cells": [{"cell_type": "code", "execution_count": None, "id": f"c{i}", "metadata": {}, "outputs": [],
                   "source": src} for i, src in enumerate(cells)],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                     "language_info": {"name": "python"}},
        "nbformat": 4, "nbformat_minor": 5,
    }
    (root / name).write_text(json.dumps(nb, indent=1))
    return name


def trace_state(page, selector: str) -> dict:
    """The trace panel's report of its last draw (data-* attributes), numbers as floats."""
    d = page.eval_on_selector(selector, "el => ({...el.dataset})")
    out: dict = {}
    for k, v in d.items():
        try:
            out[k] = float(v)
        except (TypeError, ValueError):
            out[k] = v
    return out


_LINE_PIXELS_JS = """
([el, color, nCols]) => {
  const c = el.querySelector('canvas');
  const d = el.dataset;
  const [L, T, W, H] = d.plotBox.split(',').map(Number);
  const r = c.width / c.getBoundingClientRect().width;
  const xmin = Number(d.xMin), xmax = Number(d.xMax);
  const dx0 = Math.max(xmin, Number(d.dataXMin)), dx1 = Math.min(xmax, Number(d.dataXMax));
  const toPx = (x) => L + (x - xmin) / (xmax - xmin) * W;
  const p0 = toPx(dx0), p1 = toPx(dx1);
  const img = c.getContext('2d').getImageData(Math.round(L * r), Math.round(T * r),
                                               Math.round(W * r), Math.round(H * r));
  const rgb = [1, 3, 5].map((i) => parseInt(color.slice(i, i + 2), 16));
  const near = (i) => Math.abs(img.data[i] - rgb[0]) < 40 && Math.abs(img.data[i + 1] - rgb[1]) < 40
    && Math.abs(img.data[i + 2] - rgb[2]) < 40 && img.data[i + 3] > 100;
  let hits = 0;
  const missing = [];
  for (let k = 0; k < nCols; k++) {
    const xCss = p0 + (p1 - p0) * (k + 0.5) / nCols;
    const col = Math.round((xCss - L) * r);
    let found = false;
    for (let dc = -1; dc <= 1 && !found; dc++) {
      const cc = Math.min(img.width - 1, Math.max(0, col + dc));
      for (let row = 0; row < img.height; row++) {
        if (near((row * img.width + cc) * 4)) { found = true; break; }
      }
    }
    if (found) hits++; else missing.push(Math.round(xCss));
  }
  return { hits, nCols, missing, spanPx: p1 - p0, plotWidthPx: W };
}
"""


def assert_trace_drawn(page, selector: str, color: str = "#1f77b4", min_points: int = 50,
                       version: int | None = None) -> dict:
    """What a user sees: the last frame (``version``, when given) is drawn inside the plot area.

    The panel's axis ranges contain the data's extent (y leaves out the clamp's settling transient),
    every point is in view (no zoom), and the line's colour is found in columns spread across the
    data's x extent, which fills most of the plot width.
    """
    s = trace_state(page, selector)
    assert s.get("points", 0) >= min_points, s
    if version is not None:
        assert s["drawnVersion"] == version == s["version"], s
    assert s["drawnPoints"] == s["points"], s
    assert s["xMin"] <= s["dataXMin"] and s["xMax"] >= s["dataXMax"], s
    assert s["yMin"] <= s["dataYMin"] and s["yMax"] >= s["dataYMax"], s
    assert s["xMax"] > s["xMin"] and s["yMax"] > s["yMin"], s
    el = page.query_selector(selector)
    px = el.evaluate(f"(el, a) => ({_LINE_PIXELS_JS})([el, ...a])", [color, 24])
    assert px["spanPx"] > 0.9 * px["plotWidthPx"], (px, s)
    assert px["hits"] == px["nCols"], (px, s)
    return s


def drag_slider(page, row_selector: str, fraction: float, steps: int = 12) -> None:
    """Drag a slider's handle with the mouse to ``fraction`` of its track, in ``steps`` moves."""
    handle = page.locator(f"{row_selector} .noUi-handle").first
    track = page.locator(f"{row_selector} .noUi-base").first
    hb, tb = handle.bounding_box(), track.bounding_box()
    x0, y = hb["x"] + hb["width"] / 2, hb["y"] + hb["height"] / 2
    x1 = tb["x"] + tb["width"] * fraction
    page.mouse.move(x0, y)
    page.mouse.down()
    for i in range(1, steps + 1):
        page.mouse.move(x0 + (x1 - x0) * i / steps, y)
        page.wait_for_timeout(40)
    page.mouse.up()


def horizontal_overflow(page, root_selector: str) -> list[dict]:
    """Elements under ``root_selector`` whose content is wider than their box (clipped or scrolling),
    and SVG text that runs past its figure's edge (a clipped title or tick label)."""
    return page.eval_on_selector(root_selector, """root => {
        const out = [];
        for (const el of [root, ...root.querySelectorAll('*')]) {
          if (el.closest('svg') && el.tagName.toLowerCase() !== 'svg') continue;
          if (el.closest('.noUi-base')) continue;  // the slider's own handle parts overhang by design
          const cs = getComputedStyle(el);
          if (cs.display === 'none' || cs.visibility === 'hidden' || el.clientWidth === 0) continue;
          if (el.scrollWidth > el.clientWidth + 1) {
            out.push({tag: el.tagName.toLowerCase(), cls: String(el.className).slice(0, 80),
                      text: (el.innerText || el.value || '').slice(0, 40),
                      scroll: el.scrollWidth, client: el.clientWidth});
          }
        }
        // SVG text (plot titles, axis labels, ticks) cut off at its figure's edge
        for (const t of root.querySelectorAll('svg text')) {
          let svg = t.ownerSVGElement;
          while (svg && svg.ownerSVGElement) svg = svg.ownerSVGElement;
          const b = t.getBoundingClientRect(), s = svg.getBoundingClientRect();
          if (!t.textContent.trim() || b.width === 0 || s.width === 0) continue;
          const past = Math.max(s.left - b.left, b.right - s.right);
          if (past > 1) out.push({tag: 'svg text', text: t.textContent.slice(0, 40), past: Math.round(past)});
        }
        return out;
    }""")


def assert_fits(page, root_selector: str) -> None:
    """No horizontal scrollbar and no clipped control under ``root_selector`` (root included)."""
    over = horizontal_overflow(page, root_selector)
    assert over == [], "\n".join(map(str, over))


def default_sidebar_width(page) -> float:
    """The right sidebar's width, checked to be JupyterLab's default (~250-400 px), not widened."""
    width = page.eval_on_selector("#jp-right-stack", "el => el.getBoundingClientRect().width")
    assert 200 < width < 420, width
    return width


def matrix_cells(page, conn_selector: str) -> list[tuple[int, int, dict]]:
    """The connectivity heatmap's cells as (row, col, centre) with the centre a position inside
    its canvas (for ``locator.hover/click(position=...)``), from the plot area it reports."""
    data = page.eval_on_selector(f"{conn_selector} .bmtl-conn-heatmap .bmtl-heatmap-canvas", "el => ({...el.dataset})")
    left, top, width, height = (float(v) for v in data["plot"].split(","))
    nr, nc = int(data["rows"]), int(data["cols"])
    return [(r, c, {"x": left + (c + 0.5) * width / nc, "y": top + (r + 0.5) * height / nr})
            for r in range(nr) for c in range(nc)]


def click_matrix_cell(page, conn_selector: str, label: str) -> None:
    """Hover the connectivity heatmap's cells until its tooltip names ``label`` (e.g.
    "Exc → PV"), then click that cell; fails when no cell is that pair."""
    hm = f"{conn_selector} .bmtl-conn-heatmap .bmtl-heatmap-canvas"
    canvas = page.locator(f"{hm} canvas")
    canvas.scroll_into_view_if_needed()
    for _r, _c, at in matrix_cells(page, conn_selector):
        canvas.hover(position=at)
        if f"{label}:" in page.inner_text(f"{hm} .bmtl-heatmap-tooltip"):
            canvas.click(position=at)
            return
    raise AssertionError(f"no heatmap cell is {label!r}")
