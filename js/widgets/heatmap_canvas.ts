// Canvas heatmap: one pixel block per cell, for grids too large for bqplot's SVG GridHeatMap.
//
// Model contract (see bmtool_lab/widgets/heatmap.py):
//   values     Bytes  float32, row-major n_rows × n_cols (NaN = no value, drawn grey)
//   n_rows, n_cols    grid shape; row 0 is drawn at the top
//   row_labels, col_labels  lists of str; drawn when they fit, else every k-th
//   row_title, col_title, title, units: strings
//   vmin, vmax  colour range (null = finite data range)
//   selected, hovered  [row, col] or [] (set here on click / hover, synced to the kernel)
//   height     int px; width follows the container
// Test hooks: el.dataset.rows, .cols, .selected ("r,c" or ""), .drawn (redraw count),
//   .plot ("left,top,width,height" of the cell area in CSS px), .rowStep/.colStep (label every k-th).
import "./heatmap_canvas.css";
import { floats } from "./_floats.js";
import { onWidthChange } from "./_resize.js";
import type { Binary, RenderProps, WidgetModule } from "./_anywidget.js";

export interface HeatmapTraits {
  values: Binary;
  n_rows: number;
  n_cols: number;
  row_labels: string[];
  col_labels: string[];
  row_title: string;
  col_title: string;
  title: string;
  units: string;
  vmin: number | null;
  vmax: number | null;
  selected: number[];
  hovered: number[];
  height: number;
}

type Model = RenderProps<HeatmapTraits>["model"];
type Cell = [number, number];

// viridis, 10 stops (matplotlib), interpolated into a 256-entry lookup table
export const STOPS = ["#440154", "#482878", "#3e4989", "#31688e", "#26828e", "#1f9e89", "#35b779", "#6ece58",
  "#b5de2b", "#fde725"];
const NAN_RGB = [221, 221, 221];
const FONT_PX = 10;
const LUT = (() => {
  const rgb = STOPS.map((h) => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16)));
  const lut = new Uint8ClampedArray(256 * 3);
  for (let i = 0; i < 256; i++) {
    const x = (i / 255) * (rgb.length - 1);
    const k = Math.min(rgb.length - 2, Math.floor(x));
    const f = x - k;
    for (let c = 0; c < 3; c++) lut[i * 3 + c] = rgb[k][c] + f * (rgb[k + 1][c] - rgb[k][c]);
  }
  return lut;
})();

export function fmt(v: number): string {
  if (!Number.isFinite(v)) return "–";
  if (Number.isInteger(v)) return String(v);
  return Number(v.toPrecision(3)).toString();
}

// Range of the colour map: the model's vmin/vmax, else the finite data range (never empty).
export function colourRange(model: Pick<Model, "get">, vals: Float32Array): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < vals.length; i++) {
    const v = vals[i];
    if (v < lo) lo = v; // NaN compares false: skipped
    if (v > hi) hi = v;
  }
  const vmin = model.get("vmin");
  const vmax = model.get("vmax");
  lo = vmin ?? (Number.isFinite(lo) ? lo : 0);
  hi = vmax ?? (Number.isFinite(hi) ? hi : 1);
  if (!(hi > lo)) hi = lo + 1;
  return [lo, hi];
}

// Every k-th label so that labels `size` px apart never overlap (k = 1 when all fit).
export function labelStep(cellPx: number): number {
  return Math.max(1, Math.ceil((FONT_PX + 2) / Math.max(cellPx, 1e-6)));
}

function render({ model, el }: RenderProps<HeatmapTraits>): () => void {
  el.classList.add("bmtl-heatmap-canvas");
  const title = document.createElement("div");
  title.className = "bmtl-heatmap-title";
  const host = document.createElement("div");
  host.className = "bmtl-heatmap-host";
  const canvas = document.createElement("canvas");
  const tip = document.createElement("div");
  tip.className = "bmtl-heatmap-tooltip";
  host.append(canvas, tip);
  el.append(title, host);
  const ctx = canvas.getContext("2d") as CanvasRenderingContext2D;
  const cells = document.createElement("canvas"); // n_cols × n_rows image, scaled up when drawn
  let geom: { left: number; top: number; width: number; height: number } | null = null; // plot area in CSS px, set by draw()
  let drawn = 0;

  const shape = (): [number, number] => [model.get("n_rows") || 0, model.get("n_cols") || 0];
  const cellAt = (ev: MouseEvent): Cell | null => {
    if (!geom) return null;
    const r = canvas.getBoundingClientRect();
    const x = ev.clientX - r.left - geom.left;
    const y = ev.clientY - r.top - geom.top;
    if (x < 0 || y < 0 || x >= geom.width || y >= geom.height) return null;
    const [nr, nc] = shape();
    return [Math.min(nr - 1, Math.floor((y / geom.height) * nr)), Math.min(nc - 1, Math.floor((x / geom.width) * nc))];
  };

  const paintCells = (): [number, number] => {
    const [nr, nc] = shape();
    const vals = floats(model.get("values"));
    const [lo, hi] = colourRange(model, vals);
    cells.width = Math.max(1, nc);
    cells.height = Math.max(1, nr);
    const cctx = cells.getContext("2d") as CanvasRenderingContext2D;
    const img = cctx.createImageData(cells.width, cells.height);
    const n = Math.min(vals.length, nr * nc);
    for (let i = 0; i < n; i++) {
      const v = vals[i];
      let rgb: ArrayLike<number> = NAN_RGB;
      let o = 0;
      if (Number.isFinite(v)) {
        const t = Math.min(1, Math.max(0, (v - lo) / (hi - lo)));
        o = Math.round(t * 255) * 3;
        rgb = LUT;
      }
      img.data[i * 4] = rgb[o];
      img.data[i * 4 + 1] = rgb[o + 1];
      img.data[i * 4 + 2] = rgb[o + 2];
      img.data[i * 4 + 3] = 255;
    }
    cctx.putImageData(img, 0, 0);
    return [lo, hi];
  };

  let range: [number, number] = [0, 1];
  const draw = () => {
    const [nr, nc] = shape();
    const rows = model.get("row_labels") || [];
    const cols = model.get("col_labels") || [];
    const width = Math.max(240, Math.floor(el.getBoundingClientRect().width || 560));
    const height = Math.max(160, model.get("height") || 520);
    const dpr = window.devicePixelRatio || 1;
    canvas.width = Math.round(width * dpr);
    canvas.height = Math.round(height * dpr);
    canvas.style.width = `${width}px`;
    canvas.style.height = `${height}px`;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    ctx.font = `${FONT_PX}px sans-serif`;
    // margins sized to the longest label (capped) so names stay readable without eating the plot
    const widest = (labels: string[]) => Math.min(110, labels.reduce((m, s) => Math.max(m, ctx.measureText(s).width), 0));
    const left = 18 + widest(rows) + 6;
    const bottom = 18 + widest(cols) + 6;
    const right = 70; // colour bar + its labels
    geom = { left, top: 8, width: Math.max(10, width - left - right), height: Math.max(10, height - 8 - bottom) };
    const { top, width: pw, height: ph } = geom;

    if (nr > 0 && nc > 0) {
      ctx.imageSmoothingEnabled = false; // crisp blocks, not blurred
      ctx.drawImage(cells, 0, 0, nc, nr, left, top, pw, ph);
    }
    const cw = pw / Math.max(nc, 1);
    const ch = ph / Math.max(nr, 1);

    // axis labels: every k-th when they do not all fit
    ctx.fillStyle = "#333";
    ctx.textBaseline = "middle";
    ctx.textAlign = "right";
    const clip = (s: string) => (s.length > 18 ? `${s.slice(0, 17)}…` : s);
    const kr = labelStep(ch);
    for (let i = 0; i < nr; i += kr) ctx.fillText(clip(String(rows[i] ?? i)), left - 4, top + (i + 0.5) * ch);
    const kc = labelStep(cw);
    for (let j = 0; j < nc; j += kc) {
      ctx.save();
      ctx.translate(left + (j + 0.5) * cw, top + ph + 4);
      ctx.rotate(-Math.PI / 2);
      ctx.fillText(clip(String(cols[j] ?? j)), 0, 0);
      ctx.restore();
    }
    el.dataset.rowStep = String(kr);
    el.dataset.colStep = String(kc);
    ctx.textAlign = "center";
    ctx.textBaseline = "bottom";
    ctx.font = `${FONT_PX + 1}px sans-serif`;
    if (model.get("col_title")) ctx.fillText(model.get("col_title"), left + pw / 2, height - 2);
    if (model.get("row_title")) {
      ctx.save();
      ctx.translate(12, top + ph / 2);
      ctx.rotate(-Math.PI / 2);
      ctx.textBaseline = "middle";
      ctx.fillText(model.get("row_title"), 0, 0);
      ctx.restore();
    }

    // colour bar
    const bx = left + pw + 10;
    const grad = ctx.createLinearGradient(0, top + ph, 0, top);
    STOPS.forEach((c, i) => grad.addColorStop(i / (STOPS.length - 1), c));
    ctx.fillStyle = grad;
    ctx.fillRect(bx, top, 12, ph);
    ctx.fillStyle = "#333";
    ctx.font = `${FONT_PX}px sans-serif`;
    ctx.textAlign = "left";
    ctx.textBaseline = "top";
    ctx.fillText(fmt(range[1]), bx + 15, top);
    ctx.textBaseline = "bottom";
    ctx.fillText(fmt(range[0]), bx + 15, top + ph);
    ctx.textBaseline = "middle";
    ctx.fillText(model.get("units") || "", bx + 15, top + ph / 2);

    // selection outline
    const sel = model.get("selected") || [];
    if (sel.length === 2 && sel[0] < nr && sel[1] < nc) {
      ctx.strokeStyle = "red";
      ctx.lineWidth = 2;
      ctx.strokeRect(left + sel[1] * cw - 1, top + sel[0] * ch - 1, Math.max(cw, 1) + 2, Math.max(ch, 1) + 2);
    }
    el.dataset.plot = `${left},${top},${pw},${ph}`; // CSS px inside the canvas, for tests
    el.dataset.rows = String(nr);
    el.dataset.cols = String(nc);
    el.dataset.selected = sel.length === 2 ? `${sel[0]},${sel[1]}` : "";
    el.dataset.drawn = String(++drawn);
  };

  const update = () => {
    range = paintCells();
    title.textContent = model.get("title") || "";
    title.style.display = model.get("title") ? "" : "none";
    draw();
  };

  const sameCell = (a: number[] | null, b: number[] | null) =>
    (a || []).length === (b || []).length && (a || []).every((v, i) => v === (b || [])[i]);
  const showTip = (cell: Cell | null, ev: MouseEvent) => {
    if (!cell) {
      tip.style.display = "none";
      return;
    }
    const [r, c] = cell;
    const vals = floats(model.get("values"));
    const v = vals[r * model.get("n_cols") + c];
    const rl = (model.get("row_labels") || [])[r] ?? r;
    const cl = (model.get("col_labels") || [])[c] ?? c;
    tip.textContent = `${rl} → ${cl}: ${fmt(v)} ${model.get("units") || ""}`;
    const hr = host.getBoundingClientRect();
    tip.style.left = `${ev.clientX - hr.left + 12}px`;
    tip.style.top = `${ev.clientY - hr.top + 12}px`;
    tip.style.display = "block";
  };

  canvas.addEventListener("mousemove", (ev) => {
    const cell = cellAt(ev);
    showTip(cell, ev);
    const next = cell || [];
    // sync only when the cell changes: a message per mouse pixel would flood the kernel
    if (!sameCell(next, model.get("hovered"))) {
      model.set("hovered", next);
      model.save_changes();
    }
  });
  canvas.addEventListener("mouseleave", () => {
    tip.style.display = "none";
    if ((model.get("hovered") || []).length) {
      model.set("hovered", []);
      model.save_changes();
    }
  });
  canvas.addEventListener("click", (ev) => {
    const cell = cellAt(ev);
    if (!cell) return;
    model.set("selected", cell);
    model.save_changes();
    draw();
  });

  model.on("msg:custom", (msg: { type?: string; name?: string } | null) => {
    if (!msg || msg.type !== "save_png") return;
    const a = document.createElement("a");
    a.download = msg.name || "heatmap.png";
    a.href = canvas.toDataURL("image/png");
    a.click();
  });

  update();
  for (const name of ["values", "n_rows", "n_cols", "vmin", "vmax", "title"] as const) model.on(`change:${name}`, update);
  for (const name of ["row_labels", "col_labels", "row_title", "col_title", "units", "selected", "height"] as const) {
    model.on(`change:${name}`, draw);
  }
  return onWidthChange(el, () => draw());
}

export default { render } satisfies WidgetModule<HeatmapTraits>;
