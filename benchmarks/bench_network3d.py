"""The 3D network view in the browser: the built js/widgets/network3d.js in Debian's Chromium, fed
float32 positions and axes and uint16 groups as the kernel sends them (10⁵ and 10⁶ cells in a
1 mm cube, 5 groups), and the kernel → browser payload of Network3D.set_cells.

Chromium runs with --disable-gpu here, so WebGL is SwiftShader (software): frame times are the
CPU's, a GPU draws these points far faster.

Prints JSON:
  first_draw_ms   widget.render() of new data to the first frame's pixels: upload (bounds, axis
                  segments, colour and visibility buffers, bufferData) and the draw, waited for by
                  reading a pixel back (gl.finish returns at once in SwiftShader)
  first_draw_js_ms  of that, the widget's JavaScript (render() returning)
  orbit_frame_ms  one orbit step to its pixels (the camera turned, every point and axis drawn), as
                  a drag does it: median / p95 / max over the frames
  orbit_js_ms     of that, the widget's JavaScript (the draw calls issued)
                  (orbit_frame_ms is the full frame: what is drawn when a drag ends)
  drag_frame_ms   one orbit step while dragging to its pixels: the moving preview (every k-th
                  cell, at most preview_max = 1.5·10⁴, no axes; buffers made with the data, the
                  frame only sets the camera and draws)
  drag_js_ms      of that, the widget's JavaScript
  drag_preview    k, cells in the preview, drag frames drawn as preview, the note shown
  after_drag      SETTLE_MS after the last step: frames drawn (1, the full frame), whether the
                  last frame was a preview ("0": the full network) and the note (empty)
  payload         per cell: bytes of the binary buffers the widget sends (float32 xyz, uint16
                  group, float32 axis) and of its JSON state (no per-cell JSON: the buffers
                  travel as binary websocket frames; the JSON is the traits and the widget's ES
                  module source, sent once); a JSON list of the positions for comparison
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _browser_page import bundle_page, stats  # noqa: E402

PAGE = """<!doctype html><html><head><meta charset="utf-8">
<link rel="stylesheet" href="network3d.css"></head>
<body><div id="host" style="width: 900px"></div>
<script type="module">
import widget from "./network3d.js";
let handlers = {};
const state = {};
const model = {get: (k) => state[k], on: (ev, cb) => { (handlers[ev] ||= []).push(cb); },
  set: (k, v) => { state[k] = v; }, save_changes: () => {}};
function cells(n, axes) {
  const p = new Float32Array(n * 3), a = new Float32Array(axes ? n * 3 : 0), g = new Uint16Array(n);
  let x = 12345;
  const rnd = () => { x = (1664525 * x + 1013904223) >>> 0; return x / 4294967296; };
  for (let i = 0; i < n; i++) {
    p[i * 3] = rnd() * 1000; p[i * 3 + 1] = rnd() * 1000; p[i * 3 + 2] = rnd() * 1000;
    g[i] = Math.floor(rnd() * 5);
    if (axes) { const t = rnd() * 6.283; a[i * 3] = Math.cos(t); a[i * 3 + 1] = Math.sin(t); }
  }
  return [new DataView(p.buffer), new DataView(g.buffer), new DataView(a.buffer)];
}
window.bench = async (n, axes, frames) => {
  const el = document.getElementById("host");
  el.replaceChildren();
  handlers = {};
  [state.positions, state.groups, state.axes] = cells(n, axes);  // data made outside the timing
  Object.assign(state, {axis_length_um: 0, group_labels: ["Exc", "PV", "SST", "VIP", "L6"],
    group_colors: ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd"], hidden: [], highlight: new DataView(new ArrayBuffer(0)),
    selected: [], point_size: 4, height: 420});
  // gl.finish() returns at once in SwiftShader here: reading one pixel back waits for the frame
  const px = new Uint8Array(4);
  const sync = () => { const gl = el.querySelector("canvas").getContext("webgl"); gl.readPixels(0, 0, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, px); };
  const t0 = performance.now();
  widget.render({model, el});
  const firstCall = performance.now() - t0;
  sync();
  const first = performance.now() - t0;
  const orbit = [], calls = [];
  for (let k = 0; k < frames; k++) {
    const t = performance.now();
    for (const cb of handlers["msg:custom"] || []) cb({type: "orbit", dyaw: 0.02, dpitch: 0.005});
    calls.push(performance.now() - t);
    sync();
    orbit.push(performance.now() - t);
  }
  // drag frames: the same orbit steps as a drag sends them (the moving preview), then the full
  // frame SETTLE_MS after the last step
  const drag = [], dragCalls = [];
  let previewFrames = 0;
  for (let k = 0; k < frames; k++) {
    const t = performance.now();
    for (const cb of handlers["msg:custom"] || []) cb({type: "orbit", dyaw: 0.02, dpitch: 0.005, moving: true});
    dragCalls.push(performance.now() - t);
    sync();
    drag.push(performance.now() - t);
    previewFrames += el.dataset.preview === "1";
  }
  const note = el.querySelector(".bmtl-network3d-note").textContent;
  const before = Number(el.dataset.frames);
  await new Promise((r) => setTimeout(r, 400));
  const settled = {frames: Number(el.dataset.frames) - before, preview: el.dataset.preview,
                   note: el.querySelector(".bmtl-network3d-note").textContent};
  return {first, firstCall, orbit, calls, drag, dragCalls, previewFrames, note, settled,
          every: Number(el.dataset.previewEvery), previewPoints: Number(el.dataset.previewPoints),
          points: Number(el.dataset.points), gl: el.dataset.gl,
          renderer: (() => { const gl = el.querySelector("canvas").getContext("webgl");
            const ext = gl.getExtension("WEBGL_debug_renderer_info");
            return ext ? gl.getParameter(ext.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER); })()};
};
window.ready = true;
</script></body></html>"""


def payload(n: int) -> dict:
    """What Network3D.set_cells sends for n cells: binary buffers vs JSON state, per cell."""
    from ipywidgets.widgets.widget import _remove_buffers

    from bmtool_lab.widgets.network3d import Network3D

    rng = np.random.default_rng(0)
    xyz = rng.uniform(0, 1000, (n, 3))
    axes = rng.normal(size=(n, 3))
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    widget = Network3D()
    t0 = time.perf_counter()
    widget.set_cells(xyz, rng.integers(0, 5, n), ["Exc", "PV", "SST", "VIP", "L6"], axes)
    set_ms = (time.perf_counter() - t0) * 1e3
    state, paths, buffers = _remove_buffers(widget.get_state())
    sizes = {"/".join(map(str, p)): len(b) for p, b in zip(paths, buffers, strict=True)}
    json_bytes = len(json.dumps(state))
    binary = sum(sizes.values())
    out = {"cells": n, "set_cells_ms": round(set_ms, 2), "binary_buffers": sizes,
           "binary_bytes_per_cell": binary / n, "json_state_bytes": json_bytes,
           "positions_dtype": str(np.frombuffer(widget.positions, np.float32).dtype),
           "positions_equal_float32": bool(np.array_equal(np.frombuffer(widget.positions, np.float32).reshape(-1, 3),
                                                          xyz.astype(np.float32)))}
    if n <= 100_000:  # the same positions as a JSON list, for comparison
        out["json_list_bytes_per_cell"] = len(json.dumps(xyz.astype(np.float32).tolist())) / n
    widget.close()
    return out


def main() -> dict:
    runs = {}
    with bundle_page(PAGE, "network3d.js", viewport=(1000, 600)) as page:
        for n, axes in ((100_000, True), (1_000_000, True), (1_000_000, False)):
            page.evaluate("([n, a]) => window.bench(n, a, 3)", [n, axes])  # warm the JIT and the driver
            r = page.evaluate("([n, a]) => window.bench(n, a, 20)", [n, axes])
            key = f"{n // 1000}k{'' if axes else '_no_axes'}"
            runs[key] = {"cells_drawn": r["points"], "first_draw_ms": round(r["first"], 1),
                         "first_draw_js_ms": round(r["firstCall"], 1),
                         "orbit_frame_ms": {k: round(v, 1) for k, v in stats(r["orbit"]).items()},
                         "orbit_js_ms": {k: round(v, 1) for k, v in stats(r["calls"]).items()},
                         "drag_frame_ms": {k: round(v, 1) for k, v in stats(r["drag"]).items()},
                         "drag_js_ms": {k: round(v, 2) for k, v in stats(r["dragCalls"]).items()},
                         "drag_preview": {"every": r["every"], "cells": r["previewPoints"],
                                          "preview_frames": r["previewFrames"], "note": r["note"]},
                         "after_drag": r["settled"],
                         "webgl": r["gl"], "renderer": r["renderer"]}
    result = {"benchmark": "network3d", "chromium": "--disable-gpu (SwiftShader software WebGL)", "views": runs,
              "payload": [payload(100_000), payload(1_000_000)]}
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
