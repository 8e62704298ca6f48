import { describe, expect, it } from "vitest";
import widget, { rgbOf, tickStep, u16, type RasterTraits } from "../widgets/raster.js";
import { contextOf } from "./canvas_stub.js";
import { f32, FakeModel, host, nextFrame, u16bytes } from "./fake_model.js";

function traits(over: Partial<RasterTraits> = {}): RasterTraits {
  return {
    times: null,
    rows: null,
    codes: null,
    n_rows: 4,
    group_labels: ["Exc", "PV"],
    group_colors: ["#ff0000", "#00ff00"],
    group_bands: [[0, 2], [2, 4]],
    tstop_ms: 100,
    t_now_ms: -1,
    title: "",
    height: 260,
    hidden: [],
    picked_row: -1,
    ...over,
  };
}

// happy-dom lays nothing out: the raster is 400 px wide, so the data area is 334 × 226 px.
const W = 400 - 52 - 14;
const H = 260 - 6 - 28;

function rendered(over: Partial<RasterTraits> = {}) {
  const model = new FakeModel(traits(over));
  const el = host();
  widget.render({ model, el });
  const canvas = el.querySelector("canvas")!;
  return { model, el, canvas, ctx: contextOf(canvas) };
}

// The spike image of the last draw, as RGBA of pixel (x, y) of the data area.
function pixelAt(ctx: ReturnType<typeof contextOf>, x: number, y: number) {
  const img = ctx.callsOf("putImageData").at(-1)!.args[0] as ImageData;
  return Array.from(img.data.slice((y * img.width + x) * 4, (y * img.width + x) * 4 + 4));
}

// spikes: (10 ms, row 0, Exc), (50 ms, row 3, PV), and two outside [0, tstop)
const SPIKES = {
  times: f32([10, 50, 150, -1]),
  rows: f32([0, 3, 1, 2]),
  codes: u16bytes([0, 1, 0, 1]),
};

describe("spike raster", () => {
  it("draws each spike inside [0, tstop) in its group's colour", () => {
    const { el, ctx } = rendered(SPIKES);
    expect(el.dataset.spikes).toBe("2");
    expect(el.dataset.plot).toBe(`52,6,${W},${H}`);
    const x0 = Math.floor((10 * W) / 100);
    const y0 = Math.floor(0.5 * (H / 4));
    expect(pixelAt(ctx, x0, y0)).toEqual([255, 0, 0, 255]);
    const x1 = Math.floor((50 * W) / 100);
    const y1 = Math.floor(3.5 * (H / 4));
    expect(pixelAt(ctx, x1, y1)).toEqual([0, 255, 0, 255]);
    expect(pixelAt(ctx, x1 + 20, y1)).toEqual([0, 0, 0, 0]);
    expect(el.dataset.colours).toBe("#ff0000,#00ff00");
  });

  it("hidden groups are not drawn (redrawn on the next frame)", async () => {
    const { el, model, ctx } = rendered(SPIKES);
    model.update({ hidden: [1] });
    expect(el.dataset.draws).toBe("1"); // drawn once per frame, not per trait
    await nextFrame();
    expect(el.dataset.draws).toBe("2");
    expect(el.dataset.spikes).toBe("1");
    expect(pixelAt(ctx, Math.floor((50 * W) / 100), Math.floor(3.5 * (H / 4)))).toEqual([0, 0, 0, 0]);
  });

  it("several traits changed together draw once", async () => {
    const { el, model } = rendered();
    expect(el.dataset.spikes).toBe("0");
    model.update({ ...SPIKES, n_rows: 4, t_now_ms: 20 });
    model.update({ title: "run 1" });
    await nextFrame();
    expect(el.dataset.draws).toBe("2");
    expect(el.dataset.spikes).toBe("2");
    expect(el.querySelector(".bmtl-raster-title")!.textContent).toBe("run 1");
  });

  it("10^5 spikes as single pixels; hiding a group repaints from the kept pixel indices", async () => {
    const n = 100_000;
    const times = Array.from({ length: n }, (_, i) => (i * 100) / n);
    const rows = Array.from({ length: n }, (_, i) => i % 4);
    const codes = rows.map((r) => (r < 2 ? 0 : 1));
    const { el, model } = rendered({ times: f32(times), rows: f32(rows), codes: u16bytes(codes) });
    expect(el.dataset.spikes).toBe(String(n));
    model.update({ hidden: [0] });
    await nextFrame();
    expect(el.dataset.spikes).toBe(String(n / 2));
    model.update({ hidden: [] });
    await nextFrame();
    expect(el.dataset.spikes).toBe(String(n));
  });

  it("labels the time axis with round ticks and the groups by their bands; shows the live time", () => {
    const { ctx } = rendered({ ...SPIKES, t_now_ms: 30 });
    const texts = ctx.callsOf("fillText").map((c) => c.args[0]);
    expect(texts).toEqual(expect.arrayContaining(["0", "50", "100", "time (ms)", "Exc", "PV"]));
    const now = ctx.callsOf("fillRect").find((c) => c.state.fillStyle === "rgba(214, 39, 40, 0.7)")!;
    expect(now.args[0]).toBeCloseTo(52 + 0.3 * W, 6);
    const label = ctx.callsOf("fillText").find((c) => c.args[0] === "PV")!;
    expect(label.state.fillStyle).toBe("rgb(0,255,0)");
  });

  it("a click picks the cell's row and syncs it; the tooltip names the group", () => {
    const { model, canvas, el } = rendered(SPIKES);
    const at = { clientX: 52 + W / 2, clientY: 6 + 2.5 * (H / 4) };
    canvas.dispatchEvent(new MouseEvent("mousemove", at));
    const tip = el.querySelector<HTMLElement>(".bmtl-raster-tooltip")!;
    expect(tip.textContent).toBe("PV · row 2 · 50.0 ms · click: this cell");
    canvas.dispatchEvent(new MouseEvent("click", at));
    expect(model.get("picked_row")).toBe(2);
    expect(model.saved).toEqual([{ picked_row: 2 }]);
    canvas.dispatchEvent(new MouseEvent("click", { clientX: 10, clientY: 10 })); // on the axis labels
    expect(model.saved).toHaveLength(1);
  });

  it("helpers: tick step, colours, uint16 views", () => {
    expect(tickStep(100, 4)).toBe(50);
    expect(tickStep(1000, 5)).toBe(200);
    expect(tickStep(3, 3)).toBe(1);
    expect(tickStep(0.7, 7)).toBeCloseTo(0.1, 12);
    expect(rgbOf("#1f77b4")).toEqual([31, 119, 180]);
    expect(rgbOf(null)).toEqual([68, 68, 68]);
    expect(Array.from(u16(u16bytes([1, 65535])))).toEqual([1, 65535]);
    expect(u16(null)).toHaveLength(0);
  });
});
