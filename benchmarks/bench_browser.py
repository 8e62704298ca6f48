"""Trace redraw in the browser: the TracePanel front end (uPlot) in Debian's Chromium.

Prints JSON. The built bundle (bmtool_lab/static/trace_panel.js) is served on loopback and
rendered into a page with a minimal model (the anywidget `get`/`on` contract); each frame hands
it new float32 traces and times the work until the canvas is drawn (the update plus uPlot's
commit, which runs in a microtask).
  redraw_100k_ms   median / p95 per frame for 100 000 points, 2 series (target <= 16 ms)
  redraw_10k_ms    the same for 10 000 points
  decode_100k_ms   wrapping 400 kB of float32 bytes into typed arrays (no copy)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _browser_page import bundle_page, stats  # noqa: E402

PAGE = """<!doctype html><html><head><meta charset="utf-8">
<link rel="stylesheet" href="trace_panel.css"></head>
<body><div id="host" style="width: 900px"></div>
<script type="module">
import widget from "./trace_panel.js";
const handlers = {};
const state = {t: null, y: null, series: [{label: "v", color: "#1f77b4"}, {label: "pinned", color: "#d62728", dash: true}],
  markers: [100, 200, 300], title: "bench", x_label: "t (ms)", y_label: "v (mV)", y2_label: "", status: "",
  error: "", autoscale: false, height: 260, version: 0};
const model = {get: (k) => state[k], on: (ev, cb) => { (handlers[ev] ||= []).push(cb); }};
function frame(n, phase) {
  const t = new Float32Array(n), y = new Float32Array(2 * n);
  for (let i = 0; i < n; i++) {
    t[i] = i * 0.025;
    y[i] = -65 + 20 * Math.sin(i / 400 + phase);
    y[n + i] = -65 + 18 * Math.sin(i / 410 + phase);
  }
  return [new DataView(t.buffer), new DataView(y.buffer)];
}
window.bench = async (n, frames) => {
  [state.t, state.y] = frame(n, 0);
  const el = document.getElementById("host");
  el.replaceChildren();
  widget.render({model, el});
  await new Promise((r) => setTimeout(r, 50));
  const times = [];
  let changed = 0, last = -1;
  const checksum = () => {
    const c = el.querySelector("canvas");
    const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    let h = 0;
    for (let i = 0; i < d.length; i += 97) h = (h * 31 + d[i]) | 0;
    return h;
  };
  for (let k = 1; k <= frames; k++) {
    [state.t, state.y] = frame(n, k * 0.3);  // data made outside the timed region
    const t0 = performance.now();
    state.version = k;
    for (const cb of handlers["change:version"] || []) cb();
    await Promise.resolve();  // uPlot commits (draws) in a microtask
    await Promise.resolve();
    times.push(performance.now() - t0);
    const h = checksum();  // outside the timed region: proves the pixels changed in it
    if (h !== last) changed++;
    last = h;
  }
  const bytes = new Float32Array(2 * n).buffer;
  const d0 = performance.now();
  for (let k = 0; k < 100; k++) new Float32Array(bytes, 0, 2 * n);
  const decode = (performance.now() - d0) / 100;
  return {times, changed, points: Number(el.firstChild ? el.dataset.points : 0), decode};
};
window.ready = true;
</script></body></html>"""


def main() -> dict:
    with bundle_page(PAGE, "trace_panel.js") as page:
        big = page.evaluate("() => window.bench(100000, 40)")
        small = page.evaluate("() => window.bench(10000, 40)")
    result = {
        "benchmark": "browser_redraw",
        "redraw_100k_ms": stats(big["times"][5:]),  # first frames warm the JIT
        "redraw_10k_ms": stats(small["times"][5:]),
        "points_drawn": big["points"],
        # every timed frame left new pixels on the canvas (the draw happened inside the timing)
        "frames_with_new_pixels": f"{big['changed']}/{len(big['times'])}",
        "decode_100k_ms": big["decode"],
        "target_redraw_100k_ms": 16.0,
    }
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
