"""Spike raster redraw in the browser: the network-run raster (js/widgets/raster.js) in Debian's
Chromium, fed float32 times/rows and uint16 groups as the kernel sends them (in time order; cells
random: 10⁴ cells firing at 10 Hz for 10 s are 10⁶ spikes).

Prints JSON:
  draw_1M_ms      the raster's own draw of 10⁶ new spikes (pixel indices, pixel buffer,
                  putImageData, axes), per frame, as the widget reports it (el.dataset.drawMs)
  redraw_1M_ms    a redraw of the same 10⁶ spikes with a group hidden or shown (target <= 16 ms)
  frame_1M_ms     from the trait change to the drawn frame (the draw waits for the next
                  animation frame, so this includes up to one frame of waiting)
  draw_100k_ms    the draw for 10⁵ spikes
  spikes_drawn    spikes the last 10⁶ frame put on the canvas (all of them fall inside it)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _browser_page import bundle_page, stats  # noqa: E402

PAGE = """<!doctype html><html><head><meta charset="utf-8">
<link rel="stylesheet" href="raster.css"></head>
<body><div id="host" style="width: 900px"></div>
<script type="module">
import widget from "./raster.js";
const handlers = {};
const colours = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd"];
const state = {times: null, rows: null, codes: null, n_rows: 10000, tstop_ms: 10000, t_now_ms: -1,
  group_labels: ["Exc", "PV", "SST", "VIP", "L6"], group_colors: colours,
  group_bands: [[0, 8000], [8000, 9000], [9000, 9500], [9500, 9800], [9800, 10000]],
  hidden: [], title: "bench", height: 400, picked_row: -1};
const model = {get: (k) => state[k], on: (ev, cb) => { (handlers[ev] ||= []).push(cb); },
  set: () => {}, save_changes: () => {}};
function spikes(n, seed) {
  const t = new Float32Array(n), r = new Float32Array(n), c = new Uint16Array(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    t[i] = ((i + (seed % 7) / 7) / n) * 10000;  // in time order, as a run's spikes are sent
    x = (1664525 * x + 1013904223) >>> 0;
    r[i] = Math.floor((x / 4294967296) * 10000);
    c[i] = r[i] < 8000 ? 0 : r[i] < 9000 ? 1 : r[i] < 9500 ? 2 : r[i] < 9800 ? 3 : 4;
  }
  return [new DataView(t.buffer), new DataView(r.buffer), new DataView(c.buffer)];
}
window.bench = async (n, frames) => {
  const el = document.getElementById("host");
  el.replaceChildren();
  [state.times, state.rows, state.codes] = spikes(n, 1);
  widget.render({model, el});
  const draws = [], whole = [], loops = [];
  for (let k = 1; k <= frames; k++) {
    [state.times, state.rows, state.codes] = spikes(n, k + 1);  // data made outside the timing
    const before = Number(el.dataset.draws || 0);
    const t0 = performance.now();
    for (const cb of handlers["change:times"] || []) cb();
    await new Promise((res) => { const wait = () => (Number(el.dataset.draws) > before ? res() :
      requestAnimationFrame(wait)); requestAnimationFrame(wait); });
    whole.push(performance.now() - t0);
    draws.push(Number(el.dataset.drawMs));
    loops.push(Number(el.dataset.paintMs));
  }
  const spikesAll = Number(el.dataset.spikes);
  // Redraws of the same data: a group hidden and shown again (the pixel indices are reused).
  const redraws = [];
  for (let k = 1; k <= frames; k++) {
    state.hidden = k % 2 ? [1] : [];
    const before = Number(el.dataset.draws || 0);
    for (const cb of handlers["change:hidden"] || []) cb();
    await new Promise((res) => { const wait = () => (Number(el.dataset.draws) > before ? res() :
      requestAnimationFrame(wait)); requestAnimationFrame(wait); });
    redraws.push(Number(el.dataset.drawMs));
  }
  state.hidden = [];
  return {draws, whole, loops, redraws, spikes: spikesAll};
};
window.ready = true;
</script></body></html>"""


def main() -> dict:
    with bundle_page(PAGE, "raster.js") as page:
        big = page.evaluate("() => window.bench(1000000, 25)")
        small = page.evaluate("() => window.bench(100000, 25)")
    result = {
        "benchmark": "raster_redraw",
        "draw_1M_ms": stats(big["draws"][3:]),  # first frames warm the JIT
        "frame_1M_ms": stats(big["whole"][3:]),
        "pixels_1M_ms": stats(big["loops"][3:]),  # of the draw: indexing and painting the spikes
        "redraw_1M_ms": stats(big["redraws"][3:]),
        "draw_100k_ms": stats(small["draws"][3:]),
        "spikes_drawn": big["spikes"],
        "target_redraw_1M_ms": 16.0,
    }
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
