// Canvas heatmap: the connectivity matrix (and any other grid), one pixel block per cell; a
// million cells draw as fast as ten.
//
// Model contract (see bmtool_lab/widgets/heatmap.py):
//   values     Bytes  float32, row-major n_rows × n_cols (NaN = no value, drawn grey)
//   n_rows, n_cols    grid shape; row 0 is drawn at the top
//   row_labels, col_labels  lists of str (tick labels); drawn when they fit, else every k-th
//   row_title, col_title, title, units: strings
//   vmin, vmax  colour range (null = finite data range)
//   cell_text, cell_text_colors  per cell (row-major) the number written on it and its colour;
//              [] = no numbers; a number is drawn only where it fits inside its cell
//   selected, hovered  [row, col] or [] (set here on click / hover, synced to the kernel)
//   height     int px; width follows the container
// Column labels are horizontal when they fit, else rotated 30°, else vertical (every k-th).
// Test hooks: el.dataset.rows, .cols, .selected ("r,c" or ""), .drawn (redraw count), .ready
//   ("true" once a non-empty grid is drawn), .plot ("left,top,width,height" of the cell area in
//   CSS px), .rowStep/.colStep (label every k-th), .colAngle ("0", "30" or "90"), .rowTicks and
//   .colTicks (JSON: the tick labels drawn), .numbers (JSON: [row, col, text, colour] per number drawn).
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
  cell_text: string[];
  cell_text_colors: string[];
  selected: number[];
  hovered: number[];
  height: number;
}

type Model = RenderProps<HeatmapTraits>["model"];
type Cell = [number, number];
type Box = { left: number; top: number; width: number; height: number };

// viridis, 10 stops (matplotlib), interpolated into a 256-entry lookup table
export const STOPS = ["#440154", "#482878", "#3e4989", "#31688e", "#26828e", "#1f9e89", "#35b779", "#6ece58",
  "#b5de2b", "#fde725"];
const NAN_RGB = [221, 221, 221];
const FONT_PX = 10;
const LABEL_CHARS = 18; // tick labels longer than this are clipped with "…"
const GRID_MIN_PX = 6; // white lines between cells once a cell is this large (as an SVG heatmap's strokes)
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

// The angle (degrees) of the column labels: horizontal when the widest fits in a column, else
// 30° when rotated labels `cellPx` apart do not overlap, else vertical.
export function columnAngle(cellPx: number, widestPx: number): 0 | 30 | 90 {
  if (widestPx + 4 <= cellPx) return 0;
  if (cellPx * Math.sin(Math.PI / 6) >= FONT_PX + 2) return 30;
  return 90;
}

export const clipLabel = (s: string): string => (s.length > LABEL_CHARS ? `${s.slice(0, LABEL_CHARS - 1)}…` : s);

function render({ model, el }: RenderProps<HeatmapTraits>): () => void {
  el.classList.add("bmtl-heatmap-canvas");
  const title = document.createElement("div");
  title.className = "bmtl-heatmap-title";
  const host = document.createElement("div");
  host.className = "bmtl-heatmap-host";
  const canvas = document.createElement("canvas");
  canvas.setAttribute("role", "img");
  const tip = document.createElement("div");
  tip.className = "bmtl-heatmap-tooltip";
  host.append(canvas, tip);
  el.append(title, host);
  const ctx = canvas.getContext("2d") as CanvasRenderingContext2D;
  const cells = document.createElement("canvas"); // n_cols × n_rows image, scaled up when drawn
  let geom: Box | null = null; // plot area in CSS px, set by draw()
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

  // The numbers on the cells, each in its colour, where it fits inside its cell.
  const drawNumbers = (g: Box, nr: number, nc: number, cw: number, ch: number): [number, number, string, string][] => {
    const text = model.get("cell_text") || [];
    const colours = model.get("cell_text_colors") || [];
    const out: [number, number, string, string][] = [];
    if (text.length < nr * nc || ch < FONT_PX + 2) return out;
    ctx.font = `${FONT_PX}px sans-serif`;
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    for (let r = 0; r < nr; r++) {
      for (let c = 0; c < nc; c++) {
        const s = text[r * nc + c];
        if (!s || ctx.measureText(s).width + 2 > cw) continue;
        const colour = colours[r * nc + c] || "black";
        ctx.fillStyle = colour;
        ctx.fillText(s, g.left + (c + 0.5) * cw, g.top + (r + 0.5) * ch);
        out.push([r, c, s, colour]);
      }
    }
    return out;
  };

  let range: [number, number] = [0, 1];
  const draw = () => {
    const [nr, nc] = shape();
    const rows = (model.get("row_labels") || []).map((s) => clipLabel(String(s)));
    const cols = (model.get("col_labels") || []).map((s) => clipLabel(String(s)));
    const rowLabel = (i: number) => rows[i] ?? String(i);
    const colLabel = (j: number) => cols[j] ?? String(j);
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
    const wr = widest(rows);
    const wc = widest(cols);
    const tickLabels = [fmt(range[0]), fmt((range[0] + range[1]) / 2), fmt(range[1])];
    const right = 10 + 12 + 6 + widest(tickLabels) + 6 + (model.get("units") ? FONT_PX + 6 : 0); // colour bar
    let left = 18 + wr + 6;
    const cwAt = (l: number) => Math.max(10, width - l - right) / Math.max(nc, 1);
    const angle = columnAngle(cwAt(left), wc);
    const rad = (angle * Math.PI) / 180;
    // a 30° label reaches left of its column: keep the first one on the canvas
    if (angle === 30) left = Math.max(left, wc * Math.cos(rad) - cwAt(left) / 2 + 4);
    const bottom = 18 + (angle === 0 ? FONT_PX : wc * Math.sin(rad) + FONT_PX * Math.cos(rad)) + 8;
    geom = { left, top: 8, width: Math.max(10, width - left - right), height: Math.max(10, height - 8 - bottom) };
    const g = geom;
    const { top, width: pw, height: ph } = g;

    if (nr > 0 && nc > 0) {
      ctx.imageSmoothingEnabled = false; // crisp blocks, not blurred
      ctx.drawImage(cells, 0, 0, nc, nr, left, top, pw, ph);
    }
    const cw = pw / Math.max(nc, 1);
    const ch = ph / Math.max(nr, 1);
    if (nr > 0 && nc > 0 && cw >= GRID_MIN_PX && ch >= GRID_MIN_PX) {
      ctx.strokeStyle = "white";
      ctx.lineWidth = 1;
      ctx.beginPath();
      for (let j = 1; j < nc; j++) {
        ctx.moveTo(left + j * cw, top);
        ctx.lineTo(left + j * cw, top + ph);
      }
      for (let i = 1; i < nr; i++) {
        ctx.moveTo(left, top + i * ch);
        ctx.lineTo(left + pw, top + i * ch);
      }
      ctx.stroke();
    }
    const numbers = drawNumbers(g, nr, nc, cw, ch);

    // tick labels: rows every k-th when they do not all fit; columns at the angle chosen above
    ctx.font = `${FONT_PX}px sans-serif`;
    ctx.fillStyle = "#333";
    ctx.textBaseline = "middle";
    ctx.textAlign = "right";
    const rowTicks: string[] = [];
    const kr = labelStep(ch);
    for (let i = 0; i < nr; i += kr) {
      ctx.fillText(rowLabel(i), left - 4, top + (i + 0.5) * ch);
      rowTicks.push(rowLabel(i));
    }
    const colTicks: string[] = [];
    const kc = angle === 90 ? labelStep(cw) : 1;
    for (let j = 0; j < nc; j += kc) {
      const x = left + (j + 0.5) * cw;
      if (angle === 0) {
        ctx.textAlign = "center";
        ctx.textBaseline = "top";
        ctx.fillText(colLabel(j), x, top + ph + 4);
      } else {
        ctx.save();
        ctx.translate(x, top + ph + 4);
        ctx.rotate(-rad);
        ctx.textAlign = "right";
        ctx.textBaseline = "middle";
        ctx.fillText(colLabel(j), 0, 0);
        ctx.restore();
      }
      colTicks.push(colLabel(j));
    }
    el.dataset.rowStep = String(kr);
    el.dataset.colStep = String(kc);
    el.dataset.colAngle = String(angle);
    el.dataset.rowTicks = JSON.stringify(rowTicks);
    el.dataset.colTicks = JSON.stringify(colTicks);
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

    // colour bar: low, middle and high value, the units along its side
    const bx = left + pw + 10;
    const grad = ctx.createLinearGradient(0, top + ph, 0, top);
    STOPS.forEach((c, i) => grad.addColorStop(i / (STOPS.length - 1), c));
    ctx.fillStyle = grad;
    ctx.fillRect(bx, top, 12, ph);
    ctx.fillStyle = "#333";
    ctx.strokeStyle = "#333";
    ctx.lineWidth = 1;
    ctx.font = `${FONT_PX}px sans-serif`;
    ctx.textAlign = "left";
    ctx.textBaseline = "middle";
    tickLabels.forEach((s, i) => {
      const y = top + ph - (i / 2) * ph;
      ctx.beginPath();
      ctx.moveTo(bx + 12, y);
      ctx.lineTo(bx + 16, y);
      ctx.stroke();
      ctx.textBaseline = i === 0 ? "bottom" : i === 2 ? "top" : "middle";
      ctx.fillText(s, bx + 18, y);
    });
    if (model.get("units")) {
      ctx.save();
      ctx.translate(width - FONT_PX / 2 - 3, top + ph / 2);
      ctx.rotate(-Math.PI / 2);
      ctx.textAlign = "center";
      ctx.textBaseline = "middle";
      ctx.fillText(model.get("units"), 0, 0);
      ctx.restore();
    }

    // selection outline
    const sel = model.get("selected") || [];
    if (sel.length === 2 && sel[0] < nr && sel[1] < nc) {
      ctx.strokeStyle = "red";
      ctx.lineWidth = 2;
      ctx.strokeRect(left + sel[1] * cw - 1, top + sel[0] * ch - 1, Math.max(cw, 1) + 2, Math.max(ch, 1) + 2);
    }
    canvas.setAttribute("aria-label", `${model.get("title") || "heatmap"}: ${nr} ${model.get("row_title") || "rows"} × `
      + `${nc} ${model.get("col_title") || "columns"}`);
    el.dataset.plot = `${left},${top},${pw},${ph}`; // CSS px inside the canvas, for tests
    el.dataset.rows = String(nr);
    el.dataset.cols = String(nc);
    el.dataset.numbers = JSON.stringify(numbers);
    el.dataset.selected = sel.length === 2 ? `${sel[0]},${sel[1]}` : "";
    el.dataset.ready = String(nr > 0 && nc > 0);
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
  for (const name of ["row_labels", "col_labels", "row_title", "col_title", "units", "cell_text", "cell_text_colors",
    "selected", "height"] as const) {
    model.on(`change:${name}`, draw);
  }
  return onWidthChange(el, () => draw());
}

export default { render } satisfies WidgetModule<HeatmapTraits>;
