import { describe, expect, it, vi } from "vitest";
import widget, { clipLabel, colourRange, columnAngle, fmt, labelStep, type HeatmapTraits } from "../widgets/heatmap_canvas.js";
import { allContexts, contextOf } from "./canvas_stub.js";
import { f32, FakeModel, host } from "./fake_model.js";

function traits(over: Partial<HeatmapTraits> = {}): HeatmapTraits {
  return {
    values: null,
    n_rows: 0,
    n_cols: 0,
    row_labels: [],
    col_labels: [],
    row_title: "",
    col_title: "",
    title: "",
    units: "",
    vmin: null,
    vmax: null,
    cell_text: [],
    cell_text_colors: [],
    selected: [],
    hovered: [],
    height: 400,
    ...over,
  };
}

// A 2 × 3 grid: sources Exc, PV; targets Exc, PV, SST.
const GRID = {
  values: f32([0, 5, 10, Number.NaN, 2.5, 7.5]),
  n_rows: 2,
  n_cols: 3,
  row_labels: ["Exc", "PV"],
  col_labels: ["Exc", "PV", "SST"],
  units: "conn",
};

function rendered(over: Partial<HeatmapTraits> = {}) {
  const model = new FakeModel(traits({ ...GRID, ...over }));
  const el = host();
  widget.render({ model, el });
  const canvas = el.querySelector("canvas")!;
  return { model, el, canvas, ctx: contextOf(canvas) };
}

// The plot area drawn (CSS px) and the centre of cell (r, c) in client coordinates: happy-dom
// lays nothing out, so the canvas sits at (0, 0).
function plotBox(el: HTMLElement) {
  const [left, top, width, height] = el.dataset.plot!.split(",").map(Number);
  return { left, top, width, height };
}
function centreOf(el: HTMLElement, r: number, c: number, nr = 2, nc = 3) {
  const b = plotBox(el);
  return { clientX: b.left + ((c + 0.5) * b.width) / nc, clientY: b.top + ((r + 0.5) * b.height) / nr };
}
const mouse = (type: string, at: { clientX: number; clientY: number }) => new MouseEvent(type, { ...at, bubbles: true });

const texts = (ctx: ReturnType<typeof contextOf>) => ctx.callsOf("fillText").map((c) => c.args[0] as string);

// The cell image (n_cols × n_rows ImageData) painted on the offscreen canvas.
function cellPixels() {
  const put = allContexts.flatMap((c) => c.callsOf("putImageData")).at(-1)!;
  const img = put.args[0] as ImageData;
  return (i: number) => Array.from(img.data.slice(i * 4, i * 4 + 4));
}

describe("canvas heatmap", () => {
  it("paints one viridis block per cell over the finite data range, NaN grey", () => {
    const { el } = rendered();
    expect(el.dataset.rows).toBe("2");
    expect(el.dataset.cols).toBe("3");
    const px = cellPixels();
    expect(px(0)).toEqual([0x44, 0x01, 0x54, 255]); // 0: the low end (#440154)
    expect(px(2)).toEqual([0xfd, 0xe7, 0x25, 255]); // 10: the high end (#fde725)
    expect(px(3)).toEqual([221, 221, 221, 255]); // NaN
    const mid = px(1); // 5: the middle of the map, a teal
    expect(mid[1]).toBeGreaterThan(mid[0]);
    expect(mid[2]).toBeGreaterThan(mid[0]);
  });

  it("vmin/vmax set the colour range and the colour bar's labels", () => {
    const { model, ctx } = rendered({ vmin: 0, vmax: 20 });
    const px = cellPixels();
    expect(px(2)).not.toEqual([0xfd, 0xe7, 0x25, 255]); // 10 is mid-range now
    const texts = () => ctx.callsOf("fillText").map((c) => c.args[0]);
    expect(texts()).toContain("20");
    expect(texts()).toContain("0");
    expect(texts()).toContain("conn");
    ctx.calls.length = 0;
    model.update({ vmax: null, vmin: null, values: f32([1, 2, 3, 4, 5, 6.25]) });
    expect(texts()).toContain("6.25");
    expect(texts()).toContain("1");
    expect(cellPixels()(5)).toEqual([0xfd, 0xe7, 0x25, 255]);
  });

  it("a click on a cell selects it, syncs [row, col] to the kernel and outlines it", () => {
    const { model, el, canvas, ctx } = rendered();
    canvas.dispatchEvent(mouse("click", centreOf(el, 1, 2)));
    expect(model.get("selected")).toEqual([1, 2]);
    expect(model.saved).toEqual([{ selected: [1, 2] }]);
    expect(el.dataset.selected).toBe("1,2");
    const outline = ctx.callsOf("strokeRect").filter((c) => c.state.strokeStyle === "red").at(-1)!;
    const b = plotBox(el);
    expect(outline.args[0]).toBeCloseTo(b.left + (2 * b.width) / 3 - 1, 6);
    expect(outline.args[1]).toBeCloseTo(b.top + b.height / 2 - 1, 6);
  });

  it("a click outside the cells selects nothing", () => {
    const { model, el, canvas } = rendered();
    const b = plotBox(el);
    canvas.dispatchEvent(mouse("click", { clientX: b.left - 5, clientY: b.top + 5 }));
    canvas.dispatchEvent(mouse("click", { clientX: b.left + 5, clientY: b.top + b.height + 1 }));
    expect(model.get("selected")).toEqual([]);
    expect(model.saved).toEqual([]);
  });

  it("a selection set by the kernel is drawn", () => {
    const { model, el } = rendered();
    model.update({ selected: [0, 1] });
    expect(el.dataset.selected).toBe("0,1");
  });

  it("hover syncs the cell once per cell change, shows a tooltip, and clears on leave", () => {
    const { model, el, canvas } = rendered();
    const tip = el.querySelector<HTMLElement>(".bmtl-heatmap-tooltip")!;
    const at = centreOf(el, 0, 1);
    canvas.dispatchEvent(mouse("mousemove", at));
    canvas.dispatchEvent(mouse("mousemove", { clientX: at.clientX + 1, clientY: at.clientY + 1 }));
    expect(model.saved).toEqual([{ hovered: [0, 1] }]);
    expect(tip.textContent).toBe("Exc → PV: 5 conn");
    expect(tip.style.display).toBe("block");
    canvas.dispatchEvent(mouse("mousemove", centreOf(el, 1, 0)));
    expect(tip.textContent).toBe("PV → Exc: – conn");
    expect(model.saved.at(-1)).toEqual({ hovered: [1, 0] });
    canvas.dispatchEvent(mouse("mouseleave", at));
    expect(tip.style.display).toBe("none");
    expect(model.get("hovered")).toEqual([]);
    expect(model.saved).toHaveLength(3);
  });

  it("draws every label when they fit and every k-th when they do not", () => {
    const { el, ctx } = rendered();
    expect(el.dataset.rowStep).toBe("1");
    expect(el.dataset.colStep).toBe("1");
    const texts = ctx.callsOf("fillText").map((c) => c.args[0]);
    expect(texts).toEqual(expect.arrayContaining(["Exc", "PV", "SST"]));

    const n = 200;
    const labels = Array.from({ length: n }, (_, i) => `cell${i}`);
    const big = rendered({ values: f32(new Array(n * n).fill(1)), n_rows: n, n_cols: n, row_labels: labels,
      col_labels: labels });
    const b = plotBox(big.el);
    const kr = Math.ceil(12 / (b.height / n));
    expect(big.el.dataset.rowStep).toBe(String(kr));
    expect(kr).toBeGreaterThan(1);
    const drawn = big.ctx.callsOf("fillText").map((c) => c.args[0]);
    expect(drawn).toContain("cell0");
    expect(drawn).toContain(`cell${kr}`);
    expect(drawn).not.toContain("cell1");
  });

  it("writes each cell's number at its centre in its own colour, where it fits", () => {
    const cell_text = ["0", "5", "10", "–", "2.5", "7.5"];
    const cell_text_colors = ["white", "white", "black", "black", "white", "black"];
    const { el, ctx } = rendered({ cell_text, cell_text_colors });
    const b = plotBox(el);
    for (let i = 0; i < 6; i++) {
      const [r, c] = [Math.floor(i / 3), i % 3];
      const call = ctx.callsOf("fillText").find((k) => k.args[0] === cell_text[i])!;
      expect(call.state.fillStyle).toBe(cell_text_colors[i]);
      expect(call.args[1]).toBeCloseTo(b.left + ((c + 0.5) * b.width) / 3, 6);
      expect(call.args[2]).toBeCloseTo(b.top + ((r + 0.5) * b.height) / 2, 6);
    }
    expect(JSON.parse(el.dataset.numbers!)).toEqual(cell_text.map((t, i) => [Math.floor(i / 3), i % 3, t,
      cell_text_colors[i]]));
  });

  it("numbers that do not fit their cell, or no numbers given, are not drawn", () => {
    const n = 50; // 4 rows × 50 columns of ~9 px: "12.3" (24 px) does not fit, "1" (6 px) does
    const text = Array.from({ length: 4 * n }, (_, i) => (i % 2 ? "12.3" : "1"));
    const { el, ctx } = rendered({ values: f32(new Array(4 * n).fill(1)), n_rows: 4, n_cols: n, row_labels: [],
      col_labels: [], cell_text: text, cell_text_colors: [] });
    expect(texts(ctx)).not.toContain("12.3");
    const drawn = JSON.parse(el.dataset.numbers!) as [number, number, string, string][];
    expect(drawn.length).toBe((4 * n) / 2);
    const rows = rendered({ values: f32(new Array(n * 2).fill(1)), n_rows: n, n_cols: 2, row_labels: [],
      col_labels: [], cell_text: new Array(n * 2).fill("1") }); // rows of ~6 px: lower than the text
    expect(JSON.parse(rows.el.dataset.numbers!)).toEqual([]);
    expect(drawn.every(([, c, t, colour]) => t === "1" && c % 2 === 0 && colour === "black")).toBe(true);
    const none = rendered();
    expect(JSON.parse(none.el.dataset.numbers!)).toEqual([]);
    expect(texts(none.ctx)).not.toContain("7.5");
  });

  it("column labels: horizontal when they fit, else rotated 30°, else vertical every k-th", () => {
    const { el, ctx } = rendered();
    expect(el.dataset.colAngle).toBe("0");
    const b = plotBox(el);
    const sst = ctx.callsOf("fillText").find((k) => k.args[0] === "SST")!;
    expect(sst.args[1]).toBeCloseTo(b.left + (2.5 * b.width) / 3, 6); // under its column, not rotated
    expect(sst.args[2]).toBeCloseTo(b.top + b.height + 4, 6);
    expect(ctx.callsOf("rotate").map((k) => k.args[0])).not.toContain(-Math.PI / 6);

    const grid = (n: number) => ({ values: f32(new Array(2 * n).fill(1)), n_rows: 2, n_cols: n, row_labels: ["a", "b"],
      col_labels: Array.from({ length: n }, (_, j) => `population_${String(j).padStart(2, "0")}`) });
    const mid = rendered(grid(15)); // ~28 px columns, 78 px names
    expect(mid.el.dataset.colAngle).toBe("30");
    expect(mid.ctx.callsOf("rotate").map((k) => k.args[0])).toContain(-Math.PI / 6);
    expect(JSON.parse(mid.el.dataset.colTicks!)).toHaveLength(15); // every name drawn
    expect(plotBox(mid.el).left).toBeGreaterThanOrEqual(78 * Math.cos(Math.PI / 6) - 28 / 2); // the first stays on the canvas
    const dense = rendered(grid(80));
    expect(dense.el.dataset.colAngle).toBe("90");
    expect(Number(dense.el.dataset.colStep)).toBeGreaterThan(1);
    expect(dense.ctx.callsOf("rotate").map((k) => k.args[0])).toContain(-Math.PI / 2);
  });

  it("tick labels drawn, ready flag and the accessible name", () => {
    const { el, canvas } = rendered({ title: "percent [%]", row_title: "source pop_name", col_title: "target pop_name" });
    expect(JSON.parse(el.dataset.rowTicks!)).toEqual(["Exc", "PV"]);
    expect(JSON.parse(el.dataset.colTicks!)).toEqual(["Exc", "PV", "SST"]);
    expect(el.dataset.ready).toBe("true");
    expect(canvas.getAttribute("aria-label")).toBe("percent [%]: 2 source pop_name × 3 target pop_name");
    expect(rendered({ values: f32([]), n_rows: 0, n_cols: 0 }).el.dataset.ready).toBe("false");
  });

  it("white lines between cells large enough, none between small ones", () => {
    const white = (ctx: ReturnType<typeof contextOf>) => ctx.callsOf("stroke").filter((k) => k.state.strokeStyle === "white");
    const { ctx } = rendered();
    expect(white(ctx)).toHaveLength(1);
    expect(ctx.callsOf("moveTo")).toHaveLength(2 + 1 + 3); // 2 column and 1 row separators, 3 colour-bar ticks
    const n = 200;
    const big = rendered({ values: f32(new Array(n * n).fill(1)), n_rows: n, n_cols: n, row_labels: [], col_labels: [] });
    expect(white(big.ctx)).toHaveLength(0);
  });

  it("the colour bar is labelled at its low, middle and high value", () => {
    const { ctx } = rendered({ vmin: 0, vmax: 20 });
    expect(texts(ctx)).toEqual(expect.arrayContaining(["0", "10", "20", "conn"]));
  });

  it("long labels are clipped to 18 characters", () => {
    const { ctx } = rendered({ row_labels: ["a_very_long_population_name", "PV"] });
    const texts = ctx.callsOf("fillText").map((c) => c.args[0]);
    expect(texts).toContain("a_very_long_popul…");
  });

  it("redraws on trait changes and saves a PNG when the kernel asks", () => {
    const { model, el } = rendered();
    const before = Number(el.dataset.drawn);
    model.update({ title: "Exc → PV synapses", row_title: "source" });
    expect(Number(el.dataset.drawn)).toBe(before + 2);
    expect(el.querySelector(".bmtl-heatmap-title")!.textContent).toBe("Exc → PV synapses");
    const click = vi.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(() => {});
    model.emitCustom({ type: "save_png", name: "matrix.png" });
    expect(click).toHaveBeenCalledTimes(1);
    const a = click.mock.contexts[0] as HTMLAnchorElement;
    expect(a.download).toBe("matrix.png");
    expect(a.href).toMatch(/^data:image\/png/);
    model.emitCustom({ type: "other" });
    expect(click).toHaveBeenCalledTimes(1);
    click.mockRestore();
  });

  it("helpers: colour range, label step and number format", () => {
    const get = (vmin: number | null, vmax: number | null) => ({
      get: ((k: keyof HeatmapTraits) => (k === "vmin" ? vmin : k === "vmax" ? vmax : null)) as never,
    });
    expect(colourRange(get(null, null), Float32Array.from([3, Number.NaN, -1]))).toEqual([-1, 3]);
    expect(colourRange(get(null, null), Float32Array.from([Number.NaN]))).toEqual([0, 1]);
    expect(colourRange(get(null, null), Float32Array.from([2, 2]))).toEqual([2, 3]); // never empty
    expect(colourRange(get(0, 50), Float32Array.from([3]))).toEqual([0, 50]);
    expect(labelStep(12)).toBe(1);
    expect(labelStep(5)).toBe(3);
    expect(labelStep(0)).toBe(12e6);
    expect(fmt(3)).toBe("3");
    expect(fmt(0.123456)).toBe("0.123");
    expect(fmt(Number.NaN)).toBe("–");
    expect(columnAngle(40, 30)).toBe(0);
    expect(columnAngle(30, 60)).toBe(30);
    expect(columnAngle(20, 60)).toBe(90);
    expect(clipLabel("short")).toBe("short");
    expect(clipLabel("x".repeat(19))).toBe(`${"x".repeat(17)}…`);
  });
});
