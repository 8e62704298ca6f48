// Spike raster on a canvas: one pixel (or a 2×2 dot when spikes are few) per spike, written into
// an ImageData buffer, so 10⁶ spikes redraw in milliseconds (SVG would hold 10⁶ nodes).
//
// Model contract (see bmtool_lab/widgets/network_run.py):
//   times   Bytes float32 spike times (ms)        rows   Bytes float32 cell row of each spike
//   codes   Bytes uint16 group of each spike      n_rows cells on the y axis (silent ones too)
//   group_labels, group_colors, group_bands ([[first row, end row), ...] per group, y labels)
//   tstop_ms  x range end (ms)   t_now_ms  simulated time so far (a line while a run is live; -1 none)
//   title, height (px)           hidden  group codes not drawn
//   picked_row  set here on click (the cell's row; -1 none), synced to the kernel
// Test hooks on el.dataset: spikes (spikes drawn), drawMs (last draw, ms), draws (count),
//   plot ("left,top,width,height" of the data area, CSS px), colours (group colours drawn).
import "./raster.css";
import { floats } from "./_floats.js";
import { onWidthChange } from "./_resize.js";
import type { Binary, RenderProps, WidgetModule } from "./_anywidget.js";

export interface RasterTraits {
  times: Binary;
  rows: Binary;
  codes: Binary;
  n_rows: number;
  group_labels: string[];
  group_colors: string[];
  group_bands: [number, number][];
  tstop_ms: number;
  t_now_ms: number;
  title: string;
  height: number;
  hidden: number[];
  picked_row: number;
}

type Cache = {
  data: unknown[];
  paintKey: string;
  pix: Int32Array | null;
  img: ImageData;
  drawnSpikes: number;
};

const FONT_PX = 10;
const MARGIN = { left: 52, right: 14, top: 6, bottom: 28 }; // right: room for the last tick label

export function u16(value: Binary | ArrayLike<number> | undefined): Uint16Array {
  if (!value) return new Uint16Array(0);
  if (value instanceof DataView || ArrayBuffer.isView(value)) {
    return new Uint16Array(value.buffer, value.byteOffset, Math.floor(value.byteLength / 2));
  }
  if (value instanceof ArrayBuffer) return new Uint16Array(value);
  return Uint16Array.from(value as ArrayLike<number>);
}

export function rgbOf(hex: string | null | undefined): number[] {
  const h = (hex || "#444444").replace("#", "");
  return [0, 2, 4].map((i) => parseInt(h.slice(i, i + 2), 16));
}

// Round tick step (1, 2, 5 × 10^k) giving about `n` ticks over `span`.
export function tickStep(span: number, n: number): number {
  const raw = span / Math.max(n, 1);
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}

// New data: the pixel index of each spike in the data area (-1: outside), kept so that a redraw
// of the same data (a group hidden, the progress line) only paints, and the spikes painted in
// the same pass. Returns the spikes drawn.
function indexAndPaint(px: Uint32Array, pix: Int32Array, W: number, times: Float32Array, rows: Float32Array,
  codes: Uint16Array, colourOf: Uint32Array, rowOffset: Int32Array, sx: number): number {
  const n = pix.length;
  const nRows = rowOffset.length;
  const hasCodes = codes.length >= n;
  let drawn = 0;
  for (let i = 0; i < n; i++) {
    const x = (times[i] * sx) | 0;
    const r = rows[i] | 0;
    const p = x < 0 || x >= W || r < 0 || r >= nRows ? -1 : rowOffset[r] + x;
    pix[i] = p;
    const c = colourOf[hasCodes ? codes[i] : 0];
    if (p < 0 || c === 0) continue;
    px[p] = c;
    drawn++;
  }
  return drawn;
}

// The hot loop, kept small so the JIT compiles it tight: one load and one store per spike.
function paintPixels(px: Uint32Array, pix: Int32Array, codes: Uint16Array, colourOf: Uint32Array): number {
  const n = pix.length;
  const hasCodes = codes.length >= n;
  let drawn = 0;
  for (let i = 0; i < n; i++) {
    const p = pix[i];
    const c = colourOf[hasCodes ? codes[i] : 0];
    if (p < 0 || c === 0) continue;
    px[p] = c;
    drawn++;
  }
  return drawn;
}

// Few spikes: dot × dot squares, so a sparse raster stays visible.
function paintDots(px: Uint32Array, W: number, H: number, times: Float32Array, rows: Float32Array, codes: Uint16Array,
  colourOf: Uint32Array, sx: number, sy: number, n: number, dot: number): number {
  const hasCodes = codes.length >= n;
  let drawn = 0;
  for (let i = 0; i < n; i++) {
    const c = colourOf[hasCodes ? codes[i] : 0];
    const x = (times[i] * sx) | 0;
    const y = ((rows[i] + 0.5) * sy) | 0;
    if (c === 0 || x < 0 || x >= W || y < 0 || y >= H) continue;
    for (let dy = 0; dy < dot && y + dy < H; dy++) {
      const base = (y + dy) * W;
      for (let dx = 0; dx < dot && x + dx < W; dx++) px[base + x + dx] = c;
    }
    drawn++;
  }
  return drawn;
}

function render({ model, el }: RenderProps<RasterTraits>): () => void {
  el.classList.add("bmtl-raster");
  const title = document.createElement("div");
  title.className = "bmtl-raster-title";
  const host = document.createElement("div");
  host.className = "bmtl-raster-host";
  const canvas = document.createElement("canvas");
  const tip = document.createElement("div");
  tip.className = "bmtl-raster-tooltip";
  host.append(canvas, tip);
  el.append(title, host);
  const ctx = canvas.getContext("2d") as CanvasRenderingContext2D;
  let geom: { left: number; top: number; width: number; height: number } | null = null;
  let draws = 0;
  let cache: Cache | null = null; // pixel indices and the painted image of the last data, size and colours

  const draw = () => {
    const t0 = performance.now();
    const width = Math.max(200, Math.floor(el.clientWidth || host.clientWidth || 400));
    const height = model.get("height") || 260;
    const dpr = window.devicePixelRatio || 1;
    if (canvas.width !== Math.round(width * dpr) || canvas.height !== Math.round(height * dpr)) {
      canvas.width = Math.round(width * dpr); // reallocates the backing store: only on a resize
      canvas.height = Math.round(height * dpr);
      canvas.style.width = `${width}px`;
      canvas.style.height = `${height}px`;
    }
    title.textContent = model.get("title") || "";
    const pw = width - MARGIN.left - MARGIN.right;
    const ph = height - MARGIN.top - MARGIN.bottom;
    geom = { left: MARGIN.left, top: MARGIN.top, width: pw, height: ph };
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, canvas.width, canvas.height);

    const times = floats(model.get("times"));
    const rows = floats(model.get("rows"));
    const codes = u16(model.get("codes"));
    const nRows = Math.max(1, model.get("n_rows") || 1);
    const tstop = model.get("tstop_ms") > 0 ? model.get("tstop_ms") : 1;
    const colours = (model.get("group_colors") || []).map(rgbOf);
    const hidden = new Set(model.get("hidden") || []);
    // Spikes into a pixel buffer of the data area (device pixels), then one putImageData.
    const W = Math.max(1, Math.round(pw * dpr));
    const H = Math.max(1, Math.round(ph * dpr));
    const n = Math.min(times.length, rows.length);
    const dot = n < 20000 ? Math.max(2, Math.round(2 * dpr)) : 1;
    const sx = W / tstop;
    const sy = H / nRows;
    const paintKey = [model.get("group_colors"), model.get("hidden")].map((v) => JSON.stringify(v)).join("|");
    const data = [model.get("times"), model.get("rows"), model.get("codes"), W, H, nRows, tstop];
    const prev = cache;
    const same = prev !== null && data.every((v, k) => v === prev.data[k]);
    const tPaint = performance.now();
    if (!same || prev.paintKey !== paintKey) {
      const img = ctx.createImageData(W, H);
      const px = new Uint32Array(img.data.buffer);
      const packed = colours.map(([r, g, b]) => (255 << 24) | (b << 16) | (g << 8) | r); // little-endian RGBA
      const colourOf = new Uint32Array(65536).fill((255 << 24) | (68 << 16) | (68 << 8) | 68);
      packed.forEach((c, k) => { colourOf[k] = hidden.has(k) ? 0 : c; });
      let pix = same && prev.pix ? prev.pix : null;
      let drawnSpikes: number;
      if (dot === 1) {
        if (pix === null) {
          const rowOffset = new Int32Array(nRows); // first pixel of each cell's row
          for (let k = 0; k < nRows; k++) rowOffset[k] = Math.min(H - 1, Math.floor((k + 0.5) * sy)) * W;
          pix = new Int32Array(n);
          drawnSpikes = indexAndPaint(px, pix, W, times, rows, codes, colourOf, rowOffset, sx);
        } else {
          drawnSpikes = paintPixels(px, pix, codes, colourOf);
        }
      } else {
        drawnSpikes = paintDots(px, W, H, times, rows, codes, colourOf, sx, sy, n, dot);
      }
      cache = { data, paintKey, pix, img, drawnSpikes };
    }
    const drawn = cache as Cache;
    const drawnSpikes = drawn.drawnSpikes;
    const tLoop = performance.now();
    ctx.putImageData(drawn.img, Math.round(MARGIN.left * dpr), Math.round(MARGIN.top * dpr));

    // Axes, group bands and labels, in CSS px.
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.strokeStyle = "#888";
    ctx.lineWidth = 1;
    ctx.strokeRect(MARGIN.left - 0.5, MARGIN.top - 0.5, pw + 1, ph + 1);
    ctx.fillStyle = "#333";
    ctx.font = `${FONT_PX}px sans-serif`;
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    const step = tickStep(tstop, Math.max(2, Math.floor(pw / 70)));
    for (let t = 0; t <= tstop + 1e-9; t += step) {
      const x = MARGIN.left + (t / tstop) * pw;
      ctx.fillRect(x, MARGIN.top + ph, 1, 3);
      ctx.fillText(String(Number(t.toPrecision(6))), x, MARGIN.top + ph + 4);
    }
    ctx.fillText("time (ms)", MARGIN.left + pw / 2, MARGIN.top + ph + 15);
    const labels = model.get("group_labels") || [];
    const bands = model.get("group_bands") || [];
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    bands.forEach(([a, b], k) => {
      const y0 = MARGIN.top + (a / nRows) * ph;
      const y1 = MARGIN.top + (b / nRows) * ph;
      if (k > 0) {
        ctx.fillStyle = "#ccc";
        ctx.fillRect(MARGIN.left, y0, pw, 1);
      }
      ctx.fillStyle = colours[k] ? `rgb(${colours[k].join(",")})` : "#333";
      if (y1 - y0 >= FONT_PX) ctx.fillText(String(labels[k] ?? ""), MARGIN.left - 4, (y0 + y1) / 2, MARGIN.left - 8);
    });
    const tNow = model.get("t_now_ms");
    if (tNow >= 0 && tNow < tstop) {
      const x = MARGIN.left + (tNow / tstop) * pw;
      ctx.fillStyle = "rgba(214, 39, 40, 0.7)";
      ctx.fillRect(x, MARGIN.top, 1, ph);
    }
    draws += 1;
    el.dataset.spikes = String(drawnSpikes);
    el.dataset.draws = String(draws);
    el.dataset.plot = [MARGIN.left, MARGIN.top, pw, ph].join(",");
    el.dataset.colours = (model.get("group_colors") || []).join(",");
    el.dataset.drawMs = (performance.now() - t0).toFixed(2);
    el.dataset.loopMs = (tLoop - t0).toFixed(2);
    el.dataset.paintMs = (tLoop - tPaint).toFixed(2);
  };

  const rowAt = (ev: MouseEvent) => {
    if (!geom) return null;
    const r = canvas.getBoundingClientRect();
    const x = ev.clientX - r.left - geom.left;
    const y = ev.clientY - r.top - geom.top;
    if (x < 0 || y < 0 || x > geom.width || y > geom.height) return null;
    const nRows = Math.max(1, model.get("n_rows") || 1);
    const tstop = model.get("tstop_ms") > 0 ? model.get("tstop_ms") : 1;
    return { row: Math.min(nRows - 1, Math.floor((y / geom.height) * nRows)), t: (x / geom.width) * tstop, x, y };
  };
  const groupOfRow = (row: number) => (model.get("group_bands") || []).findIndex(([a, b]) => row >= a && row < b);
  canvas.addEventListener("mousemove", (ev) => {
    const hit = rowAt(ev);
    if (!hit) {
      tip.style.display = "none";
      return;
    }
    const g = groupOfRow(hit.row);
    const label = (model.get("group_labels") || [])[g] ?? "";
    tip.textContent = `${label} · row ${hit.row} · ${hit.t.toFixed(1)} ms · click: this cell`;
    tip.style.display = "block";
    // Kept inside the canvas (a tooltip past the edge would widen a narrow sidebar).
    const room = host.clientWidth - tip.offsetWidth - 2;
    const left = geom ? geom.left : 0;
    const top = geom ? geom.top : 0;
    tip.style.left = `${Math.max(0, Math.min(hit.x + left + 10, room))}px`;
    tip.style.top = `${hit.y + top + 12}px`;
  });
  canvas.addEventListener("mouseleave", () => {
    tip.style.display = "none";
  });
  canvas.addEventListener("click", (ev) => {
    const hit = rowAt(ev);
    if (!hit) return;
    model.set("picked_row", hit.row);
    model.save_changes();
  });
  model.on("msg:custom", (msg: { type?: string; name?: string } | null) => {
    if (!msg || msg.type !== "save_png") return;
    const a = document.createElement("a");
    a.download = msg.name || "raster.png";
    a.href = canvas.toDataURL("image/png");
    a.click();
  });
  // Several traits change together on each update (hold_sync): draw once per frame.
  let pending = false;
  const schedule = () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      draw();
    });
  };
  for (const name of ["times", "rows", "codes", "n_rows", "tstop_ms", "t_now_ms", "group_labels", "group_colors",
    "group_bands", "title", "height", "hidden"] as const) {
    model.on(`change:${name}`, schedule);
  }
  draw();
  return onWidthChange(el, () => schedule());
}

export default { render } satisfies WidgetModule<RasterTraits>;
